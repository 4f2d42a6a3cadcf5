"""The XLSForms under ``data/``, as rows: ``python -m tests.bot.forms.make_forms`` rewrites them.

Written from the XLSForm specification's examples (question types, constraints, relevance,
languages, groups, spellings) and from the two sample consultations (the carers survey in English
and Gujarati, the communities survey in English). ``.xls`` copies are made by LibreOffice
(``soffice --headless --convert-to xls``) when it is installed; the committed ones came from it.
``test_forms.py`` checks that the committed workbooks hold exactly these rows.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"

Sheet = list[list[Any]]

SPEC_TYPES: dict[str, Sheet] = {
    "survey": [
        [
            "type",
            "name",
            "label",
            "hint",
            "required",
            "constraint",
            "constraint_message",
            "relevant",
            "default",
            "parameters",
        ],
        ["note", "welcome", "This survey asks about you and your household."],
        ["acknowledge", "agree", "I agree to take part", None, "yes"],
        [
            "text",
            "name",
            "What is your name?",
            "Enter your full name",
            "yes",
            "string-length(.) <= 60",
        ],
        [
            "integer",
            "age",
            "How old are you?",
            None,
            "yes",
            ". <= 150",
            "Age must be less than 150",
        ],
        ["decimal", "weight", "What is your weight in kg?", None, None, ". > 0 and . <= 300"],
        ["date", "dob", "What is your date of birth?", None, None, ". <= today()"],
        ["time", "wake", "What time do you usually wake up?"],
        ["select_one yes_no", "has_child", "Do any of your children live with you?", None, "yes"],
        [
            "integer",
            "num_children",
            "How many?",
            None,
            "yes",
            ". >= 1 and . <= 20",
            None,
            "${has_child} = 'yes'",
        ],
        [
            "select_multiple fruits",
            "fruits",
            "Which fruits do you like?",
            "Pick up to 2",
            None,
            "count-selected(.) <= 2",
        ],
        ["select_one pizza_type or_other", "pizza", "Favourite pizza?"],
        [
            "range",
            "rating",
            "How do you rate this survey?",
            None,
            None,
            None,
            None,
            None,
            None,
            "start=1 end=5 step=1",
        ],
        ["text", "sport", "Favourite sport?", None, None, None, None, None, "football"],
        ["geopoint", "where", "Where are you?"],
        ["calculate", "age_months", None],
        ["start", "started"],
    ],
    "choices": [
        ["list_name", "name", "label"],
        ["yes_no", "yes", "Yes"],
        ["yes_no", "no", "No"],
        ["fruits", "apple", "Apple"],
        ["fruits", "banana", "Banana"],
        ["fruits", "cherry", "Cherry"],
        ["pizza_type", "margherita", "Margherita"],
        ["pizza_type", "hawaiian", "Hawaiian"],
    ],
    "settings": [
        ["form_title", "form_id", "council", "contact_email"],
        ["XLSForm spec types", "spec_types", "Example Council", "survey@example.org"],
    ],
}

SPEC_LANGUAGES: dict[str, Sheet] = {
    "survey": [
        [
            "type",
            "name",
            "label::English (en)",
            "label::French (fr)",
            "hint::English (en)",
            "hint::French (fr)",
            "required",
            "required_message::English (en)",
            "required_message::French (fr)",
            "constraint",
            "constraint_message::English (en)",
            "constraint_message::French (fr)",
            "relevant",
        ],
        [
            "select_one colour",
            "colour",
            "What is your favourite colour?",
            "Quelle est votre couleur préférée ?",
            "Reply with one number",
            "Répondez avec un numéro",
            "yes",
            "Please answer",
            "Merci de répondre",
        ],
        [
            "integer",
            "hours",
            "How many hours a week do you care?",
            "Combien d'heures par semaine ?",
            None,
            None,
            "yes",
            "Please answer",
            "Merci de répondre",
            ". >= 0 and . <= 168",
            "A number from 0 to 168",
            "Un nombre de 0 à 168",
            "${colour} != 'blue'",
        ],
        ["text", "why", "Why ${colour}?", "Pourquoi ${colour} ?"],
    ],
    "choices": [
        ["list_name", "name", "label::English (en)", "label::French (fr)"],
        ["colour", "red", "Red", "Rouge"],
        ["colour", "blue", "Blue", "Bleu"],
        ["colour", "green", "Green", "Vert"],
    ],
    "settings": [
        ["form_title", "form_id", "default_language", "council", "contact_web"],
        [
            "Languages",
            "spec_languages",
            "English (en)",
            "Example Council",
            "https://example.org/survey",
        ],
    ],
}

SPEC_SPELLINGS: dict[str, Sheet] = {
    "Survey": [
        ["Type", "NAME", "Label:English", "Label:Spanish", "Relevance", "Required", "notes"],
        ["select one from colours", "fav", "Favourite colour?", "¿Color favorito?", None, "TRUE"],
        [],
        [None, None, None, None, None, None, "a comment row: only the notes column is filled"],
        [
            "Select_One colours or specify other",
            "second",
            "Second favourite?",
            "¿Segundo?",
            "selected(${fav}, 'red')",
        ],
        [
            "select all that apply from colours",
            "all_liked",
            "All the colours you like?",
            "¿Todos?",
            None,
            "false()",
        ],
        [
            "select_one yesno",
            "more",
            "Anything else?",
            "¿Algo más?",
            "count-selected(${all_liked}) >= 2",
            "yes",
        ],
        ["text", "more_text", "Tell us", "Cuéntanos", "${more} = 'yes'"],
    ],
    "CHOICES": [
        ["List Name", "Name", "Label:English", "Label:Spanish"],
        ["colours", "red", "Red", "Rojo"],
        ["colours", "blue", "Blue", "Azul"],
        ["colours", "green", "Green", "Verde"],
        [],
        ["yesno", "Yes", "Yes", "Sí"],
        ["yesno", "No", "No", "No"],
    ],
    "Settings": [
        ["Form_Title", "Form_ID", "Default_Language", "Council", "Contact_Phone"],
        ["Spellings", "spellings-form", "English", "Example Council", "0116 000 0000"],
    ],
}

SPEC_GROUPS: dict[str, Sheet] = {
    "survey": [
        ["type", "name", "label", "relevant", "appearance", "constraint"],
        ["text", "name", "Your name?"],
        ["integer", "age", "Your age?", None, None, ". >= 0 and . <= 120"],
        ["select_one role", "role", "Which best describes you?"],
        ["begin group", "adult", "Questions for adults", "${age} >= 18", "field-list"],
        ["select_one agree", "p1", "Priority 1 matters. Do you agree?", None, "likert"],
        ["begin_group", "carers", None, "${role} = 'carer' or ${role} = 'both'"],
        [
            "select_multiple support",
            "support",
            "What support do you use?",
            None,
            "minimal",
            "not(selected(., 'none') and count-selected(.) > 1)",
        ],
        [
            "date",
            "since",
            "Since when (month and year)?",
            "count-selected(${support}) >= 1 and not(selected(${support}, 'none'))",
            "month-year",
        ],
        ["end_group"],
        [
            "text",
            "why",
            "Why do you agree?",
            "(${p1} = 'agree' or ${p1} = 'strongly_agree') and string-length(${name}) > 0",
        ],
        ["end group"],
        ["note", "bye", "Thank you ${name}.", "${age} < 18 or ${role} != 'carer'"],
    ],
    "choices": [
        ["list_name", "name", "label"],
        ["role", "carer", "I am a carer"],
        ["role", "cared_for", "Someone cares for me"],
        ["role", "both", "Both"],
        ["agree", "strongly_disagree", "Strongly disagree"],
        ["agree", "disagree", "Disagree"],
        ["agree", "neither", "Neither"],
        ["agree", "agree", "Agree"],
        ["agree", "strongly_agree", "Strongly agree"],
        ["support", "breaks", "Short breaks"],
        ["support", "money", "Money advice"],
        ["support", "none", "None of these"],
    ],
    "settings": [
        ["form_title", "form_id", "council", "contact_email"],
        ["Groups", "groups", "Example Council", "survey@example.org"],
    ],
}

EN, GU = "label::English (en)", "label::Gujarati (gu)"
CARERS_GU: dict[str, Sheet] = {
    "survey": [
        [
            "type",
            "name",
            EN,
            GU,
            "hint::English (en)",
            "hint::Gujarati (gu)",
            "required",
            "relevant",
            "constraint",
            "appearance",
        ],
        [
            "acknowledge",
            "consent",
            "Can we use your answers for the Carers Strategy?",
            "શું અમે તમારા જવાબો કેરર્સ વ્યૂહરચના માટે વાપરી શકીએ?",
            None,
            None,
            "yes",
        ],
        [
            "select_one role",
            "role",
            "Which best describes you? A carer looks after someone who needs help, without pay.",
            "તમારા માટે કયું સાચું છે? સંભાળ રાખનાર એટલે પગાર વગર કોઈની દેખભાળ કરનાર.",
            "Reply with one number.",
            "એક નંબર લખો.",
            "yes",
        ],
        ["begin group", "carers_only", None, None, None, None, None, "${role} = 'carer'"],
        [
            "select_one cared_for",
            "cared_for",
            "Who do you mainly care for?",
            "તમે મુખ્યત્વે કોની સંભાળ રાખો છો?",
            None,
            None,
            "yes",
        ],
        [
            "text",
            "cared_for_other",
            "Please tell us who, in a few words.",
            "કોણ છે, તે થોડા શબ્દોમાં લખો.",
            None,
            None,
            "yes",
            "selected(${cared_for}, 'other')",
            "string-length(.) <= 200",
        ],
        [
            "select_one hours",
            "hours",
            "About how many hours a week do you spend caring?",
            "તમે અઠવાડિયે આશરે કેટલા કલાક સંભાળ રાખો છો?",
            None,
            None,
            "yes",
        ],
        ["end group"],
        [
            "note",
            "priorities_info",
            "Our strategy has 3 priorities. Next, we ask if you agree with each one.",
            "અમારી વ્યૂહરચનામાં 3 મુખ્ય મુદ્દા છે. હવે દરેક વિશે તમારો મત પૂછીશું.",
        ],
        [
            "select_one agree",
            "p1_recognise",
            "Priority 1: Recognising and valuing carers. Do you agree?",
            "મુદ્દો 1: સંભાળ રાખનારાઓને ઓળખવા અને માન આપવું. શું તમે સંમત છો?",
            None,
            None,
            "yes",
            None,
            None,
            "likert",
        ],
        [
            "select_multiple support",
            "support_most",
            "What support matters most for carers? Choose up to 3.",
            "સૌથી જરૂરી મદદ કઈ? 3 સુધી પસંદ કરો.",
            "Reply with up to 3 numbers, like 1 4 6.",
            "વધુમાં વધુ 3 નંબર લખો, જેમ કે 1 4 6.",
            "yes",
            None,
            "count-selected(.) <= 3 and not(selected(., 'none') and count-selected(.) > 1)",
        ],
        [
            "select_one yes_no",
            "know_support",
            "Do you know where to get support as a carer?",
            "સંભાળ રાખનાર તરીકે મદદ ક્યાંથી મળે, તે તમે જાણો છો?",
            None,
            None,
            "yes",
            "${role} = 'carer'",
        ],
        [
            "note",
            "where_help",
            "Help is there for you. Call 0116 305 0004.",
            "તમારા માટે મદદ છે. 0116 305 0004 પર ફોન કરો.",
            None,
            None,
            None,
            "${know_support} = 'no'",
        ],
        [
            "text",
            "anything_else",
            "What else should we do to help carers? Or text SKIP.",
            "સંભાળ રાખનારાઓ માટે અમારે બીજું શું કરવું જોઈએ? અથવા SKIP લખો.",
            None,
            None,
            None,
            None,
            "string-length(.) <= 1000",
        ],
        [
            "select_one age",
            "age",
            "How old are you?",
            "તમારી ઉંમર કેટલી છે?",
            None,
            None,
            None,
            "${role} = 'carer' or ${role} = 'cared_for' or ${role} = 'public'",
        ],
        [
            "text",
            "postcode",
            "What is your postcode? We only keep the first part, like LE16.",
            "તમારો પોસ્ટકોડ શું છે? અમે ફક્ત પહેલો ભાગ રાખીએ છીએ, જેમ કે LE16.",
        ],
    ],
    "choices": [
        ["list_name", "name", EN, GU],
        ["role", "carer", "I am a carer", "હું સંભાળ રાખનાર છું"],
        ["role", "cared_for", "Someone cares for me", "મારી સંભાળ કોઈ રાખે છે"],
        ["role", "organisation", "I answer for an organisation", "સંસ્થા વતી જવાબ"],
        ["role", "public", "Member of the public or other", "જાહેર જનતા કે બીજું"],
        ["cared_for", "parent", "A parent", "માતા કે પિતા"],
        ["cared_for", "partner", "Husband, wife or partner", "પતિ, પત્ની કે જીવનસાથી"],
        ["cared_for", "child", "A child under 18", "18 વર્ષથી નાનું બાળક"],
        ["cared_for", "other", "Someone else", "બીજું કોઈ"],
        ["hours", "0-9", "9 hours or fewer", "9 કલાક કે ઓછા"],
        ["hours", "10-19", "10 to 19 hours", "10 થી 19 કલાક"],
        ["hours", "20-34", "20 to 34 hours", "20 થી 34 કલાક"],
        ["hours", "35-49", "35 to 49 hours", "35 થી 49 કલાક"],
        ["hours", "50+", "50 hours or more", "50 કલાક કે વધુ"],
        ["agree", "strongly_disagree", "Strongly disagree", "ખૂબ અસંમત"],
        ["agree", "disagree", "Disagree", "અસંમત"],
        ["agree", "neither", "Neither agree nor disagree", "ન સંમત, ન અસંમત"],
        ["agree", "agree", "Agree", "સંમત"],
        ["agree", "strongly_agree", "Strongly agree", "ખૂબ સંમત"],
        ["support", "breaks", "Short breaks (respite)", "ટૂંકો આરામ"],
        ["support", "money", "Money and benefits advice", "બેનિફિટ્સ સલાહ"],
        ["support", "emotional", "Emotional support", "ભાવનાત્મક ટેકો"],
        ["support", "none", "None of these", "કોઈ નહીં"],
        ["yes_no", "yes", "Yes", "હા"],
        ["yes_no", "no", "No", "ના"],
        ["age", "16-34", "16 to 34", "16 થી 34"],
        ["age", "35-64", "35 to 64", "35 થી 64"],
        ["age", "65+", "65 or over", "65 કે વધુ"],
        ["age", "prefer_not", "Prefer not to say", "કહેવું નથી"],
    ],
    "settings": [
        [
            "form_title",
            "form_id",
            "default_language",
            "council",
            "contact_phone",
            "contact_email",
            "intro::English (en)",
            "intro::Gujarati (gu)",
            "thanks::English (en)",
            "thanks::Gujarati (gu)",
        ],
        [
            "Carers Strategy survey",
            "carers_strategy",
            "English (en)",
            "Leicestershire County Council",
            "0116 305 0004",
            "carers@leics.gov.uk",
            "Hello from Leicester, Leicestershire and Rutland councils. We want to hear from carers. Text STOP to stop, HELP for help.",
            "નમસ્તે. કાઉન્સિલ કેરર્સ વ્યૂહરચના માટે તમારો મત માંગે છે. બંધ કરવા STOP, મદદ માટે HELP લખો.",
            "Thank you. Your answers will help shape support for carers.",
            "આભાર. તમારા જવાબોથી સંભાળ રાખનારાઓને વધુ સારી મદદ મળશે.",
        ],
    ],
}

COMMUNITIES: dict[str, Sheet] = {
    "survey": [
        ["type", "name", "label", "hint", "required", "relevant", "appearance", "constraint"],
        [
            "acknowledge",
            "consent",
            "Can we use your answers to plan our work with communities?",
            None,
            "yes",
        ],
        ["select_one role or_other", "role", "Which best describes you?", None, "yes"],
        [
            "select_one yn",
            "heard_before",
            "Had you heard of our Communities Approach before today?",
            None,
            "yes",
        ],
        [
            "note",
            "principles_info",
            "Our Communities Approach has 3 principles. Next, we ask if you agree with each one.",
        ],
        [
            "select_one agree",
            "prevention",
            "Principle 1: Prevention. We help communities to stop problems early. Do you agree?",
            None,
            "yes",
            None,
            "likert",
        ],
        [
            "select_multiple involved",
            "involved",
            "Are you involved in your community in any of these ways? Choose all that apply.",
            "Reply with the numbers, like 1 4.",
            "yes",
            None,
            None,
            "not(selected(., 'none') and count-selected(.) > 1)",
        ],
        [
            "select_one more",
            "more_involved",
            "Would you like to be more involved in your community?",
            None,
            "yes",
            "${role} != 'business'",
        ],
        [
            "text",
            "group_help",
            "What help does your group need from the council? Or text SKIP.",
            None,
            None,
            "${role} = 'group'",
            None,
            "string-length(.) <= 1000",
        ],
        [
            "text",
            "postcode",
            "What is your postcode? We only keep the first part, like LE12. Or text SKIP.",
            "For example LE12 7AB. Or text SKIP.",
        ],
    ],
    "choices": [
        ["list_name", "name", "label"],
        ["role", "resident", "A Leicestershire resident"],
        ["role", "group", "A community group or charity"],
        ["role", "business", "A business"],
        ["yn", "yes", "Yes"],
        ["yn", "no", "No"],
        ["agree", "strongly_disagree", "Strongly disagree"],
        ["agree", "disagree", "Disagree"],
        ["agree", "neither", "Neither agree nor disagree"],
        ["agree", "agree", "Agree"],
        ["agree", "strongly_agree", "Strongly agree"],
        ["involved", "volunteering", "Volunteering"],
        ["involved", "faith_group", "A faith group"],
        ["involved", "neighbours", "Helping neighbours"],
        ["involved", "none", "None of these"],
        ["more", "yes", "Yes"],
        ["more", "maybe", "Maybe"],
        ["more", "no", "No"],
    ],
    "settings": [
        ["form_title", "form_id", "council", "contact_email", "contact_web"],
        [
            "Communities Approach survey",
            "communities_approach",
            "Leicestershire County Council",
            "communities@leics.gov.uk",
            "https://www.leicestershire.gov.uk/communities",
        ],
    ],
}

FORMS: dict[str, dict[str, Sheet]] = {
    "spec-types": SPEC_TYPES,
    "spec-languages": SPEC_LANGUAGES,
    "spec-spellings": SPEC_SPELLINGS,
    "spec-groups": SPEC_GROUPS,
    "carers-gujarati": CARERS_GU,
    "communities": COMMUNITIES,
}
XLS = ("spec-spellings", "carers-gujarati")
"""Forms also kept as .xls (Excel 97-2003), as older KoBoToolbox and Excel users save them."""


def write_xlsx(sheets: dict[str, Sheet], path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    for i, (name, rows) in enumerate(sheets.items()):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = name
        for row in rows:
            ws.append(row)
    wb.save(str(path))


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for name, sheets in FORMS.items():
        write_xlsx(sheets, DATA / f"{name}.xlsx")
    soffice = shutil.which("soffice")
    if soffice is None:
        print("soffice not found: .xls files not remade", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name in XLS:
            subprocess.run(
                [
                    soffice,
                    "--headless",
                    "--convert-to",
                    "xls",
                    "--outdir",
                    tmp,
                    str(DATA / f"{name}.xlsx"),
                ],
                check=True,
                capture_output=True,
            )
            shutil.copy(Path(tmp) / f"{name}.xls", DATA / f"{name}.xls")


if __name__ == "__main__":
    main()
