"""Replies as Telegram messages: text plus an inline keyboard, and the callback-data codes.

Everything here is pure (no network, no store) so it is tested on its own.

Callback data (Telegram allows at most 64 UTF-8 bytes; question and choice ids are at most 30
ASCII characters each, by the flow schema):

* ``a:<question>:<value>``      one answer: a choice id, a scale point or ``yes``/``no``
* ``m:<question>:<i>:<mask>``   multi-choice toggle of choice ``i``; ``mask`` (hex) holds the picks
                                shown when the keyboard was drawn, so no state is kept anywhere
* ``d:<question>:<mask>``       multi-choice "Done" with the picks in ``mask``
* ``k:<key>``                   as if the person typed ``key`` (replies with no question, such
                                as the language menu)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit

from bot.models import Reply, ReplyChoice

CALLBACK_MAX_BYTES = 64
LONG_LABEL = 36
"""A label longer than this is cut short on a phone's button: the text then lists the choices."""
MARK = "✓ "
MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)
MAX_MASK_BITS = 200

DONE_LABELS: dict[str, str] = {
    "en": "Done",
    "gu": "થઈ ગયું",
    "pa": "ਹੋ ਗਿਆ",
    "pl": "Gotowe",
    "ur": "ہو گیا",
    "bn": "সম্পন্ন",
}


def done_label(lang: str | None) -> str:
    return "✅ " + DONE_LABELS.get(lang or "en", DONE_LABELS["en"])


# -- callback data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerPress:
    question: str
    value: str


@dataclass(frozen=True)
class TogglePress:
    question: str
    index: int
    mask: int

    @property
    def new_mask(self) -> int:
        return self.mask ^ (1 << self.index)


@dataclass(frozen=True)
class DonePress:
    question: str
    mask: int


@dataclass(frozen=True)
class KeyPress:
    key: str


Press = AnswerPress | TogglePress | DonePress | KeyPress


def fits(data: str) -> bool:
    return 0 < len(data.encode("utf-8")) <= CALLBACK_MAX_BYTES


def answer_data(question: str, value: str) -> str:
    return f"a:{question}:{value}"


def toggle_data(question: str, index: int, mask: int) -> str:
    return f"m:{question}:{index}:{mask:x}"


def done_data(question: str, mask: int) -> str:
    return f"d:{question}:{mask:x}"


def key_data(key: str) -> str:
    return f"k:{key}"


def _mask(raw: str) -> int | None:
    if not raw or len(raw) > MAX_MASK_BITS // 4:
        return None
    try:
        return int(raw, 16)
    except ValueError:
        return None


def parse_press(data: str | None) -> Press | None:
    """What a button press means, or None for data we never sent (old formats, forgeries)."""
    if not data or len(data.encode("utf-8")) > CALLBACK_MAX_BYTES:
        return None
    kind, _, rest = data.partition(":")
    if kind == "a":
        question, sep, value = rest.partition(":")
        return AnswerPress(question, value) if sep and question and value else None
    if kind == "m":
        parts = rest.split(":")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
            return None
        index, mask = int(parts[1]), _mask(parts[2])
        if mask is None or index >= MAX_MASK_BITS:
            return None
        return TogglePress(parts[0], index, mask)
    if kind == "d":
        question, sep, raw = rest.partition(":")
        mask = _mask(raw)
        return DonePress(question, mask) if sep and question and mask is not None else None
    if kind == "k":
        return KeyPress(rest) if rest else None
    return None


def picked(mask: int, n: int) -> list[int]:
    return [i for i in range(n) if mask >> i & 1]


# -- keyboards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One Telegram message to send."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def _listed(reply: Reply) -> bool:
    """Whether the text lists the choices (long labels, or a scale with unlabelled points)."""
    cs = reply.choices
    return any(len(c.label) > LONG_LABEL for c in cs) or (
        any(c.label for c in cs) and any(not c.label for c in cs)
    )


def _button_text(c: ReplyChoice, listed: bool) -> str:
    if listed:
        return f"{c.key} {c.label}".strip()
    return c.label or c.key


