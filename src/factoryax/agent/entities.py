"""Asset and signal mentions resolved against the plant model, in Korean and English.

Nothing here names a particular plant's asset. Each asset's vocabulary comes from its
id, kind, name and Korean name; each signal's from its id, name and aliases. A small
bilingual lexicon maps the words operators use (``프레스``, ``압력``, ``모터전류``) onto the
same canonical tokens, so ``washer pump pressure``, ``세척기 펌프 압력`` and
``wash-01.pump_pressure`` meet in one place.

A mention that does not resolve confidently is reported, never bent onto the nearest
known thing: an equipment word the plant has none of (``welding robot``, ``컴프레서``),
a number the plant's ids do not carry (``press 2``, ``CNC 3호기``) or a measured quantity
the asset lacks (vibration on a packing cell) becomes an *unknown*, which the planner
turns into "cannot answer: unknown asset …".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from factoryax.core import PlantModel

__all__ = [
    "AssetMatch",
    "SignalMatch",
    "kiwi",
    "mentioned_tokens",
    "resolve_assets",
    "resolve_signals",
]

# Synonym groups: the first word is the canonical token. English words match whole words
# (``press`` is not in ``pressure``); Hangul matches inside a word, because particles attach.
_GROUPS: tuple[tuple[str, ...], ...] = (
    ("press", "프레스", "stamping", "스탬핑", "presses"),
    ("washer", "wash", "washing", "세척기", "세척"),
    ("inspection", "inspect", "검사기", "검사"),
    ("packing", "pack", "packaging", "포장"),
    ("robot", "로봇"),
    ("cnc", "씨엔씨", "machining", "가공기", "머시닝"),
    ("pump", "펌프"),
    ("pressure", "압력"),
    ("current", "전류", "amps", "amperage"),
    ("motor", "모터"),
    ("temp", "temperature", "온도", "temps"),
    ("vibration", "진동", "vib"),
    ("power", "전력", "kw", "소비전력"),
    ("flow", "유량", "flowrate"),
    ("speed", "rpm", "회전수", "회전속도", "속도"),
    ("spindle", "스핀들", "주축"),
    ("oil", "오일"),
    ("hydraulic", "유압"),
    ("bearing", "베어링"),
    ("coolant", "절삭유", "쿨런트", "쿨란트", "냉각수"),
    ("water", "세척수"),
    ("bore", "보어", "내경", "구멍"),
    ("diameter", "직경", "지름", "치수"),
)
_COMPOUNDS: dict[str, tuple[str, ...]] = {
    "수온": ("water", "temp"),
    "유온": ("oil", "temp"),
    "유압": ("hydraulic", "pressure"),
}
"""Korean words that name a qualifier and a quantity at once."""

_ASSET_WORDS = {"press", "washer", "inspection", "packing", "robot", "cnc"}
"""Canonical lexicon tokens that name equipment, not quantities."""

MEASURES = ("pressure", "current", "temp", "vibration", "power", "flow", "speed", "diameter")
"""Canonical tokens naming the measured quantity of a signal (the rest qualify it)."""

_STOP = {"cell", "셀", "station", "centre", "center", "machine", "parts", "line", "rms", "01"}

_FOREIGN_EQUIPMENT: tuple[str, ...] = (
    "weld",
    "용접",
    "boiler",
    "보일러",
    "compressor",
    "컴프레서",
    "압축기",
    "conveyor",
    "컨베이어",
    "furnace",
    "oven",
    "오븐",
    "가열로",
    "injection",
    "사출",
    "lathe",
    "grinder",
    "grinding",
    "연삭",
    "연마기",
    "paint",
    "도장",
    "chiller",
    "칠러",
    "forklift",
    "지게차",
    "agv",
    "crane",
    "크레인",
    "mixer",
    "믹서",
    "dryer",
    "건조기",
    "laser",
    "레이저",
    "cutter",
    "절단기",
    "milling",
    "밀링",
    "assembly",
    "조립",
    "heat treat",
    "열처리",
    "plating",
    "도금",
    "molding",
    "moulding",
    "성형기",
    "extruder",
    "압출",
    "palletiz",
    "팔레타이",
    "drill",
    "드릴",
    "sorter",
    "분류기",
    "labeler",
    "라벨러",
    "boring",
    "보링",
    "shear",
    "전단기",
    "bending",
    "절곡",
    "밴딩",
)
"""Generic equipment words: mentioned but absent from the plant → an unknown asset."""


def _word_re(word: str) -> str:
    """A regex for ``word``: whole-word (prefix for stems) in English, substring in Hangul."""
    if re.search(r"[a-z]", word):
        return r"(?<![a-z0-9])" + re.escape(word) + r"(?:e?s)?(?![a-z])"
    return re.escape(word)


def _stem_re(word: str) -> str:
    """Like :func:`_word_re`, but an English stem may continue (``weld`` → ``welding``)."""
    return r"(?<![a-z0-9])" + re.escape(word) if re.search(r"[a-z]", word) else re.escape(word)


@functools.lru_cache(maxsize=1)
def _canon() -> dict[str, str]:
    out: dict[str, str] = {}
    for group in _GROUPS:
        for w in group:
            out[w] = group[0]
    return out


def _canonical(word: str) -> str:
    return _canon().get(word.lower(), word.lower())


def _words(text: str) -> list[str]:
    """Lower-cased words of a plant-model label (``Parts washer``, ``pump_pressure``)."""
    return [w for w in re.split(r"[\s_\-./()]+", text.lower()) if w and not w.isdigit()]


def mentioned_tokens(text: str, extra: Iterable[str] = ()) -> set[str]:
    """Canonical tokens ``text`` mentions: lexicon words, compounds and ``extra`` words.

    Examples:
        >>> sorted(mentioned_tokens("세척기 펌프 압력"))
        ['pressure', 'pump', 'washer']
        >>> sorted(mentioned_tokens("what pressure on the press?"))
        ['press', 'pressure']
    """
    t = text.lower()
    found: set[str] = set()
    words = set(_canon()) | {w.lower() for w in extra}
    for w in words:
        if len(w) > 1 and re.search(_word_re(w), t):
            found.add(_canonical(w))
    for w, toks in _COMPOUNDS.items():
        if w in t:
            found.update(toks)
    return found


def _asset_tokens(plant: PlantModel) -> dict[str, set[str]]:
    """Each asset's canonical vocabulary: id prefix, kind, name and Korean name words."""
    out: dict[str, set[str]] = {}
    for _, a in plant.iter_assets():
        words = _words(a.id) + _words(a.kind) + _words(a.name) + _words(a.name_ko)
        out[a.id] = {_canonical(w) for w in words if w not in _STOP and len(w) > 1}
    return out


