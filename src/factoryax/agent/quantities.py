"""Numbers in questions: how many items (``top 3``), what-if values and run lengths, lot
ordinals (``the sixth lot``, ``세 번째 로트``).

Kept apart from the slot filler because each needs the same care: a number belongs to a
slot only when the words around it say so ("from 45 to 30 min" changes to 30; "over a
12 hour run" is the run length, not the new MTBF), and a number that no slot claims is
left alone rather than guessed into one.
"""

from __future__ import annotations

import re

__all__ = ["count", "lot_ordinal", "parameter", "run_hours", "target_value"]

_EN_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_KO_NUMBERS = {
    "한": 1,
    "하나": 1,
    "두": 2,
    "둘": 2,
    "세": 3,
    "셋": 3,
    "석": 3,
    "네": 4,
    "넷": 4,
    "다섯": 5,
    "여섯": 6,
    "일곱": 7,
    "여덟": 8,
    "아홉": 9,
    "열": 10,
}
_EN_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}

_EN_N = r"(\d{1,2}|" + "|".join(_EN_NUMBERS) + r")"
_KO_N = r"(\d{1,2}|" + "|".join(sorted(_KO_NUMBERS, key=len, reverse=True)) + r")"
_RANK_WORDS = (
    r"worst|biggest|largest|main|major|top|leading|longest|highest|greatest|key|primary"
    r"|most|costliest|heaviest|commonest"
)
_COUNT_PATTERNS = (
    re.compile(r"\b(?:top|worst|biggest|largest|main|major|leading)[\s-]+" + _EN_N + r"\b"),
    re.compile(r"\b" + _EN_N + r"\s+(?:" + _RANK_WORDS + r")\b"),
    re.compile(
        r"\b" + _EN_N + r"\s+(?:\w+\s+)?(?:reasons?|causes?|losses|stop codes|categories)\b"
    ),
    re.compile(r"(?:상위|탑|top|워스트|베스트)\s*" + _KO_N + r"(?:\s*(?:개|가지|건|위|등))?"),
    re.compile(
        r"(?<![\uac00-\ud7a3\d])" + _KO_N + r"\s*(?:개|가지|건)(?!월|\s*월|\s*라인|\s*로트)"
    ),
    re.compile(r"(?<!\d)(\d{1,2})\s*위\s*까지"),
)


def _number(word: str) -> int:
    if word.isdigit():
        return int(word)
    return _EN_NUMBERS.get(word) or _KO_NUMBERS[word]


def count(text: str) -> int | None:
    """How many items a ranking question asks for, or None when it does not say.

    Examples:
        >>> count("top 3 downtime reasons"), count("the three biggest losses")
        (3, 3)
        >>> count("정지 원인 상위 5개"), count("멈춘 이유 두 가지"), count("어제 OEE")
        (5, 2, None)
    """
    t = text.lower()
    for pat in _COUNT_PATTERNS:
        if m := pat.search(t):
            n = _number(m[1])
            if 1 <= n <= 50:
                return n
    return None


_LOT_WORD = r"(?:lot|로트|롯트)"


def lot_ordinal(text: str) -> int | None:
    """The lot number an ordinal names ("the sixth lot", "3rd lot", "세 번째 로트").

    Examples:
        >>> lot_ordinal("certificate for the sixth lot"), lot_ordinal("세번째 로트 성적서")
        (6, 3)
    """
    t = text.lower()
    if m := re.search(r"\b(" + "|".join(_EN_ORDINALS) + r")\s+" + _LOT_WORD, t):
        return _EN_ORDINALS[m[1]]
    if m := re.search(r"\b(\d{1,2})(?:st|nd|rd|th)\s+" + _LOT_WORD, t):
        return int(m[1])
    ko = {"첫": 1, **{k: v for k, v in _KO_NUMBERS.items() if len(k) <= 2}}
    alternatives = "|".join(sorted(ko, key=len, reverse=True))
    if m := re.search(r"(\d{1,2}|" + alternatives + r")\s*번째\s*" + _LOT_WORD, t):
        return int(m[1]) if m[1].isdigit() else ko[m[1]]
    return None


# --------------------------------------------------------------------- what-if
_PARAMETER_WORDS = {
    "mtbf_h": (
        "mtbf",
        "mean time between failure",
        "time between failure",
        "between failures",
        "failure interval",
        "고장 간격",
        "고장간격",
        "고장 주기",
        "고장주기",
        "고장 사이",
    ),
    "mttr_min": (
        "mttr",
        "mean time to repair",
        "time to repair",
        "repair time",
        "time to fix",
        "수리 시간",
        "수리시간",
        "평균 수리",
        "복구 시간",
        "복구시간",
        "수리하는 데",
        "수리에 걸리",
    ),
    "performance": ("performance", "성능", "속도", "speed", "사이클 효율"),
    "changeover_min": (
        "changeover",
        "change-over",
        "change over",
        "setup time",
        "set up time",
        "셋업",
        "기종 변경",
        "기종변경",
        "교체 시간",
        "품종 교체",
        "품종교체",
        "금형 교체",
        "die change",
        "model change",
    ),
}
"""What-if parameters (the ``twin_what_if`` schema's names) and the words that name them."""


