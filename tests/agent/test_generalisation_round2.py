"""Issue 9, round 2: the failure kinds of the second held-out split, by kind.

Every sentence here is new (none comes from a held-out split): count slots reach the
ranking tools, SPC/anomaly/RUL phrasing picks its analysis, what-if numbers fill the
target value in the schema's unit and the run length, lots are found by bare number or
ordinal, and a vague what-if is asked about rather than run with a default.
"""

from __future__ import annotations

import pytest

from factoryax.agent import Agent
from factoryax.agent.nlu import decisive_intent, fill_slots
from factoryax.agent.plan import WHATIF_PARAMETERS, template_plan
from factoryax.agent.quantities import count, lot_ordinal, parameter, run_hours, target_value
from factoryax.config import Workspace

from .conftest import TODAY

LOTS = [f"line-1-261123T0000-L{i:04d}" for i in range(1, 9)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("top 3 stop reasons", 3),
        ("top-4 loss codes", 4),
        ("the 5 worst causes", 5),
        ("three biggest losses", 3),
        ("정지 원인 상위 3개", 3),
        ("멈춘 이유 두 가지만", 2),
        ("TOP2 비가동", 2),
        ("downtime reasons yesterday", None),
        ("세척기 정지시간", None),
        ("최근 3개월 정지", None),
        ("last 3 hours of stops", None),
    ],
)
def test_count_reads_how_many_items_a_ranking_asks_for(text: str, expected: int | None) -> None:
    """A number counts items only next to a ranking word or a counter (개, 가지)."""
    assert count(text) == expected


def test_count_reaches_the_pareto_and_the_rul_ranking(workspace: Workspace) -> None:
    """``top`` is passed to downtime_pareto and rank_rul, never invented when unsaid."""
    tools = {"downtime_pareto", "rank_rul"}
    for text, intent, top in (
        ("어제 정지 원인 상위 4개", "downtime", 4),
        ("rank the machines by RUL, top 2", "rul", 2),
        ("downtime pareto yesterday", "downtime", None),
    ):
        slots = fill_slots(text, workspace.plant, TODAY, LOTS)
        plan = template_plan(intent, slots, "en", available=tools, all_assets=[])
        assert plan.calls[0].args.get("top") == top, text


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("is the oil temperature in statistical control", "spc"),
        ("유압 관리상태 괜찮아?", "spc"),
        ("any special-cause variation on the flow?", "spc"),
        ("어제 이상감지된 장비", "anomaly"),
        ("which assets did the model flag yesterday", "anomaly"),
        ("what will break down next", "rul"),
        ("설비별 잔여 수명", "rul"),
        ("고장 임박 설비", "rul"),
    ],
)
def test_decisive_phrases_pick_their_analysis_over_the_classifier(text: str, intent: str) -> None:
    """A phrase that names one analysis outright wins over a wrong classifier guess."""
    assert decisive_intent(text, "kpi") == intent


def test_decisive_phrases_leave_documents_and_actions_alone() -> None:
    """Lot documents and state changes keep their intent; an issue needs an issue verb."""
    assert decisive_intent("8D for the anomaly detection finding on lot 3", "eightd") == "eightd"
    assert decisive_intent("L0003 성적서 발행", "issue") == "issue"
    assert decisive_intent("CoA draft for lot 3", "issue") == "certificate"


@pytest.mark.parametrize(
    ("text", "param", "value"),
    [
        ("press mttr from 45 to 30 minutes", "mttr_min", 30.0),
        ("프레스 수리시간 45분에서 30분으로", "mttr_min", 30.0),
        ("raise the mean time between failures from 60 h to 80 h", "mtbf_h", 80.0),
        ("평균 고장 간격 90시간이면", "mtbf_h", 90.0),
        ("mttr 1 hour instead of 30 min", "mttr_min", 60.0),
        ("고장간격 2일로 늘리면", "mtbf_h", 48.0),
        ("performance at 92%", "performance", 0.92),
        ("setup time down to 12 min", "changeover_min", 12.0),
        ("수리시간 1시간 반이면", "mttr_min", 90.0),
        ("repair time of an hour and a half", "mttr_min", 90.0),
    ],
)
def test_what_if_takes_the_target_value_in_the_schema_unit(
    text: str, param: str, value: float
) -> None:
    """With two numbers the target wins; hours, minutes, days and % become the tool's unit."""
    assert parameter(text) == param
    assert target_value(text.lower(), param) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("mttr 25 min over a 12 hour run", 12.0),
        ("수리시간 20분으로 하고 12시간 돌렸을 때", 12.0),
        ("changeover 10 min for a full day", 24.0),
        ("하루 종일 돌리면", 24.0),
        ("changeover 5 min, what's the 8h output?", 8.0),
        ("mtbf 80 hours", None),
    ],
)
def test_run_length_is_read_apart_from_the_value(text: str, hours: float | None) -> None:
    """The simulated run length is its own slot; an MTBF in hours is not a run length."""
    assert run_hours(text)[0] == hours