def _signal_tokens(signal_id: str, name: str, aliases: Iterable[str]) -> set[str]:
    """A signal's canonical tokens; alias tags (``PRESS_VIB``) add only non-asset words."""
    words = _words(signal_id) + _words(name)
    toks = {_canonical(w) for w in words if w not in _STOP}
    for w in [name, *aliases]:
        toks |= mentioned_tokens(w) - _ASSET_WORDS if w else set()
    return toks


@dataclass
class AssetMatch:
    """Assets a question names: ``candidates`` (equal best, plant order), ``unknown`` mentions."""

    candidates: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    explicit: bool = False


_UNITS_AFTER = (
    r"(?!\s*(?:시간|분|초|시|개|대|일|주|%|h\b|hours?|hrs?|min|minutes?|s\b|pcs|parts|days?"
    r"|points?|점|번째|bar|kw|mm|번?\s*(?:로트|롯트|lot|라인|line)))"
)


def resolve_assets(text: str, plant: PlantModel) -> AssetMatch:
    """Resolves asset mentions in lower-cased ``text`` against ``plant``."""
    t = text.lower()
    assets = _asset_tokens(plant)
    ids = list(assets)
    match = AssetMatch()
    # 1. ids as written, also without the dash or zero padding (press01, PRESS_01, cnc-1).
    for aid in ids:
        m = re.fullmatch(r"([a-z]+)-0*(\d+)", aid)
        loose = rf"(?<![a-z]){m[1]}[\s_\-#]?0*{m[2]}(?!\d)" if m else re.escape(aid)
        if aid in t or re.search(loose, t):
            match.candidates.append(aid)
    if match.candidates:
        match.explicit = True
        return match
    named = re.search(r"\b([a-z]+-\d{2})\b", t)
    if named and not named[1].startswith("line"):
        match.unknown.append(named[1])
        return match
    # 2. words of the assets' names and kinds (one typo allowed when nothing matches).
    vocab = {w for toks in assets.values() for w in toks}
    mentioned = mentioned_tokens(t, extra=vocab)
    if not mentioned & vocab:
        mentioned |= _near_misses(t, vocab)
    scores = {aid: len(toks & mentioned) for aid, toks in assets.items()}
    best = max(scores.values(), default=0)
    if best:
        match.candidates = [aid for aid, s in scores.items() if s == best]
    # 3. numbers the plant's ids do not carry: "press 2", "프레스 2호기", "CNC #3".
    for num in _numbers_named(t, mentioned & vocab):
        if not any(_id_number(aid) == num for aid in match.candidates or ids):
            match.unknown.append(_unknown_label(t, num))
            match.candidates = []
            return match
    # 4. equipment the plant has none of: "welding robot", "컴프레서", "shot blast machine".
    known = vocab | _all_signal_tokens(plant)
    for word in _FOREIGN_EQUIPMENT:
        if re.search(_stem_re(word), t) and _canonical(word) not in known:
            match.unknown.append(_phrase_at(t, word))
            match.candidates = []
            return match
    if unnamed := _unknown_modifier(t, known):
        match.unknown.append(unnamed)
        match.candidates = []
    return match


