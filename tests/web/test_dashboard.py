"""The dashboard in headless Chromium: log in, live values, ack, certificates, Korean."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Served, raise_alarm

pytestmark = pytest.mark.slow

SCREENS = Path("/work/notes/screens")


def _page(browser: Any, plant: Served, role: str = "admin") -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(plant.url + "/")
    page.fill("#token", plant.tokens[role])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#page[data-rendered='1']")
    return page


def _go(page: Any, route: str) -> None:
    """Moves to a dashboard route in the same page and waits until it has rendered."""
    page.evaluate("r => { location.hash = r; }", route)
    page.wait_for_selector(f"#page[data-page='{route.split('/')[1]}'][data-rendered='1']")


def _shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if SCREENS.parent.is_dir():
        SCREENS.mkdir(exist_ok=True)
        shutil.copy(path, SCREENS / path.name)
    return path


def test_login_rejects_a_bad_token(browser: Any, live_plant: Served) -> None:
    """A wrong token shows the server's message and no data."""
    page = browser.new_page()
    page.goto(live_plant.url + "/")
    page.fill("#token", "fax_nope_nope")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:not(:empty)")
    assert "invalid or revoked" in page.inner_text("#login-error")
    assert page.is_hidden("#page")
    page.close()


def test_overview_live_values_move(browser: Any, live_plant: Served, tmp_path: Path) -> None:
    """After login the overview shows every asset, and live values change as the twin runs."""
    page = _page(browser, live_plant)
    page.wait_for_selector(".asset-tile")
    assert page.locator(".asset-tile").count() == 5
    page.wait_for_function("document.querySelector('#live-dot').dataset.at !== undefined")
    first = page.eval_on_selector("#live-dot", "e => e.dataset.at")
    cell = '[data-live="press-01|motor_current"]'
    page.wait_for_function(f"document.querySelector('{cell}').textContent !== '—'")
    before = page.inner_text(cell)
    page.wait_for_function(
        "([at, cell, v]) => document.querySelector('#live-dot').dataset.at !== at && "
        "document.querySelector(cell).textContent !== v",
        arg=[first, cell, before],
    )
    assert page.inner_text(cell) != before
    assert live_plant.feed is not None and live_plant.feed.released > 0
    _shot(page, tmp_path, "overview")
    page.close()


def test_asset_page_charts_a_week_downsampled(
    browser: Any, live_plant: Served, tmp_path: Path
) -> None:
    """The asset page draws each signal, the anomaly score and its contributions."""
    page = _page(browser, live_plant)
    _go(page, "#/asset/press-01")
    assert int(page.eval_on_selector("#chart-anomaly", "c => c.dataset.points")) == 60
    assert page.locator(".signal-chart").count() == 5
    text = page.inner_text("#page")
    assert "vibration_rms" in text and "41.5" in text
    _shot(page, tmp_path, "asset")
    page.close()


def test_acknowledge_an_alarm(browser: Any, live_plant: Served, tmp_path: Path) -> None:
    """An operator acknowledges an alarm in the console; the state and ledger follow."""
    raise_alarm(live_plant.ctx, "browser-ack", asset="cnc-01")
    page = _page(browser, live_plant, "operator")
    _go(page, "#/alarms")
    row = page.locator('tr[data-rule="browser-ack"]')
    row.locator(".ack").click()
    page.wait_for_function(
        "document.querySelector('tr[data-rule=\"browser-ack\"] .alarm-state')"
        "?.dataset.value === 'acknowledged'"
    )
    from factoryax.ledger import Ledger

    with Ledger.for_workspace(live_plant.ws.root, "changwon-1") as ledger:
        assert ledger.find("operator_approval", rule="browser-ack", operator="operator user")
    _shot(page, tmp_path, "alarms")
    page.close()


def test_issue_download_and_verify_a_certificate(
    browser: Any, live_plant: Served, tmp_path: Path
) -> None:
    """Quality issues a certificate, downloads its bundle and verifies the uploaded file."""
    page = _page(browser, live_plant, "quality")
    _go(page, "#/ledger")
    count = page.locator("#certs tr").count()
    page.click("#issue")
    page.wait_for_function(f"document.querySelectorAll('#certs tr').length > {count}")
    with page.expect_download() as info:
        page.locator(".bundle-link").first.click()
    bundle = tmp_path / "bundle.json"
    info.value.save_as(str(bundle))
    page.set_input_files("#bundle-file", str(bundle))
    page.click("#verify")
    page.wait_for_selector("#verify-ok")
    assert "quality_certificate" in page.inner_text("#verify-ok")
    _shot(page, tmp_path, "certificate-verified")
    bundle.write_text(bundle.read_text("utf-8").replace('"leaf": "', '"leaf": "x'), "utf-8")
    page.set_input_files("#bundle-file", str(bundle))
    page.click("#verify")
    page.wait_for_selector("#verify-fail")
    _shot(page, tmp_path, "certificate-tampered")
    page.close()


def test_korean_toggle(browser: Any, live_plant: Served, tmp_path: Path) -> None:
    """The toggle switches the whole page to Korean (and back), remembered by the browser."""
    page = _page(browser, live_plant)
    page.wait_for_selector(".asset-tile")
    page.click("#lang-toggle")
    page.wait_for_function("document.documentElement.lang === 'ko'")
    nav = page.inner_text("#nav")
    assert "공장" in nav and "알람" in nav and "인증서" in nav
    page.wait_for_selector(".asset-tile")
    assert "프레스" in page.inner_text("#page") and "설비종합효율" in page.inner_text("#page")
    _shot(page, tmp_path, "overview-ko")
    page.reload()
    page.wait_for_selector("#nav a")
    assert "공장" in page.inner_text("#nav")
    page.click("#lang-toggle")
    assert "Plant" in page.inner_text("#nav")
    page.close()


def test_downtime_reason_entry_on_a_tablet(
    browser: Any, live_plant: Served, tmp_path: Path
) -> None:
    """On a tablet-sized screen an operator picks a stop, taps a reason and saves it."""
    context = browser.new_context(viewport={"width": 800, "height": 1280}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(live_plant.url + "/")
    page.fill("#token", live_plant.tokens["operator"])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#page[data-rendered='1']")
    _go(page, "#/downtime")
    page.locator(".pick-stop").first.click()
    page.locator('.reasons button[data-code="TOOL"]').click()
    page.click("#reason-save")
    page.wait_for_selector("#reason-msg.okmsg")
    page.wait_for_function(
        "[...document.querySelectorAll('.op-reason')].some(e => e.textContent === 'TOOL')"
    )
    _shot(page, tmp_path, "downtime-tablet")
    context.close()


def test_partner_sees_only_certificates(browser: Any, live_plant: Served) -> None:
    """A partner's dashboard has the certificates page only."""
    page = _page(browser, live_plant, "partner")
    page.wait_for_selector("#certs")
    assert page.locator("#nav a").count() == 1
    assert page.locator("#issue").count() == 0
    page.close()
