"""A check of the parts of an Update we read, before PTB builds objects from it.

PTB's ``de_json`` trusts its input: a ``"text": 5`` or a message without ``chat`` comes through
as an object that fails later, deep in our code. These models hold only the fields the channel
uses (everything else passes through untouched), with the types the Bot API documents, so a body
that is JSON but not an Update is refused with 400 before anything happens.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class User(_Loose):
    id: StrictInt
    is_bot: StrictBool
    language_code: StrictStr | None = None


class Chat(_Loose):
    id: StrictInt
    type: StrictStr


class InlineButton(_Loose):
    text: StrictStr
    callback_data: StrictStr | None = None


class InlineMarkup(_Loose):
    inline_keyboard: list[list[InlineButton]]


class Message(_Loose):
    message_id: StrictInt
    date: StrictInt
    chat: Chat
    from_user: User | None = Field(default=None, alias="from")
    text: StrictStr | None = None
    caption: StrictStr | None = None
    new_chat_members: list[User] | None = None
    reply_to_message: Message | None = None
    reply_markup: InlineMarkup | None = None


class CallbackQuery(_Loose):
    id: StrictStr
    from_user: User = Field(alias="from")
    message: Message | None = None
    data: StrictStr | None = None


class Member(_Loose):
    user: User
    status: StrictStr


class MemberUpdate(_Loose):
    chat: Chat
    from_user: User = Field(alias="from")
    date: StrictInt
    old_chat_member: Member
    new_chat_member: Member


class Update(_Loose):
    update_id: StrictInt
    message: Message | None = None
    edited_message: Message | None = None
    callback_query: CallbackQuery | None = None
    my_chat_member: MemberUpdate | None = None


def check(data: Any) -> None:
    """Raise ``pydantic.ValidationError`` (a ValueError) if the fields we read are not as the
    Bot API sends them."""
    Update.model_validate(data)
