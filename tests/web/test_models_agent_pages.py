"""The model registry and assistant pages in headless Chromium (Debian's, via Playwright)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from factoryax.agent import AgentConfig
from factoryax.api.routers.agent import close_agent, configure_agent
from factoryax.detect import DemoReport, fit_and_validate_demo
from tests.api.conftest import Served, stop
from tests.api.test_models_agent import reference_day, serve_fixed_plant
from tests.web.test_dashboard import _go, _page, _shot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plant(live_plant: Served) -> Iterator[tuple[Served, DemoReport]]:
    """The live plant with one gated anomaly model per asset and an agent whose "today" is
    the day after its data."""
    with live_plant.ctx.write_lock:
        report = fit_and_validate_demo(live_plant.ws, write_scores=False)
    configure_agent(live_plant.ctx, AgentConfig(today=reference_day(live_plant.ws)))
    yield live_plant, report
    close_agent(live_plant.ctx)


@pytest.fixture(scope="module")
def models_plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, DemoReport]]:
    """A fixed simulated day whose backtests hold per-shift figures (some models pass the
    gate, some fail), served on loopback."""
    served, report = serve_fixed_plant(tmp_path_factory.mktemp("models-web"))
    yield served, report
    stop(served)


def _korean(page: Any) -> None:
    """Switches to Korean and waits until the current page has re-rendered (a render still
    running when the route changes would paint over the next page)."""
    if page.evaluate("document.documentElement.lang") != "ko":
        page.click("#lang-toggle")
        page.wait_for_selector("#page[data-rendered='1']")
    page.wait_for_function("document.documentElement.lang === 'ko'")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _ask(page: Any, text: str) -> Any:
    """Asks on the chat page and returns the new turn once its answer is painted."""
    n = page.locator(".turn").count()
    page.fill("#chat-input", text)
    page.click("#chat-send")
    turn = page.locator(".turn").nth(n)
    turn.locator(".a .answer").wait_for()
    return turn


def test_chat_answers_korean_with_evidence_and_trace(
    browser: Any, plant: tuple[Served, DemoReport], tmp_path: Path
) -> None:
    """어제 OEE 알려줘: a Korean answer whose figures cite evidence ids, and its trace."""
    served, _ = plant
    page = _page(browser, served, "viewer")
    _korean(page)
    _go(page, "#/chat")
    assert "어시스턴트" in page.inner_text("#nav")
    turn = _ask(page, "어제 OEE 알려줘")
    answer = turn.locator(".answer").inner_text()
    ids = turn.locator(".evidence .ev-id").all_inner_texts()
    assert ids and all(re.fullmatch(r"ev-[0-9a-f]+", i) for i in ids)
    assert all(i in answer for i in ids)
    assert turn.locator(".answer .ev-chip").count() >= 1
    assert re.search(r"OEE \d+\.\d%", answer) and "가동률" in answer
    turn.locator("details.trace").wait_for()
    turn.locator("details.trace summary").click()
    spans = turn.locator("details.trace .span-row").all_inner_texts()
    assert spans[0].startswith("invoke_agent factoryax")
    assert any("execute_tool get_kpis" in s and ids[0] in s for s in spans)
    _shot(page, tmp_path, "chat-ko")
    page.context.close()


def test_chat_approval_needs_another_user(browser: Any, plant: tuple[Served, DemoReport]) -> None:
    """An operator's ack request waits; the operator's own Approve is refused with the
    agent's message; an engineer approves it from the waiting list."""
    served, _ = plant
    page = _page(browser, served, "operator")
    _go(page, "#/chat")
    turn = _ask(page, "Acknowledge the latest alarm")
    turn.locator(".pending").wait_for()
    pending = re.search(r"pa-[0-9a-f]+", turn.locator(".pending").inner_text())
    assert pending is not None
    turn.locator("button.approve").click()
    page.wait_for_function("document.querySelector('.turn .approval-msg').textContent !== ''")
    assert "cannot approve it" in page.locator(".turn .approval-msg").inner_text()
    page.context.close()

    eng = _page(browser, served, "engineer")
    _go(eng, "#/chat")
    item = eng.locator(f".pending-item[data-id='{pending.group(0)}']")
    item.locator("button.approve-queued").click()
    eng.wait_for_function(
        "id => document.querySelector(`.pending-item[data-id='${id}'] .approval-msg`)"
        ".textContent !== ''",
        arg=pending.group(0),
    )
    msg = item.locator(".approval-msg").inner_text()
    assert "done" in msg and "engineer user" in msg
    r = httpx.get(served.url + "/api/agent/pending", headers=served.headers("viewer"), timeout=60)
    assert pending.group(0) not in [a["id"] for a in r.json()]
    eng.context.close()


def test_models_page_lists_backtest_figures(
    browser: Any, models_plant: tuple[Served, DemoReport], tmp_path: Path
) -> None:
    """Each trained model is listed with its stage and backtest figures; a viewer has no
    promote button, an engineer's promotion goes through the gate."""
    served, report = models_plant
    assert any(r["promoted"] for r in report.assets.values())
    viewer = _page(browser, served, "viewer")
    _go(viewer, "#/models")
    assert viewer.locator("#models-table tr[data-model]").count() == len(report.assets)
    assert viewer.locator("button.promote").count() == 0
    viewer.context.close()

    page = _page(browser, served, "engineer")
    _korean(page)
    _go(page, "#/models")
    for asset, rep in report.assets.items():
        row = page.locator(f"#models-table tr[data-model='{rep['model']}']")
        bt = rep["backtest"]
        fa, pr, dr = bt["false_alarms_per_shift"], bt["precision"], bt["detection_rate"]
        assert row.locator(".fig-fa").inner_text() == ("—" if fa is None else f"{fa:.2f}")
        assert row.locator(".fig-precision").inner_text() == _pct(pr)
        assert row.locator(".fig-detection").inner_text() == _pct(dr)
        stage = "운영" if rep["promoted"] else "후보"
        assert row.locator(".stage").inner_text() == stage
        assert asset in row.inner_text()
        assert row.locator("button.promote").count() == (0 if rep["promoted"] else 1)
    rejected = [r for r in report.assets.values() if not r["promoted"]]
    assert rejected, "the fixed day's data should fail some models at the gate"
    row = page.locator(f"#models-table tr[data-model='{rejected[0]['model']}']")
    row.locator("button.promote").click()
    row.locator(".promote-msg b").wait_for()
    assert row.locator(".promote-msg b").inner_text() == "게이트에서 거부됨"
    assert "FAILED" in row.locator(".promote-msg").inner_text()
    assert row.locator(".stage").inner_text() == "후보"
    _shot(page, tmp_path, "models")
    page.context.close()