def parameter(text: str) -> str | None:
    """The what-if parameter ``text`` names first (MTBF, MTTR, performance, changeover).

    Examples:
        >>> parameter("cut the mean time to repair to 30 min"), parameter("평균 고장 간격 90시간")
        ('mttr_min', 'mtbf_h')
    """
    t = text.lower().replace("-", " ")
    found = [(t.find(w), name) for name, words in _PARAMETER_WORDS.items() for w in words if w in t]
    return min(found)[1] if found else None


_FULL_DAY = re.compile(
    r"full day|whole day|entire day|all day|around the clock|24/7|하루\s*(?:종일|내내|동안|꼬박)"
    r"|종일|하루를?\s*(?:다\s*)?돌|하루\s*가동|하루\s*운전"
)
_RUN = re.compile(
    r"(?:over|for|during|across|in)\s+(?:a|an|the|one)?\s*(\d+(?:\.\d+)?)[\s-]*(?:hours?|hrs?|h)\b"
    r"|(\d+(?:\.\d+)?)[\s-]*(?:hours?|hrs?|h)\s+(?:run|simulation|sim|horizon|window|shift"
    r"|output|production|throughput|parts)"
    r"|(\d+(?:\.\d+)?)\s*시간\s*(?:동안|돌|운전|가동|시뮬|run|을\s*돌|를\s*돌|짜리)"
)


def run_hours(text: str) -> tuple[float | None, str]:
    """The simulated run length in hours, and ``text`` with it removed.

    Examples:
        >>> run_hours("press mttr 25 min over a 12 hour run")[0]
        12.0
        >>> run_hours("수리시간 20분으로 하면 하루 종일 돌리면")[0]
        24.0
    """
    t = text.lower()
    if m := _RUN.search(t):
        return float(m[1] or m[2] or m[3]), t[: m.start()] + " " + t[m.end() :]
    if m := _FULL_DAY.search(t):
        return 24.0, t[: m.start()] + " " + t[m.end() :]
    return None, t


_QTY = re.compile(
    r"(\d+(?:\.\d+)?)\s*(%|퍼센트|percent|시간|hours?|hrs?|h\b|분|minutes?|mins?|min\b"
    r"|일\b|일(?=[로에간이]|\s)|days?)?"
)
_TARGET_BEFORE = re.compile(r"(?:\bto|→|->|~|\binto|\bbe|\bat|\bwere|\bwas|\bof)\s*$")
_TARGET_AFTER = re.compile(r"^\s*(?:으로|로|가\s*되|이\s*되|까지|instead)")
_SOURCE_BEFORE = re.compile(r"(?:\bfrom|instead of|than|\bcurrently|\bnow|현재|지금)\s*$")
_SOURCE_AFTER = re.compile(r"^\s*(?:에서|부터|보다|→|->|~)")
_HOURS = ("시간", "hour", "hours", "hr", "hrs", "h")
_MINUTES = ("분", "minute", "minutes", "min", "mins")
_DAYS = ("일", "day", "days")


_SPOKEN = (
    (re.compile(r"(\d+)\s*시간\s*(\d+)\s*분"), lambda m: f"{int(m[1]) * 60 + int(m[2])}분"),
    (
        re.compile(r"(\d+)\s*(?:h|hours?|hrs?)\s*(?:and\s*)?(\d+)\s*min\w*"),
        lambda m: f"{int(m[1]) * 60 + int(m[2])} min",
    ),
    (re.compile(r"(\d+)\s*시간\s*반"), lambda m: f"{int(m[1]) + 0.5}시간"),
    (re.compile(r"(\d+) and a half hours?"), lambda m: f"{int(m[1]) + 0.5} hours"),
    (re.compile(r"an hour and a half"), lambda m: "1.5 hours"),
    (re.compile(r"half an hour|반\s*시간"), lambda m: "30 min"),
    (re.compile(r"\ban hour\b|한\s*시간"), lambda m: "1 hour"),
)
"""Spoken durations rewritten as one number and unit ("1시간 반" → 1.5시간)."""


def _spoken(text: str) -> str:
    for pat, sub in _SPOKEN:
        text = pat.sub(sub, text)
    return text


def target_value(text: str, param: str) -> float | None:
    """The value ``param`` should take, in the schema's unit (``mttr_min`` in minutes,
    ``mtbf_h`` in hours, ``performance`` as a fraction); with two numbers, the target.

    Examples:
        >>> target_value("mttr 45분에서 30분으로", "mttr_min")
        30.0
        >>> target_value("increase mtbf from 60 h to 80 h", "mtbf_h")
        80.0
        >>> target_value("mttr 1 hour instead of 30 min", "mttr_min")
        60.0
        >>> target_value("평균 수리 시간 1시간 반이면", "mttr_min")
        90.0
    """
    text = _spoken(text)
    found = list(_QTY.finditer(text))
    if not found:
        return None

    def role(m: re.Match[str]) -> int:
        before, after = text[: m.start()], text[m.end() :]
        if _TARGET_AFTER.search(after) or _TARGET_BEFORE.search(before):
            return 0
        if _SOURCE_BEFORE.search(before) or _SOURCE_AFTER.search(after):
            return 2
        return 1

    best = min(found, key=lambda m: (role(m), m.start()))
    value, unit = float(best[1]), (best[2] or "").strip()
    if param == "performance":
        return value / 100 if unit in ("%", "퍼센트", "percent") or value > 1 else value
    if param in ("mttr_min", "changeover_min"):
        return value * 60 if unit in _HOURS else value
    if unit in _MINUTES:
        return value / 60
    return value * 24 if unit in _DAYS else value
