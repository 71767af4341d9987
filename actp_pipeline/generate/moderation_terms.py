"""Brand-safety vocabulary: the words and claim shapes moderation looks for.

Kept apart from the matching engine (moderation.py) so that a reviewer can read and amend what is forbidden
without reading how it is matched. Everything here was written for this project and is short on purpose:
each entry is a shape of copy an ad platform or a regulator would object to, not an attempt at a complete
list. Term lists are plain words (moderation.py adds the word boundaries and the obfuscation handling);
claim and PII entries are regular-expression sources, matched case-insensitively unless noted.

Each claim category also lists ANCHORS: lowercase literals, one of which every match must contain. They
let moderation skip, at string-search speed, the rows that cannot match (a regex pass over every row is the
slow part); a pattern added without its anchor is never tried, and the cases in
tests/core/moderation_cases.txt catch that.
"""

from __future__ import annotations

# Banned everywhere unless a brand asks otherwise (the list moderation had before it grew categories).
DEFAULT_BANNED: tuple[str, ...] = ("guaranteed", "cure", "miracle", "100% safe", "risk-free", "get rich")

# Common English profanities, no slurs. Inflections (-s, -ed, -ing, -er, -y) and stretched letters are
# handled by the matcher, so only stems are listed.
PROFANITY: tuple[str, ...] = (
    "fuck", "motherfucker", "shit", "bullshit", "bitch", "bastard", "asshole", "ass", "jackass", "dumbass",
    "damn", "goddamn", "crap", "piss", "cunt", "bollocks", "wanker", "twat",
)

# l33t: the characters that stand in for a letter (besides the letter itself, either case).
LEET: dict[str, str] = {"a": "4@", "b": "8", "e": "3", "g": "9", "i": "1!|", "l": "1|", "o": "0", "s": "5$",
                        "t": "7+"}

# ------------------------------------------------------------------------------------------------ health
_CONDITIONS = (r"(?:diseases?|illness(?:es)?|cancers?|diabetes|acne|eczema|psoriasis|rosacea|depression|anxiety|"
               r"insomnia|arthritis|covid(?:-19)?|flu|colds?|infections?|hair\s+loss|baldness|obesity|"
               r"high\s+blood\s+pressure|hypertension|alzheimer'?s|dementia|migraines?|adhd|asthma|allergies)")
HEALTH_ANCHORS: tuple[str, ...] = (
    "cur", "treat", "heal", "prevent", "revers", "fight", "eliminat", "reduce", "clinical", "recommended",
    "approved", "endorsed", "fda", "los", "drop", "shed", "burn", "weight", "fat", "immun", "side")
HEALTH: tuple[str, ...] = (
    r"\b(?:cures?|cured|curing)\b",
    r"\b(?:treats?|treating|treated|heals?|healing|healed|prevents?|preventing|reverses?|reversing|fights?|"
    r"eliminates?|reduces?\s+the\s+risk\s+of)\s+(?:[a-z'-]+\s+){0,2}?" + _CONDITIONS + r"\b",
    r"\bclinically\s+(?:proven|proved|shown|validated)\b",
    r"\b(?:doctors?|dr\.?|dermatologists?|physicians?)[\s-]+(?:recommended|approved|endorsed)\b",
    r"\b(?:recommended|approved|endorsed)\s+by\s+(?:[a-z]+\s+)?(?:doctors|dermatologists|physicians)\b",
    r"\bfda[\s-]+(?:approved|cleared|certified)\b|\bapproved\s+by\s+the\s+fda\b",
    r"\b(?:lose|lost|losing|drop|dropped|shed|burn)\s+(?:up\s+to\s+|over\s+)?\d+(?:\.\d+)?\s*"
    r"(?:lbs?|pounds?|kgs?|kilos?|kilograms?|stones?|inches|dress\s+sizes?)\b"
    r"(?:\s+(?:in|within)\s+(?:just\s+|only\s+)?\d+\s*(?:days?|weeks?|hours?)\b)?",
    r"\blose\s+weight\s+(?:fast|quickly|overnight|without\s+(?:diet|dieting|exercise))\b",
    r"\b(?:burns?|melts?|blasts?)\s+(?:away\s+)?(?:belly\s+|body\s+)?fat\b",
    r"\b(?:boosts?|strengthens?)\s+(?:your\s+)?immun(?:e\s+system|ity)\b",
    r"\b(?:no|zero|without)\s+side[\s-]effects\b",
)

# ------------------------------------------------------------------------------------------------ finance
_MONEY = r"\$\s?\d[\d,.]*k?\+?"
FINANCE_ANCHORS: tuple[str, ...] = (
    "rich", "guarantee", "double", "triple", "10x", "risk", "passive", "$", "daily", "weekly", "monthly",
    "millionaire", "lose")
