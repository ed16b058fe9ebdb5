"""Offline Korean + English language understanding: intent classifier and slot filler.

Intent: a linear classifier (logistic regression) over two feature sets — character
n-grams (1–4, robust to spacing and spelling in Korean) and morphemes from kiwipiepy
(lemmas of nouns, verbs and foreign words; lower-cased English words). It is trained on
the scenario suite's development split only.

Slots are filled against the plant model and the lake: assets (ids, names, Korean names,
kinds), lines, signals, lots (``L0003``, ``로트 3``), dates (오늘/어제/그저께/지난주/이번주,
today/yesterday/last week, ISO dates, ``11월 23일``) and shifts (주간/야간, day/night).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from factoryax.core import PlantModel

__all__ = ["IntentModel", "Slots", "concepts", "detect_lang", "fill_slots", "morphemes"]

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def detect_lang(text: str) -> str:
    """``ko`` when the text holds Hangul, else ``en``.

    Examples:
        >>> detect_lang("어제 OEE 알려줘"), detect_lang("OEE yesterday?")
        ('ko', 'en')
    """
    return "ko" if _HANGUL.search(text) else "en"


@functools.lru_cache(maxsize=1)
def _kiwi() -> Any:
    from kiwipiepy import Kiwi  # type: ignore[import-untyped]  # ships no type hints

    return Kiwi()


_KEEP = ("NN", "VV", "VA", "SL", "XR", "MAG", "SN")


_CONCEPTS: dict[str, tuple[str, ...]] = {
    "@anomaly": ("이상 징후", "이상 점수", "이상 탐지", "이상 감지", "이상징후", "anomal"),
    "@stop": ("멈", "정지", "stop", "downtime", "손실", "loss", "비가동", "대기"),
    "@spc": ("spc", "관리도", "control chart", "관리이탈", "out-of-control", "signals on"),
    "@capability": ("cpk", "cp ", "ppk", "공정능력", "capability"),
    "@alarm": ("알람", "alarm", "안전 이벤트", "safety event", "가드", "guard"),
    "@ack": ("확인 처리", "확인(ack)", "acknowledg", "ack "),
    "@ledger": ("원장", "ledger", "위변조", "tamper", "블록체인", "무결성", "감사", "audit"),
    "@issue": ("발행", "issue"),
    "@cert": ("성적서", "certificate"),
    "@whatif": (
        "what if",
        "what-if",
        "시뮬레이",
        "simulat",
        "늘리면",
        "줄이면",
        "이면",
        "하면",
        "were ",
    ),
    "@customer": ("고객", "customer", "문의", "inquiry", "회신", "reply"),
    "@8d": ("8d", "클레임", "complaint"),
    "@kpi": (
        "oee",
        "가동률",
        "availability",
        "불량률",
        "defect rate",
        "생산량",
        "양품",
        "폐기",
        "scrap",
        "rework",
        "재작업",
        "효율",
        "품질 지표",
        "quality rate",
        "parts",
    ),
    "@offtopic": (
        "날씨",
        "weather",
        "주가",
        "stock",
        "연봉",
        "salar",
        "뉴스",
        "news",
        "점심",
        "lunch",
    ),
}


def concepts(text: str) -> list[str]:
    """Domain concept tags found in ``text`` (a small ko/en gazetteer).

    Examples:
        >>> concepts("어제 알람 확인 처리해줘")
        ['@alarm', '@ack']
    """
    t = " " + text.lower() + " "
    return [tag for tag, words in _CONCEPTS.items() if any(w in t for w in words)]


def morphemes(text: str) -> list[str]:
    """Content morphemes of ``text`` (Korean lemmas via kiwipiepy; English lower-cased).

    Examples:
        >>> morphemes("불량률이 올랐어")
        ['@kpi', '@kpi', '불량', '률', '오르']
    """
    tags = concepts(text)
    if not _HANGUL.search(text):
        return re.findall(r"[a-z]+[a-z0-9]*", text.lower()) + tags + tags
    out = tags + tags
    for tok in _kiwi().tokenize(text):
        if tok.tag.startswith(_KEEP) or tok.tag == "XSN":
            out.append(tok.form.lower())
    return out


class IntentModel:
    """Intent classifier: char n-grams + morphemes → logistic regression."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.pipeline_: Any = None
        self.labels_: list[str] = []

    def fit(self, texts: Sequence[str], intents: Sequence[str]) -> IntentModel:
        """Trains on ``texts`` labelled ``intents``."""
        from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
        from sklearn.pipeline import FeatureUnion, make_pipeline  # type: ignore[import-untyped]

        features = FeatureUnion(
            [
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, lowercase=True
                    ),
                ),
                (
                    "morph",
                    TfidfVectorizer(analyzer=morphemes, ngram_range=(1, 1), sublinear_tf=True),
                ),
            ]
        )
        self.pipeline_ = make_pipeline(
            features, LogisticRegression(C=20.0, max_iter=2000, random_state=self.seed)
        )
        self.pipeline_.fit(list(texts), list(intents))
        self.labels_ = sorted(set(intents))
        return self

    def predict(self, text: str) -> tuple[str, float]:
        """The most likely intent and its probability."""
        if self.pipeline_ is None:
            raise RuntimeError("IntentModel.predict before fit")
        proba = self.pipeline_.predict_proba([text])[0]
        classes = list(self.pipeline_.classes_)
        best = int(proba.argmax())
        return str(classes[best]), float(proba[best])