_EN_HEAD = re.compile(r"\b([a-z]{3,})\s+(?:machines?|robots?|cells?|stations?)\b")
_KO_HEAD = re.compile(r"([\uac00-\ud7a3]{2,})\s*(?:로봇|기계|장비|설비(?!\s*종합))")


@functools.lru_cache(maxsize=1)
def kiwi() -> Any:
    """The shared kiwipiepy analyser (its model ships in a wheel and loads offline)."""
    from kiwipiepy import Kiwi  # type: ignore[import-untyped]  # ships no type hints

    return Kiwi()


def _is_noun(word: str) -> bool:
    """Whether a Korean word is nouns only (``도장``), not a verb form (``높았던``)."""
    return all(tok.tag.startswith(("NN", "SL", "XSN")) for tok in kiwi().tokenize(word))


def _is_noun_in(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is nouns only as analysed in its sentence: alone,
    ``보인`` reads as a noun; after ``이상 징후`` it is the verb 보이다 (showed)."""
    toks = [tok for tok in kiwi().tokenize(text) if start <= tok.start < end]
    return all(tok.tag.startswith(("NN", "SL", "XSN")) for tok in toks)


_NOT_A_NAME = {
    # English determiners and adjectives that come before "machine" without naming one
    "the", "this", "that", "which", "what", "each", "every", "all", "any", "our", "my",
    "your", "their", "one", "first", "last", "slowest", "fastest", "worst", "best",
    "bottleneck", "main", "same", "other", "another", "whole", "entire", "single", "new",
    "old", "busy", "idle", "some", "most", "least", "per", "and", "for", "was", "were",
    "did", "does", "has", "have", "with", "its", "many", "more", "top",
    # Korean
    "어느", "모든", "전체", "해당", "각", "이", "그", "저", "우리", "어떤", "무슨", "전", "다른",
    "가장", "제일", "같은", "주요", "공장", "라인", "어제", "오늘", "그제", "그저께",
    "지난주", "이번주", "지난", "이번", "최근", "오전", "오후", "아침", "야간", "주간", "생산",
    "고장", "문제", "노후", "주력",
}  # fmt: skip


def _unknown_modifier(t: str, known: set[str]) -> str | None:
    """A ``<word> machine|robot|설비`` mention whose word names nothing in the plant."""
    for rx in (_EN_HEAD, _KO_HEAD):
        for m in rx.finditer(t):
            word = m[1]
            if word in _NOT_A_NAME or (
                rx is _KO_HEAD and not (_is_noun(word) and _is_noun_in(t, m.start(1), m.end(1)))
            ):
                continue
            if mentioned_tokens(word) & known or _canonical(word) in known:
                continue
            return m[0].strip()
    return None


_HEAD_OPT = r"(?:\s*(?:cell|셀|station|machine|unit|기계|설비))?"
"""A head noun that may sit between an asset word and its number (``packing cell 2``)."""


def _near_misses(t: str, vocab: set[str]) -> set[str]:
    """Equipment words written with one typo (``washr``, ``프래스``), as canonical tokens.

    English words of five letters or more within one edit (the typed word has four or more
    letters and the same first letter); Korean words of three
    syllables or more with one syllable different. Shorter words are never guessed.
    """
    spellings = [w for w, c in _canon().items() if c in vocab] + sorted(vocab)
    found: set[str] = set()
    for w in spellings:
        if re.fullmatch(r"[a-z]+", w) and len(w) >= 5:
            if any(_one_edit(tok, w) for tok in re.findall(r"[a-z]+", t)):
                found.add(_canonical(w))
        elif _HANGUL_WORD.fullmatch(w) and len(w) >= 3:
            for run in _HANGUL_WORD.findall(t):
                windows = (run[i : i + len(w)] for i in range(len(run) - len(w) + 1))
                if any(sum(a != b for a, b in zip(x, w, strict=True)) == 1 for x in windows):
                    found.add(_canonical(w))
    return found


_HANGUL_WORD = re.compile(r"[\uac00-\ud7a3]+")


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by one insertion, deletion or substitution.

    The first letter must agree (``acking`` is not ``packing``).
    """
    if a == b or a[0] != b[0] or abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < 4:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


_LOT_REF = re.compile(r"(?:lot|로트|롯트)\s*(?:no\.?|number|번호)?\s*#?\s*\d+")


def _numbers_named(t: str, words: set[str]) -> list[int]:
    """Unit numbers: next to an asset word (``press 2``) or marked (``2호기``, ``#2``)."""
    marked = r"(\d{1,2})\s*호기|#\s*(\d{1,2})(?!\d)|\b(?:no\.|unit)\s*(\d{1,2})\b"
    t = _LOT_REF.sub(" ", t)  # "lot #4", "lot no. 5" are lots, not units
    out = [int(m[1] or m[2] or m[3]) for m in re.finditer(marked, t)]
    spelled = [w for w, c in _canon().items() if c in words] + sorted(words)
    for w in spelled:
        pat = _word_re(w) + _HEAD_OPT + r"\s*(?:no\.?\s*|#\s*)?(\d{1,2})(?![\d.])" + _UNITS_AFTER
        out += [int(m[1]) for m in re.finditer(pat, t)]
    return out


def _id_number(asset_id: str) -> int | None:
    m = re.search(r"(\d+)$", asset_id)
    return int(m[1]) if m else None


def _unknown_label(t: str, num: int) -> str:
    m = re.search(rf"(\S+\s*(?:no\.?\s*|#\s*)?0*{num}\s*(?:호기)?)(?!\d)", t)
    return m[1].strip() if m else f"#{num}"


_HEADS = (
    "robot",
    "로봇",
    "machine",
    "기계",
    "설비",
    "장비",
    "cell",
    "셀",
    "unit",
    "station",
    "pump",
)


def _phrase_at(t: str, word: str) -> str:
    """The mention around ``word``, with a following head noun (``welding robot``)."""
    m = re.search(r"(\S*" + re.escape(word) + r"\S*)(\s+\S+)?", t)
    if m is None:
        return word
    head = m[2] and any(m[2].strip().startswith(h) for h in _HEADS)
    return re.sub(r"[?.!,]+$", "", m[1] + (m[2] if head else ""))


def _all_signal_tokens(plant: PlantModel) -> set[str]:
    """Every canonical token of every signal of the plant."""
    return {
        tok
        for _, a in plant.iter_assets()
        for s in a.signals
        for tok in _signal_tokens(s.id, s.name, s.aliases)
    }


@dataclass
class SignalMatch:
    """Signals a question names as ``(asset, signal)``; ``unknown`` when none fits."""

    candidates: list[tuple[str, str]] = field(default_factory=list)
    unknown: str | None = None
    mentioned: bool = False


def resolve_signals(text: str, plant: PlantModel, asset: str | None) -> SignalMatch:
    """Signals of ``asset`` (or any asset) that ``text`` names, most specific first.

    A signal is named by its id, an alias, or its canonical tokens: the measured quantity
    (``pressure``) narrows to the signals measuring it, qualifiers (``pump``, ``motor``)
    narrow further; a qualifier alone (``bore``, ``bearing``) names its signals.
    """
    t = text.lower()
    match = SignalMatch()
    pool = [a for _, a in plant.iter_assets() if asset is None or a.id == asset]
    every = [(a.id, s) for _, a in plant.iter_assets() for s in a.signals]
    exact = [
        (aid, s.id)
        for aid, s in every
        if ("_" in s.id and re.search(_word_re(s.id), t))
        or any(al.lower() in t for al in s.aliases if al)
    ]
    if exact:
        match.mentioned = True
        match.candidates = sorted({c for c in exact if asset is None or c[0] == asset})
        if not match.candidates:
            match.unknown = exact[0][1]
        return match
    vocab = _all_signal_tokens(plant)
    mentioned = mentioned_tokens(t) & vocab
    if not mentioned:
        return match
    match.mentioned = True
    measures = mentioned & set(MEASURES)
    scored: list[tuple[int, str, str]] = []
    for a in pool:
        for s in a.signals:
            toks = _signal_tokens(s.id, s.name, s.aliases)
            measure = toks & set(MEASURES)
            if measures and not measure & measures:
                continue
            hits = len(toks & mentioned)
            if hits:
                scored.append((hits, a.id, s.id))
    best = max((h for h, _, _ in scored), default=0)
    match.candidates = sorted({(aid, sid) for h, aid, sid in scored if h == best})
    if not match.candidates and (measures or asset is not None):
        what = sorted(measures or mentioned)
        match.unknown = "/".join(what) + (f" on {asset}" if asset else "")
    return match