def _rows(buttons: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    texts = [b.text for b in buttons]
    if len(buttons) <= 3 and all(len(t) <= 12 for t in texts):
        return [buttons]  # Yes / No, short scales
    if all(len(t) <= 3 for t in texts):
        return [buttons[i : i + 5] for i in range(0, len(buttons), 5)]  # numeric scales
    return [[b] for b in buttons]


def keyboard(reply: Reply, lang: str | None = None, mask: int = 0) -> InlineKeyboardMarkup | None:
    """The inline keyboard for a reply's choices, or None when it cannot carry one."""
    if not reply.choices:
        return None
    listed = _listed(reply)
    q = reply.question
    if reply.multi and q:
        rows = [
            [
                InlineKeyboardButton(
                    (MARK if mask >> i & 1 else "") + _button_text(c, listed),
                    callback_data=toggle_data(q, i, mask),
                )
            ]
            for i, c in enumerate(reply.choices)
        ]
        rows.append([InlineKeyboardButton(done_label(lang), callback_data=done_data(q, mask))])
        datas = [str(b.callback_data) for row in rows for b in row]
        return InlineKeyboardMarkup(rows) if all(fits(d) for d in datas) else None
    buttons = []
    for c in reply.choices:
        data = answer_data(q, c.value) if q else key_data(c.key)
        if not fits(data):
            data = key_data(c.key)  # cannot happen with schema-valid ids; typing still works
        if not fits(data):
            return None
        buttons.append(InlineKeyboardButton(_button_text(c, listed), callback_data=data))
    return InlineKeyboardMarkup(_rows(buttons))


def retoggle(markup: InlineKeyboardMarkup, question: str, mask: int) -> InlineKeyboardMarkup:
    """The same multi-choice keyboard with the picks in ``mask`` ticked (read from the message
    itself, so neither the flow nor any stored state is needed)."""
    rows: list[list[InlineKeyboardButton]] = []
    for row in markup.inline_keyboard:
        out: list[InlineKeyboardButton] = []
        for b in row:
            press = parse_press(b.callback_data if isinstance(b.callback_data, str) else None)
            if isinstance(press, TogglePress) and press.question == question:
                base = b.text.removeprefix(MARK)
                text = (MARK if mask >> press.index & 1 else "") + base
                out.append(
                    InlineKeyboardButton(
                        text, callback_data=toggle_data(question, press.index, mask)
                    )
                )
            elif isinstance(press, DonePress) and press.question == question:
                out.append(InlineKeyboardButton(b.text, callback_data=done_data(question, mask)))
            else:
                out.append(b)
        rows.append(out)
    return InlineKeyboardMarkup(rows)


def picked_labels(markup: InlineKeyboardMarkup | None, press: Press, data: str) -> list[str]:
    """The button labels a press chose, read from the keyboard it was pressed on."""
    if markup is None:
        return []
    buttons = [b for row in markup.inline_keyboard for b in row]
    if isinstance(press, DonePress):
        out = []
        for b in buttons:
            p = parse_press(b.callback_data if isinstance(b.callback_data, str) else None)
            if (
                isinstance(p, TogglePress)
                and p.question == press.question
                and press.mask >> p.index & 1
            ):
                out.append(b.text.removeprefix(MARK))
        return out
    return [b.text for b in buttons if b.callback_data == data]


# -- text ------------------------------------------------------------------------------------


def _chunks(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split at line breaks (then hard) so no message exceeds Telegram's 4096 characters."""
    text = text.strip() or "…"
    out: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        out.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    out.append(text)
    return out


def reply_text(reply: Reply, *, with_keyboard: bool = True) -> str:
    """The message text; the choices are listed in it when the buttons cannot show them whole
    (long labels) or when there are no buttons for them."""
    text = reply.text.rstrip()
    if reply.choices and (not with_keyboard or _listed(reply)):
        text += "\n\n" + "\n".join(f"{c.key} {c.label}".rstrip() for c in reply.choices)
    return text


def render(replies: Sequence[Reply], lang: str | None = None) -> list[Outgoing]:
    """Messages for one step. The last message carries the keyboard of the last reply with
    choices (unless a closing message follows it); other replies go as plain text."""
    keyed: int | None = None
    for n in range(len(replies) - 1, -1, -1):
        if replies[n].choices:
            keyed = n
            break
        if replies[n].kind == "end":
            break
    markup = keyboard(replies[keyed], lang) if keyed is not None else None
    out: list[Outgoing] = []
    for n, reply in enumerate(replies):
        text = reply_text(reply, with_keyboard=n == keyed and markup is not None)
        out += [Outgoing(part) for part in _chunks(text)]
    if markup is not None:
        out[-1] = Outgoing(out[-1].text, markup)
    return out