# ------------------------------------------------------------------------ slots
@dataclass
class Slots:
    """What a question names, resolved against the plant.

    ``*_candidates`` list every match where the question is ambiguous; ``unknown`` names
    things the question asks about that the plant does not have (e.g. ``line 2``).
    """

    period: str | None = None
    period_stated: bool = False
    asset: str | None = None
    asset_candidates: list[str] = field(default_factory=list)
    signal: str | None = None
    signal_candidates: list[str] = field(default_factory=list)
    lot: str | None = None
    lot_ref: str | None = None
    event_id: str | None = None
    latest: bool = False
    parameter: str | None = None
    value: float | None = None
    unknown: list[str] = field(default_factory=list)


_ASSET_WORDS = {
    "press": ("press", "프레스", "stamping"),
    "cnc": ("cnc", "씨엔씨", "가공기", "machining centre", "machining center"),
    "washer": ("washer", "세척기", "세척"),
    "inspection": ("inspection", "검사기", "검사 장비", "inspect"),
    "robot": ("packing", "포장", "robot", "로봇"),
}

_SIGNAL_WORDS = {
    "vibration_rms": ("vibration", "진동"),
    "bore_diameter": ("bore", "보어", "내경", "diameter", "직경", "치수"),
    "motor_current": ("motor current", "모터 전류"),
    "spindle_current": ("spindle current", "스핀들 전류"),
    "hydraulic_pressure": ("hydraulic", "유압"),
    "oil_temp": ("oil temp", "오일 온도", "유온"),
    "bearing_temp": ("bearing", "베어링"),
    "coolant_temp": ("coolant temp", "절삭유 온도", "쿨런트 온도"),
    "water_temp": ("water temp", "수온", "세척수 온도"),
    "power": ("power", "전력"),
    "temperature": ("temperature", "온도"),
}

_PARAMS = {
    "mtbf_h": ("mtbf", "고장 간격", "고장간격"),
    "mttr_min": ("mttr", "수리 시간", "수리시간"),
    "performance": ("performance", "성능", "속도"),
    "changeover_min": ("changeover", "기종 변경", "기종변경", "교체 시간"),
}


def _has(text: str, words: Iterable[str]) -> bool:
    return any(w in text for w in words)


def _period(text: str, today: dt.date, shifts: Sequence[str]) -> tuple[str | None, bool]:
    t = text.lower()
    day: dt.date | None = None
    week: str | None = None
    if m := re.search(r"(\d{4})-(\d{2})-(\d{2})", t):
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
    elif m := re.search(r"(\d{1,2})\s*월\s*(\d{1,2})\s*일", t):
        day = dt.date(today.year, int(m[1]), int(m[2]))
    elif m := re.search(
        r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})\b", t
    ):
        months = [
            "jan",
            "feb",
            "mar",
            "apr",
            "may",
            "jun",
            "jul",
            "aug",
            "sep",
            "oct",
            "nov",
            "dec",
        ]
        day = dt.date(today.year, months.index(m[1]) + 1, int(m[2]))
    elif _has(t, ("그저께", "그제", "day before yesterday")):
        day = today - dt.timedelta(days=2)
    elif _has(t, ("어제", "yesterday", "전일")):
        day = today - dt.timedelta(days=1)
    elif _has(t, ("오늘", "today", "금일")):
        day = today
    elif _has(t, ("지난주", "지난 주", "last week", "저번 주", "저번주")):
        y, w, _ = (today - dt.timedelta(days=7)).isocalendar()
        week = f"{y}-W{w:02d}"
    elif _has(t, ("이번주", "이번 주", "this week")):
        y, w, _ = today.isocalendar()
        week = f"{y}-W{w:02d}"
    if week:
        return week, True
    stated = day is not None
    if day is None:
        day = today - dt.timedelta(days=1)
    label = day.isoformat()
    for name in shifts:
        words = {"day": ("주간", "day shift", "주간조"), "night": ("야간", "night shift", "야간조")}
        if _has(t, words.get(name, (name + " shift",))):
            return f"{label}/{name}", True
    return label, stated