FINANCE: tuple[str, ...] = (
    r"\bget[\s-]rich(?:[\s-]quick)?\b",
    r"\bguaranteed\s+(?:returns?|income|profits?|payouts?|earnings?|roi|gains?)\b",
    r"\b(?:returns?|profits?|income|gains?)\s+(?:are\s+|is\s+)?guaranteed\b",
    r"\b(?:double|triple|10x)\s+your\s+(?:money|investment|income|savings|cash|portfolio)\b",
    r"\b(?:risk[\s-]?free|no[\s-]risk)\s+(?:investments?|returns?|trading|income|profits?|crypto)\b",
    r"\bpassive\s+income\s+of\s+" + _MONEY,
    _MONEY + r"\s+(?:(?:a|per|every)\s+(?:day|week|month)\s+)?(?:in\s+)?passive\s+income\b",
    r"\b(?:make|earn|making|earning)\s+(?:up\s+to\s+)?" + _MONEY + r"\s*(?:a|per|every|/)\s*(?:day|week|month|hour)\b",
    r"\b\d+(?:\.\d+)?\s?%\s+(?:guaranteed\s+)?(?:daily|weekly|monthly)\s+(?:returns?|profits?|roi)\b",
    r"\bbecome\s+a\s+millionaire\b|\bmillionaire\s+(?:in|by)\s+\d+",
    r"\bcan(?:'|no)?t\s+lose\s+money\b",
)

# ------------------------------------------------------------------------------------------------ guarantees
# A money-back promise is fine with its terms: a period before it ("30-day money-back guarantee") or terms,
# a footnote asterisk or a period right after it.
_TERMS_FOLLOW = r"(?!\s*\*|\s*[(:,\u2014-]?\s*(?:see\s|terms|conditions|t&cs?|within\s+\d|for\s+\d|\d+[\s-]days?))"
GUARANTEE_ANCHORS: tuple[str, ...] = ("guarantee", "100", "money", "never", "every", "fail")
GUARANTEE: tuple[str, ...] = (
    r"\bguaranteed\s+(?:results?|success|to\s+work|weight\s+loss|glow|growth|outcomes?)\b",
    r"\bresults?\s+(?:are\s+)?guaranteed\b",
    r"\b100\s?%\s+(?:guaranteed|effective|success(?:ful)?|results?|satisfaction|proven)\b",
    # (the look-behinds come after "money" so that they only run where "money" is)
    r"\bmoney(?<!day\smoney)(?<!days\smoney)(?<!day-money)[\s-]back\s+guarantee[ds]?\b" + _TERMS_FOLLOW,
    r"\bor\s+your\s+money\s+back\b" + _TERMS_FOLLOW,
    r"\bnever\s+fail(?:s|ed)?\b",
    r"\bworks\s+every\s+(?:single\s+)?time\b",
    r"\bcan(?:'|no)?t\s+fail\b",
    r"\b(?:we|i)\s+guarantee\b",
)

# ------------------------------------------------------------------------------------------------ PII
EMAIL_ANCHORS: tuple[str, ...] = ("@", "dot")
EMAIL: tuple[str, ...] = (
    r"\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b",
    # "name [at] domain [dot] com" and "name at domain dot com"
    r"\b[a-z0-9._%+-]+\s*(?:[\[({]at[\])}]|\s+at\s+)\s*[a-z0-9-]+\s*(?:[\[({]dot[\])}]|\s+dot\s+)\s*"
    r"(?:com|net|org|io|co|info|me|biz|edu)\b",
)
# Separated groups only: a bare run of digits is a phone number only after "call", "text" and the like.
# Candidates are kept when they hold 7 to 15 digits (or a vanity word); see moderation._accept_phone.
# Rows without seven digits close together (or a 1-8xx- vanity number) are skipped; a fast regex, as it
# starts with a digit.
PHONE_TRIGGER = r"\d(?:(?:[\s.()/-]{0,3}\d){6}|[\s.-]8\d\d[\s.-][a-z])"
PHONE: tuple[str, ...] = (
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\w)",  # North America
    r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?!\w)",  # international, +CC or 00CC
    r"(?<![\w+])0\d{2,4}[\s.-]\d{3,4}[\s.-]\d{3,4}(?!\w)",  # national with a trunk 0 (020 7946 0018)
    r"(?<![\w+])1[\s.-]8(?:00|33|44|55|66|77|88)[\s.-](?-i:[A-Z0-9]{3}[\s.-]?[A-Z0-9]{4})(?!\w)",  # 1-800-FLOWERS
    r"\b(?:call|text|tel|phone|whatsapp|sms)\s*(?:us\s+|me\s+)?(?:at\s+|on\s+|:\s*)?\+?\d{7,15}\b",
)
# Street number + one to four Capitalised name words (or ordinals) + a street suffix; and PO boxes. The name
# words are case-sensitive (that is what keeps "5 tips for your drive" out), the suffix is not.
_STREET_SUFFIX = (r"(?i:st|street|ave|avenue|rd|road|blvd|boulevard|ln|lane|dr|drive|ct|court|way|pl|place|ter|"
                  r"terrace|pkwy|parkway|hwy|highway|cir|circle|sq|square|cres|crescent|close|row|alley|trail|plaza)")
ADDRESS_ANCHORS: tuple[str, ...] = ("box",)
ADDRESS_TRIGGER = r"\d[a-z]?(?:-\d{1,4})?\s+[a-z0-9]"  # a number, then a word: rows without one are skipped
ADDRESS: tuple[str, ...] = (
    r"\b\d{1,6}[A-Z]?(?:-\d{1,4})?\s+(?:(?:[A-Z][A-Za-z'.-]*|\d+(?:st|nd|rd|th))\s+){1,4}" + _STREET_SUFFIX
    + r"\.?(?![A-Za-z])",
    r"\b(?i:p\.?\s?o\.?\s?box|post\s+office\s+box)\s+\d+",
)
