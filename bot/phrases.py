"""The bot's own sentences (not the officers' questions), in plain words, per language.

A flow may override any of them per language under ``messages:``; a missing translation falls
back to English. Placeholders are filled with ``str.format``-style names.

A phone call has no keyboard and no screen, so some sentences have a spoken form (:data:`VOICE`,
"press 1 or say yes" for "reply YES"), used when ``channel`` is ``"voice"``; a flow overrides
one as ``voice_<name>`` (``messages: {en: {voice_confirm: ...}}``). A language without a spoken
form of a sentence uses its written form rather than switch to English mid-call.
"""

from __future__ import annotations

from typing import Any

from bot.schema import Flow

EN: dict[str, str] = {
    "not_understood": "Sorry, I did not understand that.",
    "not_understood_choice": "Sorry, I did not understand. Please reply with a number from the list.",
    "too_short": "Please write a little more.",
    "too_long": "That is too long. Please keep it under {max} characters.",
    "out_of_range": "Please reply with a number from {min} to {max}.",
    "not_integer": "Please reply with a whole number.",
    "not_a_date": "Please reply with a date, for example 3/4/1960.",
    "not_a_date_year": "Please reply with a year, for example 1960.",
    "not_a_date_month": "Please reply with a month and year, for example April 1960.",
    "not_a_postcode": "Please reply with a postcode, for example LE16 7AA.",
    "too_many": "Please choose no more than {max}.",
    "too_few": "Please choose at least {min}.",
    "exclusive": "'{label}' cannot go with other choices. Please choose again.",
    "yes_or_no": "Please reply YES or NO.",
    "confirm": "Did you mean {key}, {label}? Reply YES, or send your answer again.",
    "confirm_plain": "Did you mean {label}? Reply YES, or send your answer again.",
    "offer_skip": "You can reply SKIP to move on, or HELP.",
    "offer_help": "Reply HELP if you are stuck.",
    "cannot_skip": "This question needs an answer, sorry.",
    "skipped": "Skipped.",
    "help": "This is the {title} from {council}. Reply to each question with a number or a few "
    "words. BACK goes back, SKIP skips a question you do not want to answer, STOP stops. "
    "Questions? {contact}",
    "stopped": "You will get no more messages from this survey. Thank you. Text START to join again.",
    "stopped_already": "You have stopped this survey. Text START to join again.",
    "rejoined": "Welcome back. Let's carry on.",
    "welcome_back": "Welcome back. You have answered {answered} of about {total} questions.",
    "finished": "You have finished this survey. Thank you. Reply RESTART to change your answers.",
    "declined": "You did not agree to take part, so we will not ask anything else. Text START to "
    "begin again.",
    "closed": "{closed}",
    "not_open": "This survey is not open yet.",
    "progress": "You are on question {n} of about {total}.",
    "back_none": "You are at the first question.",
    "restart": "Starting again from the beginning.",
    "language_menu": "Reply with a number to choose your language:",
    "language_set": "OK.",
    "unsupported": "Sorry, I can only read text. Please reply in words or numbers.",
    "other_prompt": "Please tell us in a few words.",
    "reminder": "You are {answered} of about {total} questions through the {title}. When you "
    "have a moment:",
    "expired": "Your earlier answers have been saved. Text {keyword} to start again.",
    "menu": "Which survey? Reply with its word:",
    "menu_none": "There are no surveys open at the moment. Thank you.",
    "slow_down": "You have sent a lot of messages. Please wait a minute, then reply again.",
}