def fill_slots(text: str, plant: PlantModel, today: dt.date, lots: Sequence[str] = ()) -> Slots:
    """Resolves what ``text`` names against ``plant`` and the lake's ``lots``."""
    t = " ".join(text.lower().split())
    slots = Slots()
    slots.period, slots.period_stated = _period(t, today, [s.name for s in plant.calendar.shifts])
    # lines
    line_ids = [ln.id for ln in plant.lines]
    for m in re.finditer(r"(?:line[\s-]?(\d+)|(\d+)\s*라인|라인\s*(\d+))", t):
        lid = f"line-{m[1] or m[2] or m[3]}"
        if lid not in line_ids:
            slots.unknown.append(lid)
    # assets
    assets = list(plant.iter_assets())
    explicit = [a.id for _, a in assets if a.id in t]
    if explicit:
        slots.asset_candidates = explicit
    else:
        for _, a in assets:
            words = _ASSET_WORDS.get(a.kind or "", ()) + tuple(
                w.lower() for w in (a.name, a.name_ko) if w
            )
            if _has(t, words):
                slots.asset_candidates.append(a.id)
    if len(slots.asset_candidates) == 1:
        slots.asset = slots.asset_candidates[0]
    named = re.search(r"\b([a-z]+-\d{2})\b", t)
    if named and named[1] not in [a.id for _, a in assets] and not named[1].startswith("line"):
        slots.unknown.append(named[1])
    # signals
    found = [sig for sig, words in _SIGNAL_WORDS.items() if _has(t, words)]
    specific = [s for s in found if s != "temperature"]
    if specific:
        found = specific
    pool = [a for _, a in assets if slots.asset is None or a.id == slots.asset]
    cands: list[tuple[str, str]] = []
    for sig in found:
        for a in pool:
            for s in a.signals:
                if s.id == sig or (sig == "temperature" and s.id.endswith("_temp")):
                    cands.append((a.id, s.id))
    if sig_ids := [s.id for _, a in assets for s in a.signals if s.id in t]:
        cands = [(a.id, s.id) for _, a in assets for s in a.signals if s.id in sig_ids]
        cands = [c for c in cands if slots.asset is None or c[0] == slots.asset]
    if found and not cands:
        slots.unknown.append(found[0])
    uniq = sorted(set(cands))
    slots.signal_candidates = [f"{a}.{s}" for a, s in uniq]
    if len(uniq) == 1:
        slots.asset, slots.signal = uniq[0]
    # lots
    lm = re.search(
        r"(line-\d+-\d{6}t\d{4}-l\d{4})|\bl-?(\d{3,4})\b|(?:lot|로트|롯트)\s*(?:no\.?\s*)?#?(\d{1,4})(?!\d)|(\d{1,4})\s*번\s*(?:lot|로트|롯트)",
        t,
    )
    if lm:
        if lm[1]:
            ref = lm[1]
            matches = [lot for lot in lots if lot.lower() == ref]
        else:
            num = int(lm[2] or lm[3] or lm[4])
            ref = f"L{num:04d}"
            matches = [lot for lot in lots if lot.upper().endswith("-" + ref)]
        slots.lot_ref = ref.upper() if not lm[1] else ref
        if len(matches) == 1:
            slots.lot = matches[0]
        else:
            slots.unknown.append(f"lot {slots.lot_ref}")
    # events, what-if
    if ev := re.search(r"\b((?:twin|safety|ack|spc)-[a-z0-9_.-]+)", t):
        slots.event_id = ev[1]
    slots.latest = _has(t, ("latest", "last alarm", "most recent", "최근", "마지막", "방금"))
    for param, words in _PARAMS.items():
        if _has(t, words):
            slots.parameter = param
            break
    if slots.parameter and (
        amount := re.search(r"(\d+(?:\.\d+)?)\s*(%|시간|h\b|hours?|분|min)?", _strip_ids(t))
    ):
        value = float(amount[1])
        if amount[2] == "%":
            value /= 100
        slots.value = value
    return slots


def _strip_ids(t: str) -> str:
    t = re.sub(r"[a-z]+-\d{2}", " ", t)
    return re.sub(r"\d{4}-\d{2}-\d{2}|\d+\s*월\s*\d+\s*일|line[\s-]?\d+|\d+\s*라인", " ", t)
