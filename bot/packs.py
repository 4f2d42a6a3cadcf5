"""Answer packs: the words people use for the equality and relationship questions every council
asks, so that an officer attaches a pack (``pack: ethnicity``) instead of typing synonyms.

A pack maps standard choice ids to phrases, per language (English applies in every language).
A question that attaches a pack gains the phrases of each of its choices whose id the pack
knows; choices with other ids are untouched, and a pack none of whose ids the question uses is
an error when the flow loads. The ids follow the UK standards: ethnic group in the 19 ONS 2021
census categories and their five broad groups, sex, the census gender-identity question, the GSS
harmonised disability questions, and who a carer cares for.

A phrase is matched as words in that order. ``a + b`` means both words anywhere in the reply
("mum white dad black caribbean" is White and Black Caribbean). Self-descriptions follow the
ONS classification of census write-ins: "Sri Lankan" is Any other Asian background; "Somali" is
African; "Polish" is Any other White background; "Kurdish" is Any other ethnic group.
"""

from __future__ import annotations

from collections.abc import Mapping

Pack = Mapping[str, Mapping[str, tuple[str, ...]]]

_ASIAN_INDIAN = (
    "indian",
    "gujarati",
    "gujrati",
    "gujerati",
    "british indian",
    "indian british",
    "hindu indian",
    "punjabi indian",
    "sikh punjabi",
    "tamil indian",
    "east african indian",
    "kenyan indian",
    "ugandan indian",
    "malawian indian",
    "tanzanian indian",
    "goan",
    "marathi",
    "bengali indian",
)
_ASIAN_PAKISTANI = ("pakistani", "british pakistani", "pakistani british", "kashmiri", "mirpuri")
_ASIAN_BANGLADESHI = ("bangladeshi", "british bangladeshi", "bangladeshi british", "sylheti")
_ASIAN_CHINESE = ("chinese", "british chinese", "hong kong", "hong konger", "cantonese")
_ASIAN_OTHER = (
    "sri lankan",
    "tamil",
    "nepali",
    "nepalese",
    "afghan",
    "filipino",
    "filipina",
    "japanese",
    "korean",
    "vietnamese",
    "thai",
    "malaysian",
    "burmese",
    "sinhalese",
    "other asian",
    "asian other",
)
_BLACK_AFRICAN = (
    "african",
    "black african",
    "somali",
    "somalian",
    "nigerian",
    "ghanaian",
    "eritrean",
    "ethiopian",
    "sudanese",
    "zimbabwean",
    "kenyan",
    "ugandan",
    "congolese",
    "sierra leonean",
    "malawian",
    "zambian",
    "british african",
    "black british african",
)
_BLACK_CARIBBEAN = (
    "caribbean",
    "black caribbean",
    "jamaican",
    "barbadian",
    "bajan",
    "trinidadian",
    "west indian",
    "grenadian",
    "british caribbean",
    "black british caribbean",
)
_WHITE_BRITISH = (
    "british",
    "white british",
    "english",
    "white english",
    "welsh",
    "scottish",
    "scotish",
    "northern irish",
    "uk",
    "brit",
    "white uk",
    "british white",
    "english white",
)
_WHITE_IRISH = ("irish", "white irish")
_WHITE_GYPSY = ("gypsy", "gipsy", "traveller", "irish traveller", "gypsy traveller", "romany")
_WHITE_ROMA = ("roma",)
_WHITE_OTHER = (
    "polish",
    "white polish",
    "romanian",
    "lithuanian",
    "latvian",
    "bulgarian",
    "hungarian",
    "slovak",
    "czech",
    "portuguese",
    "italian",
    "spanish",
    "french",
    "german",
    "greek",
    "ukrainian",
    "russian",
    "european",
    "white european",
    "eastern european",
    "white other",
    "other white",
    "american",
    "australian",
)
_MIXED_WBC = (
    "white and black caribbean",
    "black caribbean and white",
    "white + caribbean",
    "white + jamaican",
    "mixed caribbean",
    "half caribbean",
    "half jamaican",
)
_MIXED_WBA = (
    "white and black african",
    "black african and white",
    "white + african",
    "mixed african",
    "half african",
)
_MIXED_WA = (
    "white and asian",
    "asian and white",
    "white + asian",
    "white + indian",
    "white + pakistani",
    "white + chinese",
    "half indian",
    "half asian",
    "anglo indian",
)
_MIXED_OTHER = ("other mixed", "mixed other", "mixed background")
_ARAB = ("arab", "arabic", "iraqi", "syrian", "yemeni", "egyptian", "moroccan", "libyan")
_ANY_OTHER = ("kurdish", "kurd", "turkish", "iranian", "persian", "latin american")