# Built-in translations of the sentences every respondent may see. Officers can add or correct
# any of them in a flow's `messages:` without a code change.
GU: dict[str, str] = {
    "not_understood": "માફ કરશો, હું સમજી શક્યો નહીં.",
    "not_understood_choice": "માફ કરશો. કૃપા કરીને યાદીમાંથી નંબર મોકલો.",
    "too_short": "કૃપા કરીને થોડું વધુ લખો.",
    "too_long": "આ બહુ લાંબું છે. કૃપા કરીને {max} અક્ષરોથી ઓછું લખો.",
    "out_of_range": "કૃપા કરીને {min} થી {max} વચ્ચેનો નંબર મોકલો.",
    "not_integer": "કૃપા કરીને પૂર્ણ નંબર મોકલો.",
    "not_a_date": "કૃપા કરીને તારીખ મોકલો, દા.ત. 3/4/1960.",
    "not_a_date_year": "કૃપા કરીને વર્ષ મોકલો, દા.ત. 1960.",
    "not_a_date_month": "કૃપા કરીને મહિનો અને વર્ષ મોકલો, દા.ત. April 1960.",
    "not_a_postcode": "કૃપા કરીને પોસ્ટકોડ મોકલો, દા.ત. LE16 7AA.",
    "too_many": "કૃપા કરીને {max} થી વધુ પસંદ ન કરો.",
    "too_few": "કૃપા કરીને ઓછામાં ઓછા {min} પસંદ કરો.",
    "yes_or_no": "કૃપા કરીને YES અથવા NO મોકલો.",
    "confirm": "શું તમારો મતલબ {key}, {label} છે? YES મોકલો, અથવા ફરી જવાબ મોકલો.",
    "confirm_plain": "શું તમારો મતલબ {label} છે? YES મોકલો, અથવા ફરી જવાબ મોકલો.",
    "offer_skip": "આગળ વધવા SKIP મોકલો, અથવા HELP.",
    "offer_help": "મુશ્કેલી હોય તો HELP મોકલો.",
    "cannot_skip": "માફ કરશો, આ પ્રશ્નનો જવાબ જરૂરી છે.",
    "skipped": "છોડી દીધું.",
    "help": "આ {council} નો {title} છે. દરેક પ્રશ્નનો જવાબ નંબર અથવા થોડા શબ્દોમાં આપો. "
    "BACK પાછળ જાય છે, SKIP પ્રશ્ન છોડે છે, STOP બંધ કરે છે. પ્રશ્નો? {contact}",
    "stopped": "તમને આ સર્વેના વધુ સંદેશા મળશે નહીં. આભાર. ફરી જોડાવા START મોકલો.",
    "stopped_already": "તમે આ સર્વે બંધ કર્યો છે. ફરી જોડાવા START મોકલો.",
    "rejoined": "ફરી સ્વાગત છે. ચાલો આગળ વધીએ.",
    "welcome_back": "ફરી સ્વાગત છે. તમે લગભગ {total} માંથી {answered} પ્રશ્નોના જવાબ આપ્યા છે.",
    "finished": "તમે આ સર્વે પૂરો કર્યો છે. આભાર. જવાબ બદલવા RESTART મોકલો.",
    "declined": "તમે ભાગ લેવા સંમત નથી, તેથી અમે વધુ કંઈ પૂછીશું નહીં. ફરી શરૂ કરવા START મોકલો.",
    "not_open": "આ સર્વે હજી ખુલ્યો નથી.",
    "progress": "તમે લગભગ {total} માંથી પ્રશ્ન {n} પર છો.",
    "back_none": "તમે પહેલા પ્રશ્ન પર છો.",
    "restart": "શરૂઆતથી ફરી શરૂ કરીએ છીએ.",
    "language_menu": "ભાષા પસંદ કરવા નંબર મોકલો:",
    "language_set": "ઠીક છે.",
    "unsupported": "માફ કરશો, હું ફક્ત લખાણ વાંચી શકું છું. કૃપા કરીને શબ્દો અથવા નંબરમાં જવાબ આપો.",
    "other_prompt": "કૃપા કરીને થોડા શબ્દોમાં જણાવો.",
    "reminder": "તમે {title} ના લગભગ {total} માંથી {answered} પ્રશ્નો પૂરા કર્યા છે. સમય મળે ત્યારે:",
    "slow_down": "તમે ઘણા સંદેશા મોકલ્યા છે. કૃપા કરીને એક મિનિટ રાહ જુઓ, પછી ફરી જવાબ આપો.",
}

BUILT_IN: dict[str, dict[str, str]] = {"en": EN, "gu": GU}