def test_what_if_plan_carries_target_and_hours_and_rejects_long_runs(
    workspace: Workspace,
) -> None:
    """The plan passes the target and ``hours``; a run past 24 h abstains, not truncates."""
    tools = {"twin_what_if"}
    slots = fill_slots("프레스 MTTR 45분에서 30분으로, 12시간 돌렸을 때", workspace.plant, TODAY)
    plan = template_plan("whatif", slots, "ko", available=tools, all_assets=[])
    assert plan.calls[0].args == {
        "asset": "press-01",
        "parameter": "mttr_min",
        "value": 30.0,
        "hours": 12.0,
    }
    slots = fill_slots("simulate press MTTR 20 min over 48 hours", workspace.plant, TODAY)
    plan = template_plan("whatif", slots, "en", available=tools, all_assets=[])
    assert not plan.calls and "24" in plan.missing[0]


@pytest.mark.parametrize(
    "text", ["what if we improved the press a bit", "프레스 좀 개선하면?", "press MTBF 늘리면?"]
)
def test_vague_what_if_asks_naming_the_parameters(workspace: Workspace, text: str) -> None:
    """No parameter or no value: a clarifying question listing what can vary, no run."""
    slots = fill_slots(text, workspace.plant, TODAY)
    plan = template_plan("whatif", slots, "en", available={"twin_what_if"}, all_assets=[])
    assert not plan.calls and plan.clarify is not None
    assert "MTBF" in plan.clarify and "MTTR" in plan.clarify
    assert plan.options == WHATIF_PARAMETERS


@pytest.mark.parametrize(
    ("text", "lot"),
    [
        ("draft the certificate for lot 6", LOTS[5]),
        ("6번 로트 성적서", LOTS[5]),
        ("로트 6 초안", LOTS[5]),
        ("로트번호 6 성적서", LOTS[5]),
        ("CoA for the sixth lot", LOTS[5]),
        ("여섯 번째 로트 성적서", LOTS[5]),
        ("certificate for L6", LOTS[5]),
        ("reply about lot #4", LOTS[3]),
        ("lot no. 2 certificate", LOTS[1]),
    ],
)
def test_lots_by_bare_number_or_ordinal(workspace: Workspace, text: str, lot: str) -> None:
    """A bare lot number or ordinal resolves to the lot ending in L000N, not to an asset."""
    slots = fill_slots(text, workspace.plant, TODAY, LOTS)
    assert (slots.lot, slots.unknown) == (lot, [])


def test_a_lot_the_plant_lacks_is_unknown_listing_the_lots(workspace: Workspace) -> None:
    """Lot 12 of eight: unknown, with the known lots named."""
    slots = fill_slots("draft the certificate for lot 12", workspace.plant, TODAY, LOTS)
    assert slots.lot is None
    assert slots.unknown and slots.unknown[0].startswith("unknown lot L0012")
    assert "L0008" in slots.unknown[0]
    assert lot_ordinal("the third lot") == 3


def test_rul_question_without_a_model_abstains_citing_nothing(agent: Agent) -> None:
    """The RUL ranking is asked; with no RUL model it abstains and cites no evidence."""
    r = agent.ask("which machine will break down next?", "kim", "engineer")
    assert r.intent == "rul" and r.abstained
    assert r.tool_calls and r.tool_calls[0][0] == "rank_rul"
    assert r.answer.startswith("cannot answer: missing") and "missing missing" not in r.answer
    assert r.citations == [] and "[ev-" not in r.answer