def _single(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(w for w in words if " " not in w and len(w) > 2)


# A place before a broad group names that group ("Kenyan Asian", "British Asian", "African
# Caribbean"): the census codes the group, whichever country the family came through.
_PLACES = (
    *_single(_BLACK_AFRICAN),
    *_single(_BLACK_CARIBBEAN),
    *_single(_WHITE_BRITISH),
    *_single(_WHITE_OTHER),
    "east african",
    "west african",
    "south african",
    "african",
    "caribbean",
    "european",
    "canadian",
)
_PLACED_ASIAN = tuple(f"{place} asian" for place in _PLACES if place not in ("asian", "other"))

# Mixed heritage told by naming both sides ("dad Nigerian, mum English"): one word of each
# anywhere in the reply. Nationality words that say nothing of ethnic group (British, UK) are
# left out, so "Black British African" is not read as White and Black African.
_WHITE_SIDE = tuple(
    w for w in ("white", "caucasian", *_single(_WHITE_OTHER), "english", "welsh", "scottish",
                "irish", "scotish") if w not in ("european", "american", "australian", "other")
)  # fmt: skip
_ASIAN_SIDE = (
    "asian",
    *_single(_ASIAN_INDIAN),
    *_single(_ASIAN_PAKISTANI),
    *_single(_ASIAN_BANGLADESHI),
    *_single(_ASIAN_CHINESE),
    *(w for w in _single(_ASIAN_OTHER) if w not in ("other",)),
    "punjabi",
    "bengali",
)
_AFRICAN_SIDE = tuple(w for w in _single(_BLACK_AFRICAN) if w not in ("british", "black"))
_CARIBBEAN_SIDE = tuple(w for w in _single(_BLACK_CARIBBEAN) if w not in ("british", "black"))
_ARAB_SIDE = _single(_ARAB)


def _both(left: tuple[str, ...], right: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{a} + {b}" for a in left for b in right if a != b)


_MIXED_WBC_SIDES = _both(_WHITE_SIDE, _CARIBBEAN_SIDE)
_MIXED_WBA_SIDES = _both(_WHITE_SIDE, _AFRICAN_SIDE)
_MIXED_WA_SIDES = _both(_WHITE_SIDE, _ASIAN_SIDE)
_MIXED_OTHER_SIDES = (
    *_both(_ASIAN_SIDE, (*_AFRICAN_SIDE, *_CARIBBEAN_SIDE, *_ARAB_SIDE)),
    *_both(_ARAB_SIDE, (*_AFRICAN_SIDE, *_CARIBBEAN_SIDE, *_WHITE_SIDE)),
)

ETHNICITY: Pack = {
    # The five broad groups (the first of the census' two steps).
    "asian": {
        "en": (
            "asian",
            "asian british",
            "british asian",
            *_PLACED_ASIAN,
            *_ASIAN_INDIAN,
            *_ASIAN_PAKISTANI,
            *_ASIAN_BANGLADESHI,
            *_ASIAN_CHINESE,
            *_ASIAN_OTHER,
            "punjabi",
            "bengali",
        ),
        "gu": ("ભારતીય", "એશિયન", "ગુજરાતી", "bhartiya"),
    },
    "black": {
        "en": ("black", "black british", *_BLACK_AFRICAN, *_BLACK_CARIBBEAN),
        "gu": ("આફ્રિકન", "બ્લેક"),
    },
    "mixed": {
        "en": (
            "mixed",
            "mixed race",
            "mixed ethnicity",
            "dual heritage",
            "multiple",
            "biracial",
            "half white",
            "half black",
            "half asian",
            *_MIXED_WBC,
            *_MIXED_WBA,
            *_MIXED_WA,
            *_MIXED_OTHER,
        ),
        "gu": ("મિશ્ર",),
    },
    "white": {
        "en": (
            "white",
            "caucasian",
            *_WHITE_BRITISH,
            *_WHITE_IRISH,
            *_WHITE_GYPSY,
            *_WHITE_ROMA,
            *_WHITE_OTHER,
        ),
        "gu": ("શ્વેત", "ગોરા", "બ્રિટિશ"),
    },
    "other_ethnic": {"en": ("other", "other ethnic group", *_ARAB, *_ANY_OTHER)},
    # The 19 categories.
    "indian": {"en": _ASIAN_INDIAN, "gu": ("ભારતીય", "ગુજરાતી", "bhartiya")},
    "pakistani": {"en": _ASIAN_PAKISTANI, "gu": ("પાકિસ્તાની",)},
    "bangladeshi": {"en": _ASIAN_BANGLADESHI, "gu": ("બાંગ્લાદેશી",)},
    "chinese": {"en": _ASIAN_CHINESE, "gu": ("ચાઇનીઝ",)},
    "asian_other": {"en": _ASIAN_OTHER},
    "african": {"en": _BLACK_AFRICAN, "gu": ("આફ્રિકન",)},
    "caribbean": {"en": _BLACK_CARIBBEAN, "gu": ("કેરેબિયન",)},
    "black_other": {"en": ("other black", "black other", "black british", "black")},
    "white_black_caribbean": {"en": (*_MIXED_WBC, *_MIXED_WBC_SIDES)},
    "white_black_african": {"en": (*_MIXED_WBA, *_MIXED_WBA_SIDES)},
    "white_asian": {"en": (*_MIXED_WA, *_MIXED_WA_SIDES)},
    "mixed_other": {"en": (*_MIXED_OTHER, *_MIXED_OTHER_SIDES)},
    "british": {"en": _WHITE_BRITISH, "gu": ("બ્રિટિશ", "અંગ્રેજ")},
    "irish": {"en": _WHITE_IRISH},
    "gypsy_traveller": {"en": _WHITE_GYPSY},
    "roma": {"en": _WHITE_ROMA},
    "white_other": {"en": _WHITE_OTHER},
    "arab": {"en": _ARAB, "gu": ("આરબ",)},
    "any_other": {"en": _ANY_OTHER},
}

SEX: Pack = {
    "female": {
        "en": (
            "female",
            "f",
            "woman",
            "women",
            "a woman",
            "im a woman",
            "lady",
            "a lady",
            "girl",
            "femal",
            "femail",
            "fem",
            "feamale",
            "woman female",
            "she",
            "she her",
            "mrs",
            "miss",
            "ms",
            "mum",
            "wife",
        ),
        "gu": ("સ્ત્રી", "મહિલા", "stri", "mahila"),
    },
    "male": {
        "en": (
            "male",
            "m",
            "man",
            "men",
            "a man",
            "im a man",
            "gent",
            "guy",
            "bloke",
            "boy",
            "mail",
            "mal",
            "he",
            "he him",
            "mr",
            "dad",
            "husband",
        ),
        "gu": ("પુરુષ", "પુરૂષ", "purush"),
    },
}

GENDER_IDENTITY: Pack = {
    # "Is the gender you identify with the same as your sex registered at birth?"
    "yes": {
        "en": (
            "same",
            "the same",
            "yes same",
            "yes the same",
            "its the same",
            "cis",
            "cisgender",
            "cis woman",
            "cis man",
            "yes of course",
            "obviously",
            "of course",
        ),
        "gu": ("એક જ", "સરખું", "હા"),
    },
    "no": {
        "en": (
            "different",
            "not the same",
            "no different",
            "trans",
            "transgender",
            "trans woman",
            "trans man",
            "non binary",
            "nonbinary",
            "enby",
            "genderfluid",
            "gender fluid",
            "agender",
            "genderqueer",
        ),
        "gu": ("અલગ", "ના"),
    },
}

DISABILITY: Pack = {
    # A physical or mental health condition or illness lasting 12 months or more.
    "yes": {
        "en": (
            "i do",
            "i have",
            "yes i do",
            "yes i have",
            "disabled",
            "im disabled",
            "registered disabled",
            "long term condition",
            "long term illness",
            "chronic",
            "arthritis",
            "diabetes",
            "diabetic",
            "asthma",
            "copd",
            "cancer",
            "heart condition",
            "heart problems",
            "epilepsy",
            "ms",
            "multiple sclerosis",
            "parkinsons",
            "fibromyalgia",
            "depression",
            "anxiety",
            "mental health",
            "ptsd",
            "bipolar",
            "autism",
            "autistic",
            "adhd",
            "bad back",
            "back pain",
            "chronic pain",
            "stroke",
            "blind",
            "deaf",
            "partially sighted",
            "hard of hearing",
            "mobility",
            "wheelchair",
            "dementia",
            "kidney",
            "high blood pressure",
            "long covid",
            "me cfs",
            "crohns",
            "learning disability",
        ),
        "gu": ("હા", "છે", "ડાયાબિટીસ", "બીમારી"),
    },
    "no": {
        "en": (
            "none",
            "nothing",
            "no i dont",
            "i dont",
            "not me",
            "healthy",
            "fit and well",
            "fit and healthy",
            "no conditions",
            "no health problems",
            "no illness",
            "not disabled",
        ),
        "gu": ("ના", "નથી", "નહીં"),
    },
}

DISABILITY_IMPACT: Pack = {
    "a_lot": {
        "en": (
            "a lot",
            "yes a lot",
            "lots",
            "loads",
            "alot",
            "very much",
            "very",
            "massively",
            "hugely",
            "greatly",
            "badly",
            "severely",
            "quite a lot",
            "a great deal",
            "big time",
            "all the time",
            "totally",
            "really",
            "seriously",
        ),
        "gu": ("ઘણી", "ખૂબ", "ghani", "khub"),
    },
    "a_little": {
        "en": (
            "a little",
            "yes a little",
            "a bit",
            "bit",
            "a little bit",
            "little",
            "slightly",
            "somewhat",
            "some",
            "mildly",
            "not much",
            "not a lot",
            "now and then",
            "sometimes",
            "some days",
            "occasionally",
            "a little yes",
        ),
        "gu": ("થોડી", "થોડું", "thodi", "thodu"),
    },
    "not_at_all": {
        "en": (
            "not at all",
            "no",
            "nope",
            "no it doesnt",
            "it doesnt",
            "doesnt",
            "no not at all",
            "not",
            "none",
            "never",
            "no effect",
            "no difference",
        ),
        "gu": ("જરા પણ નહીં", "ના", "નહીં", "jara pan nahi"),
    },
}

_SON_DAUGHTER = (
    "son",
    "daughter",
    "my son",
    "my daughter",
    "child",
    "my child",
    "kid",
    "my kid",
    "boy",
    "girl",
    "lad",
    "step son",
    "stepson",
    "step daughter",
    "stepdaughter",
    "disabled son",
    "disabled daughter",
    "autistic son",
    "autistic daughter",
)

RELATIONSHIP: Pack = {
    "parent": {
        "en": (
            "mum",
            "mam",
            "mom",
            "mother",
            "mummy",
            "ma",
            "dad",
            "father",
            "daddy",
            "pa",
            "parent",
            "parents",
            "my mum",
            "my dad",
            "mum and dad",
            "elderly mum",
            "elderly mother",
            "elderly father",
            "elderly parent",
            "step mum",
            "stepmother",
            "step dad",
            "stepfather",
        ),
        "gu": ("માતા", "પિતા", "મા", "બા", "બાપુજી", "મમ્મી", "પપ્પા", "maa", "ba", "bapuji"),
    },
    "partner": {
        "en": (
            "husband",
            "hubby",
            "hubbie",
            "wife",
            "wifey",
            "partner",
            "spouse",
            "other half",
            "fiance",
            "fiancee",
            "boyfriend",
            "girlfriend",
            "missus",
            "mrs",
            "my husband",
            "my wife",
            "my partner",
            "civil partner",
            "the wife",
            "the husband",
        ),
        "gu": ("પતિ", "પત્ની", "જીવનસાથી", "pati", "patni"),
    },
    "child": {"en": (*_SON_DAUGHTER, "baby", "toddler", "little boy", "little girl", "teenager")},
    "adult_child": {"en": (*_SON_DAUGHTER, "adult son", "adult daughter", "grown up son")},
    "relative": {
        "en": (
            "nan",
            "nana",
            "nanna",
            "gran",
            "granny",
            "grandma",
            "grandmother",
            "grandad",
            "grandpa",
            "grandfather",
            "grandparent",
            "grandson",
            "granddaughter",
            "grandchild",
            "grandchildren",
            "brother",
            "sister",
            "bro",
            "sis",
            "sibling",
            "aunt",
            "auntie",
            "aunty",
            "uncle",
            "cousin",
            "niece",
            "nephew",
            "in law",
            "mother in law",
            "father in law",
            "mum in law",
            "dad in law",
            "son in law",
            "daughter in law",
            "sister in law",
            "brother in law",
            "relative",
            "family member",
            "step brother",
            "step sister",
        ),
        "gu": ("દાદી", "દાદા", "નાની", "નાના", "ભાઈ", "બહેન", "સાસુ", "સસરા", "dadi", "dada"),
    },
    "friend": {
        "en": (
            "friend",
            "a friend",
            "my friend",
            "mate",
            "pal",
            "best friend",
            "neighbour",
            "neighbor",
            "next door",
            "next door neighbour",
            "the lady next door",
            "the man next door",
            "someone from church",
        ),
        "gu": ("મિત્ર", "પાડોશી", "mitra", "padoshi"),
    },
}

PACKS: dict[str, Pack] = {
    "ethnicity": ETHNICITY,
    "sex": SEX,
    "gender_identity": GENDER_IDENTITY,
    "disability": DISABILITY,
    "disability_impact": DISABILITY_IMPACT,
    "relationship": RELATIONSHIP,
}


def pack_phrases(names: tuple[str, ...], choice_id: str, langs: tuple[str, ...]) -> list[str]:
    """The phrases the packs ``names`` give ``choice_id`` in ``langs`` (and English)."""
    out: list[str] = []
    for name in names:
        per_lang = PACKS[name].get(choice_id, {})
        for lang in (*langs, "en"):
            out.extend(per_lang.get(lang, ()))
    return out