# Spoken forms for a phone call (keys: * back, 0 repeat, 9 help; see adapters/voice_twilio).
VOICE_EN: dict[str, str] = {
    "voice_intro": "Hello. This is the {title} from {council}. Answer each question with your "
    "keypad, or by speaking. Press 9 at any time for help. To stop, say stop, or just hang up: "
    "your answers so far are kept, and you can call again to carry on.",
    "not_understood": "Sorry, I did not catch that.",
    "not_understood_choice": "Sorry, I did not catch that. Please press the number of your "
    "answer, or say it.",
    "too_short": "Please say a little more.",
    "too_long": "That is too long. Please say it in fewer words.",
    "out_of_range": "Please key in a number from {min} to {max}, then press the hash key.",
    "not_integer": "Please key in a whole number, then press the hash key.",
    "not_a_date": "Please key in the date as 8 digits: 2 for the day, 2 for the month and 4 for "
    "the year. For example 0 3 0 4 1 9 6 0 for the 3rd of April 1960.",
    "not_a_date_year": "Please key in the year as 4 digits, for example 1 9 6 0.",
    "not_a_date_month": "Please key in the month and the year as 6 digits, for example "
    "0 4 1 9 6 0 for April 1960.",
    "not_a_postcode": "Please say your postcode, for example L E 1 6, 7 A B.",
    "exclusive": "{label} cannot go with other answers. Please choose again.",
    "yes_or_no": "Please press 1 for yes, or 2 for no.",
    "confirm": "Did you say {label}? Press 1 or say yes. Press 2 or say no to answer again.",
    "confirm_plain": "Did you say {label}? Press 1 or say yes. Press 2 or say no to answer again.",
    "offer_skip": "You can say skip to move on, or press 9 for help.",
    "offer_help": "Press 9 if you need help.",
    "help": "This is the {title} from {council}. Answer with your keypad or by speaking. Press "
    "star to go back, 0 to hear the question again, and 9 for help. Say skip to miss out a "
    "question you do not want to answer, text me to carry on by text message, or stop to stop. "
    "You can hang up at any time: your answers are kept. Questions? {contact}",
    "stopped": "You will get no more calls or messages from this survey. Thank you. Goodbye.",
    "stopped_already": "You have stopped this survey. Say start to join again.",
    "welcome_back": "Welcome back. You have answered {answered} of about {total} questions. "
    "Let's carry on.",
    "finished": "You have already finished this survey. Thank you for calling. Goodbye.",
    "declined": "You did not agree to take part, so we will not ask anything else. Thank you. "
    "Goodbye.",
    "language_menu": "Please choose your language.",
    "language_option": "For English, press {key}.",
    "slow_down": "We have had a lot of calls from this number. Please call again in a few "
    "minutes. Goodbye.",
    "voice_silence": "Sorry, I did not hear anything.",
    "voice_bye_silent": "I did not hear anything, so I will end the call now. Your answers so "
    "far are saved: call again any time to carry on. Goodbye.",
    "voice_bye_limit": "This call has gone on for a long time, so I will end it now. Your "
    "answers so far are saved: call again any time to carry on. Goodbye.",
    "voice_hidden": "Your number is hidden, so your answers can only be kept during this call. "
    "To come back to the survey later, call from a number that is not hidden.",
    "voice_to_text": "We have sent you a text message with the next question. Reply to it to "
    "carry on. Thank you for calling. Goodbye.",
    "voice_to_text_failed": "Sorry, we could not send a text message to this phone. Let's "
    "carry on here.",
    "voice_no_text": "Sorry, we cannot send text messages to this phone. Let's carry on here.",
    "voice_texted": "Carrying on from your phone call. Reply to this message with your answer.",
    "voice_choose_survey": "Which survey would you like to answer?",
    "voice_survey_option": "For the {title}, press {key}.",
    "voice_none_open": "There are no surveys open at the moment. Thank you for calling. Goodbye.",
    "voice_press_one": "Press {key} for {label}.",
    "voice_press_yes_no": "Press 1 for yes, or 2 for no.",
    "voice_press_several": "Press the numbers of all that apply, then the hash key.",
    "voice_press_scale": "Press a number from {low} to {high}.",
    "voice_scale_ends": "{low} means {low_label} and {high} means {high_label}.",
    "voice_key_number": "Key in the number, then press the hash key.",
    "voice_key_date": "Key in the date as 8 digits: 2 for the day, 2 for the month and 4 for "
    "the year.",
    "voice_key_month": "Key in the month and the year as 6 digits: 2 for the month and 4 for "
    "the year.",
    "voice_key_year": "Key in the year as 4 digits.",
    "voice_say_postcode": "Please say your postcode.",
    "voice_say_words": "Please say your answer in a few words.",
    "voice_or_skip": "Or say skip.",
}
VOICE_GU: dict[str, str] = {
    "language_option": "ગુજરાતી માટે {key} દબાવો.",
    "voice_press_one": "{label} માટે {key} દબાવો.",
    "voice_press_yes_no": "હા માટે 1 દબાવો, ના માટે 2 દબાવો.",
}
VOICE_OPTION: dict[str, str] = {
    "pa": "ਪੰਜਾਬੀ ਲਈ {key} ਦਬਾਓ।",
    "pl": "Po polsku, naciśnij {key}.",
    "ur": "اردو کے لیے {key} دبائیں۔",
    "bn": "বাংলার জন্য {key} চাপুন।",
    "hi": "हिंदी के लिए {key} दबाएं।",
}
VOICE: dict[str, dict[str, str]] = {
    "en": VOICE_EN,
    "gu": VOICE_GU,
    **{lang: {"language_option": text} for lang, text in VOICE_OPTION.items()},
}


def phrase(
    flow: Flow | None, lang: str, key: str, /, *, channel: str | None = None, **values: Any
) -> str:
    template = None
    if channel == "voice":
        template = _voice_template(flow, lang, key)
    if template is None and flow is not None:
        template = flow.messages.get(lang, {}).get(key)
    if template is None:
        template = BUILT_IN.get(lang, {}).get(key)
    if template is None and flow is not None:
        template = flow.messages.get("en", {}).get(key)
    if template is None:
        template = EN.get(key) or VOICE_EN[key]
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        # An officer's override with a wrong placeholder must not break the conversation.
        return template


def _voice_template(flow: Flow | None, lang: str, key: str) -> str | None:
    """The spoken form of ``key`` in ``lang``: the flow's ``voice_<key>``, the built-in one, or
    (for a language with no spoken form of it) None, so the written form in ``lang`` is used.
    Sentences only a call says (``voice_...``) fall back to English."""
    name = key if key.startswith("voice_") else f"voice_{key}"
    if flow is not None:
        found = flow.messages.get(lang, {}).get(name)
        if found is not None:
            return found
    found = VOICE.get(lang, {}).get(key)
    if found is not None:
        return found
    if lang == "en" or key.startswith("voice_") or key not in EN:
        return VOICE_EN.get(key)
    if flow is not None and key in flow.messages.get(lang, {}):
        return None
    return None if key in BUILT_IN.get(lang, {}) else VOICE_EN.get(key)
