"""The HTTP API over a real server on loopback: every router, roles, limits, errors."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest

from factoryax.ledger import LEDGER_DIR, Ledger
from tests.api.conftest import Served, raise_alarm

pytestmark = pytest.mark.slow


def get(s: Served, path: str, role: str = "admin", **kw: object) -> httpx.Response:
    return httpx.get(s.url + path, headers=s.headers(role), timeout=60, **kw)  # type: ignore[arg-type]


def post(s: Served, path: str, body: object = None, role: str = "admin") -> httpx.Response:
    return httpx.post(
        s.url + path, json=body if body is not None else {}, headers=s.headers(role), timeout=60
    )


def test_openapi_documents_one_router_per_capability(served: Served) -> None:
    """The schema lists each capability's tag and its main paths."""
    doc = httpx.get(served.url + "/openapi.json", timeout=30).json()
    tags = {t for op in doc["paths"].values() for m in op.values() for t in m.get("tags", [])}
    assert tags >= {
        "auth",
        "plant",
        "readings",
        "assets",
        "kpi",
        "spc",
        "alarms",
        "ledger",
        "verify",
        "health",
        "live",
    }
    assert {"/api/readings", "/api/alarms/{rule}/ack", "/api/verify", "/api/live"} <= set(
        doc["paths"]
    )


def test_no_token_bad_token_and_malformed_header_are_401(served: Served) -> None:
    """Missing, malformed and wrong tokens get 401 with a message that says what to send."""
    r = httpx.get(served.url + "/api/plant", timeout=30)
    assert r.status_code == 401 and "Bearer" in r.json()["error"]
    r = httpx.get(served.url + "/api/plant", headers={"Authorization": "Basic abc"}, timeout=30)
    assert r.status_code == 401 and "Bearer <token>" in r.json()["error"]
    good = served.tokens["admin"]
    wrong = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    r = httpx.get(
        served.url + "/api/plant", headers={"Authorization": f"Bearer {wrong}"}, timeout=30
    )
    assert r.status_code == 401 and "invalid or revoked" in r.json()["error"]
    r = httpx.get(served.url + "/api/plant", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert r.status_code == 401 and "malformed" in r.json()["error"]


def test_tokens_are_stored_as_scrypt_hashes_only(served: Served) -> None:
    """No token secret appears anywhere in the token database."""
    db = served.ctx.tokens.path.read_bytes()
    for token in served.tokens.values():
        secret = token.split("_", 2)[2]
        assert secret.encode() not in db
    con = sqlite3.connect(served.ctx.tokens.path)
    salts = con.execute("SELECT length(salt), length(hash) FROM tokens").fetchall()
    con.close()
    assert salts and all(s == (16, 32) for s in salts)


def test_partner_sees_evidence_only(served: Served) -> None:
    """A partner cannot read readings or any plant data, but gets certificates and bundles."""
    for path in (
        "/api/readings?asset=press-01&signal=oil_temp",
        "/api/plant",
        "/api/overview",
        "/api/assets/press-01",
        "/api/kpi",
        "/api/alarms",
        "/api/spc/characteristics",
        "/api/downtime",
        "/api/health",
        "/api/live?limit=1",
        "/api/certificates/lots",
    ):
        r = get(served, path, "partner")
        assert r.status_code == 403, path
        assert "partner" in r.json()["error"]
    certs = get(served, "/api/certificates", "partner").json()
    assert certs
    bundle = get(served, f"/api/bundles/{certs[0]['index']}", "partner")
    assert bundle.status_code == 200 and json.loads(bundle.text)["format"].startswith("factoryax")


def test_partner_cannot_bundle_other_records(served: Served) -> None:
    """A bundle is only built for a quality certificate entry."""
    raise_alarm(served.ctx, "partner-probe")  # commits a safety_incident to the ledger
    with Ledger.for_workspace(served.ws.root, "changwon-1") as ledger:
        incident = ledger.find("safety_incident")[-1]
    r = get(served, f"/api/bundles/{incident}", "partner")
    assert r.status_code == 400 and "not a certificate" in r.json()["error"]


def test_operator_cannot_do_engineer_quality_or_admin_actions(served: Served) -> None:
    """Role boundaries: 403 with the role needed; the engineer can do the engineer action."""
    rule = "test-press-hot"
    body = {"out_of_service": True, "reason": "sensor swap"}
    r = post(served, f"/api/alarms/{rule}/service", body, "operator")
    assert r.status_code == 403 and "engineer" in r.json()["error"]
    assert (
        post(served, "/api/tokens", {"name": "x", "role": "admin"}, "operator").status_code == 403
    )
    assert post(served, "/api/certificates", {"lot": "x"}, "operator").status_code == 403
    r = post(served, "/api/spc/publish?characteristic=inspect-01.bore_diameter", None, "operator")
    assert r.status_code == 403
    assert post(served, f"/api/alarms/{rule}/ack", {}, "viewer").status_code == 403
    assert post(served, f"/api/alarms/{rule}/ack", {}, "quality").status_code == 403
    out = post(served, "/api/alarms/svc-probe/service", body, "engineer")
    assert out.status_code == 400  # allowed, but there is no such alarm
    raise_alarm(served.ctx, "svc-probe")
    out = post(served, "/api/alarms/svc-probe/service", body, "engineer")
    assert out.status_code == 200 and out.json()["events"][0]["to"] == "out_of_service"
    back = post(
        served, "/api/alarms/svc-probe/service", {**body, "out_of_service": False}, "engineer"
    )
    assert [e["to"] for e in back.json()["events"]] == ["normal", "unacknowledged"]


def test_site_scope_is_enforced(served: Served) -> None:
    """A token scoped to another site sees none of this plant's data."""
    r = get(served, "/api/plant", "elsewhere")
    assert r.status_code == 403 and "busan-2" in r.json()["error"]


def test_readings_are_lttb_downsampled_and_keep_the_ends(served: Served) -> None:
    """A long series comes back at the requested size with the first and last points."""
    full = get(served, "/api/readings?asset=press-01&signal=oil_temp&hours=24&points=20000").json()
    small = get(served, "/api/readings?asset=press-01&signal=oil_temp&hours=24&points=100").json()
    assert full["raw_points"] == len(full["points"]) > 1000
    assert len(small["points"]) == 100 and small["raw_points"] == full["raw_points"]
    assert small["points"][0] == full["points"][0] and small["points"][-1] == full["points"][-1]
    values = [p[1] for p in full["points"]]
    step = len(values) / 100
    means = [
        sum(b) / len(b) for i in range(100) if (b := values[int(i * step) : int((i + 1) * step)])
    ]
    assert max(p[1] for p in small["points"]) > max(means)  # peaks survive, unlike averaging
    assert all(p in full["points"] for p in small["points"])  # only real samples


def test_readings_errors_name_the_problem(served: Served) -> None:
    """Unknown signals, bad instants and out-of-range sizes get clear 4xx errors."""
    r = get(served, "/api/readings?asset=press-01&signal=nope")
    assert r.status_code == 400 and "'press-01'.'nope'" in r.json()["error"]
    r = get(served, "/api/readings?asset=press-01&signal=oil_temp&start=yesterday")
    assert r.status_code == 400 and "ISO 8601" in r.json()["error"]
    r = get(served, "/api/readings?asset=press-01&signal=oil_temp&start=2026-11-23T00:00:00")
    assert r.status_code == 400 and "UTC offset" in r.json()["error"]
    r = get(served, "/api/readings?asset=press-01&signal=oil_temp&points=1")
    assert r.status_code == 422 and "points" in r.json()["error"]
    r = get(served, "/api/readings?asset=press-01")
    assert r.status_code == 422 and "signal" in r.json()["error"]


def test_asset_page_shows_anomaly_scores_contributions_and_rul(served: Served) -> None:
    """Rows a detector writes show up: the score series, the explanation and the RUL."""
    d = get(served, "/api/assets/press-01").json()
    assert d["anomaly"]["raw_points"] == 60
    assert d["anomalies"][0]["contributions"] == {"vibration_rms": 0.7, "oil_temp": 0.3}
    assert d["rul"]["hours"] == 41.5
    assert {"oil_temp", "vibration_rms"} <= set(d["latest"])
    one = get(served, "/api/readings?asset=press-01&signal=oil_temp&hours=24&points=1500").json()
    assert set(d["series"]) == {s["id"] for s in d["signals"]}
    assert d["series"]["oil_temp"]["raw_points"] == one["raw_points"]
    assert d["series"]["oil_temp"]["points"] == one["points"]
    assert get(served, "/api/assets/nope").status_code == 400


def test_overview_plant_and_kpis(served: Served) -> None:
    """The overview has every asset's state and KPIs; /api/kpi groups by asset."""
    o = get(served, "/api/overview").json()
    assets = {"press-01", "cnc-01", "wash-01", "inspect-01", "pack-01"}
    assert set(o["states"]) == assets
    assert any(a["rule"] == "test-press-hot" for a in o["alarms"])
    k = get(served, "/api/kpi?by=asset").json()
    assert {r["asset"] for r in k["rows"]} == assets
    assert all(r["oee"] is None or 0 <= r["oee"] <= 1 for r in k["rows"])
    assert get(served, "/api/kpi?period=not-a-day").status_code == 400
    p = get(served, "/api/plant").json()
    assert p["site"]["id"] == "changwon-1" and any(r["code"] == "BREAKDOWN" for r in p["reasons"])


def test_downtime_pareto_and_operator_reason(served: Served) -> None:
    """An operator's reason is stored as a downtime.reason event and shown on its stop."""
    d = get(served, "/api/downtime").json()
    assert d["bars"] and d["stops"]
    stop = d["stops"][0]
    body = {"asset": stop["asset"], "start": stop["start"], "reason_code": "TOOL", "note": "t"}
    r = post(served, "/api/downtime/reasons", body, "operator")
    assert r.status_code == 201 and r.json()["who"] == "operator user"
    again = get(served, "/api/downtime").json()
    same = [
        s for s in again["stops"] if s["start"] == stop["start"] and s["asset"] == stop["asset"]
    ]
    assert same[0]["operator_reason"] == "TOOL"
    rows = (
        served.ws.lake.query("SELECT payload FROM events WHERE kind = 'downtime.reason'")
        .column("payload")
        .to_pylist()
    )
    assert any(json.loads(p)["reason_code"] == "TOOL" for p in rows)
    bad = post(served, "/api/downtime/reasons", {**body, "reason_code": "COFFEE"}, "operator")
    assert bad.status_code == 400 and "COFFEE" in bad.json()["error"]
    nowhere = {**body, "start": "2020-01-01T00:00:00+00:00"}
    assert post(served, "/api/downtime/reasons", nowhere, "operator").status_code == 400
    assert post(served, "/api/downtime/reasons", body, "viewer").status_code == 403


def test_spc_chart_with_limits_and_capability(served: Served) -> None:
    """The SPC chart of the bore has limits, points and Cp/Cpk against the spec."""
    chars = get(served, "/api/spc/characteristics").json()
    assert chars[0]["characteristic"] == "inspect-01.bore_diameter"
    r = get(served, "/api/spc?characteristic=inspect-01.bore_diameter").json()
    assert r["n"] > 20 and r["ucl"] > r["center"] > r["lcl"]
    assert r["capability"]["cp"] > 0 and r["capability"]["lsl"] == 41.975
    assert get(served, "/api/spc?characteristic=bore").status_code == 400
    assert (
        get(served, "/api/spc?characteristic=inspect-01.bore_diameter&chart=pie").status_code == 422
    )
    out = post(served, "/api/spc/publish?characteristic=inspect-01.bore_diameter", None, "engineer")
    assert out.status_code == 200 and out.json()["written"] >= 0


def test_ack_writes_the_safety_row_and_an_operator_approval(served: Served) -> None:
    """Ack from the console: an alarm.ack events row and an operator_approval ledger entry."""
    raise_alarm(served.ctx, "ack-probe")
    r = post(served, "/api/alarms/ack-probe/ack", {"comment": "checked"}, "operator")
    assert r.status_code == 200 and r.json()["events"][0]["kind"] == "alarm.ack"
    state = {a["rule"]: a for a in get(served, "/api/alarms").json()}["ack-probe"]
    assert state["state"] == "acknowledged" and state["who"] == "operator user"
    row = (
        served.ws.lake.query(
            "SELECT payload FROM events WHERE kind = 'alarm.ack' AND event_id = ?",
            [r.json()["events"][0]["event_id"]],
        )
        .column("payload")
        .to_pylist()
    )
    assert json.loads(row[0])["who"] == "operator user"
    with Ledger.for_workspace(served.ws.root, "changwon-1") as ledger:
        approvals = ledger.find("operator_approval", rule="ack-probe")
        assert len(approvals) == 1
        assert ledger.fields(approvals[0])["decision"] == "acknowledged"
    again = post(served, "/api/alarms/ack-probe/ack", {}, "operator").json()
    assert again["events"] == [] and "nothing to ack" in again["note"]


def test_shelve_with_expiry_and_comment(served: Served) -> None:
    """A shelf records its end; once past, the next read releases it; comments are kept."""
    raise_alarm(served.ctx, "shelf-probe")
    r = post(
        served, "/api/alarms/shelf-probe/shelve", {"duration_min": 0.002, "reason": "t"}, "operator"
    )
    assert r.status_code == 200 and r.json()["events"][0]["to"] == "shelved"
    time.sleep(0.3)
    state = {a["rule"]: a for a in get(served, "/api/alarms").json()}["shelf-probe"]
    assert state["state"] == "unacknowledged" and state["shelved_until"] is None
    kinds = (
        served.ws.lake.query(
            "SELECT kind FROM events WHERE payload LIKE '%shelf-probe%' ORDER BY ts"
        )
        .column("kind")
        .to_pylist()
    )
    assert kinds[-3:] == ["alarm.shelve", "alarm.unshelve", "alarm.active"]
    too_long = post(
        served,
        "/api/alarms/shelf-probe/shelve",
        {"duration_min": 9 * 60, "reason": "t"},
        "operator",
    )
    assert too_long.status_code == 400 and "max_shelve_s" in too_long.json()["error"]
    no_reason = post(served, "/api/alarms/shelf-probe/shelve", {"duration_min": 5}, "operator")
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["error"]
    c = post(served, "/api/alarms/shelf-probe/comment", {"text": "maintenance called"}, "operator")
    assert c.status_code == 200
    state = {a["rule"]: a for a in get(served, "/api/alarms").json()}["shelf-probe"]
    assert state["comments"][-1]["text"] == "maintenance called"


def test_certificate_issue_bundle_and_verify(served: Served) -> None:
    """Quality issues a certificate; its bundle verifies; a tampered bundle fails by step."""
    lots = get(served, "/api/certificates/lots", "quality").json()
    r = post(served, "/api/certificates", {"lot": lots[0]["lot"]}, "quality")
    assert r.status_code == 201, r.text
    index = r.json()["index"]
    text = get(served, f"/api/bundles/{index}", "quality").text
    ok = httpx.post(
        served.url + "/api/verify", content=text, headers=served.headers("partner"), timeout=60
    )
    assert ok.status_code == 200 and ok.json()["verified"] is True
    assert ok.json()["fields"]["lot"] == lots[0]["lot"]
    doc = json.loads(text)
    doc["disclosures"][0] = doc["disclosures"][0][:-3] + "AAA"
    bad = httpx.post(
        served.url + "/api/verify",
        content=json.dumps(doc),
        headers=served.headers("partner"),
        timeout=60,
    )
    assert bad.status_code in (400, 422) and "error" in bad.json()
    missing = post(served, "/api/certificates", {"lot": "no-such-lot"}, "quality")
    assert missing.status_code == 404 and "no-such-lot" in missing.json()["error"]
    pdf = get(served, f"/api/certificates/{index}/pdf", "partner")
    assert pdf.content.startswith(b"%PDF")
    assert get(served, "/api/ledger", "partner").json()["size"] >= index + 1


def test_malformed_and_oversized_requests(served: Served) -> None:
    """Bad JSON → 422 naming the problem; bodies over the limit → 413 (declared or chunked)."""
    r = httpx.post(
        served.url + "/api/alarms/test-press-hot/comment",
        content=b"{not json",
        headers={**served.headers("operator"), "content-type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 422 and r.json()["error"].startswith("invalid request")
    big = b'{"text": "' + b"x" * (70 * 1024) + b'"}'
    r = httpx.post(
        served.url + "/api/alarms/test-press-hot/comment",
        content=big,
        headers={**served.headers("operator"), "content-type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 413 and "65,536" in r.json()["error"]

    def chunks() -> object:
        for _ in range(20):
            yield b"y" * 8192

    r = httpx.post(
        served.url + "/api/verify",
        content=chunks(),  # type: ignore[arg-type]
        headers=served.headers("partner"),
        timeout=30,
    )
    assert r.status_code == 413
    r = httpx.post(
        served.url + "/api/verify",
        content=b"\xff\xfe",
        headers=served.headers("partner"),
        timeout=30,
    )
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]
    r = httpx.post(
        served.url + "/api/verify",
        content=b'{"format": "other"}',
        headers=served.headers("partner"),
        timeout=30,
    )
    assert r.status_code == 400


def test_every_write_is_audited(served: Served) -> None:
    """Writes, including refused ones, leave audit rows with who, status and body hash."""
    post(served, "/api/alarms/test-press-hot/comment", {"text": "audit me"}, "operator")
    post(served, "/api/tokens", {"name": "x", "role": "admin"}, "viewer")
    rows = get(served, "/api/audit?limit=50").json()
    mine = [r for r in rows if r["path"] == "/api/alarms/test-press-hot/comment"]
    assert mine[0]["who"].startswith("operator user") and mine[0]["status"] == 200
    refused = [r for r in rows if r["path"] == "/api/tokens" and r["status"] == 403]
    assert refused and refused[0]["role"] == "viewer" and len(refused[0]["body_sha256"]) == 64
    assert any(r["status"] == 413 for r in rows)
    assert get(served, "/api/audit", "engineer").status_code == 403


def test_admin_issues_and_revokes_tokens(served: Served) -> None:
    """A token issued over the API works until revoked."""
    r = post(served, "/api/tokens", {"name": "line lead", "role": "operator"})
    token = r.json()["token"]
    hdr = {"Authorization": f"Bearer {token}"}
    assert httpx.get(served.url + "/api/me", headers=hdr, timeout=30).json()["role"] == "operator"
    token_id = token.split("_")[1]
    assert httpx.delete(
        served.url + f"/api/tokens/{token_id}", headers=served.headers("admin"), timeout=30
    ).json() == {"revoked": True}
    assert httpx.get(served.url + "/api/me", headers=hdr, timeout=30).status_code == 401
    bad = post(served, "/api/tokens", {"name": "x", "role": "boss"})
    assert bad.status_code == 422 and "role" in bad.json()["error"]


def test_login_cookie_session(served: Served) -> None:
    """POST /api/login sets an HttpOnly session cookie that authenticates later calls."""
    with httpx.Client(base_url=served.url, timeout=30) as c:
        r = c.post("/api/login", json={"token": served.tokens["viewer"]})
        assert r.status_code == 200 and "httponly" in r.headers["set-cookie"].lower()
        assert c.get("/api/me").json()["role"] == "viewer"
        c.post("/api/logout")
        c.cookies.clear()
        assert c.get("/api/me").status_code == 401
        assert c.post("/api/login", json={"token": "fax_x_yyyyyyyy"}).status_code == 401


def test_health_reads_the_runtime_file(served: Served) -> None:
    """The health panel shows runtime/health.json when present, and a readable problem."""
    assert get(served, "/api/health").json()["runtime"] is None
    folder = served.ws.root / "runtime"
    folder.mkdir(exist_ok=True)
    doc = {
        "updated_at": "2026-11-24T00:00:00Z",
        "pid": 1,
        "lake": {},
        "sinks": [],
        "sources": [
            {
                "name": "mqtt-1",
                "kind": "mqtt",
                "state": "connected",
                "rate_per_s": 5,
                "lag_s": 0.1,
                "last_message_at": None,
                "reconnects": 0,
                "accepted": 10,
                "quarantined": 0,
                "buffered": 0,
            }
        ],
    }
    (folder / "health.json").write_text(json.dumps(doc), encoding="utf-8")
    h = get(served, "/api/health").json()
    assert h["runtime"]["sources"][0]["name"] == "mqtt-1"
    assert any(t["table"] == "readings" and t["rows"] > 0 for t in h["lake"])
    (folder / "health.json").write_text("{broken", encoding="utf-8")
    assert "not readable JSON" in get(served, "/api/health").json()["runtime_problem"]
    (folder / "health.json").unlink()
    assert httpx.get(served.url + "/api/healthz", timeout=30).json() == {"ok": True}


def test_live_sse_stream(served: Served) -> None:
    """/api/live streams snapshot events with the latest values and alarm count."""
    with httpx.stream(
        "GET", served.url + "/api/live?limit=2", headers=served.headers("viewer"), timeout=60
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert len(events) == 2
    doc = json.loads(events[0][6:])
    assert "oil_temp" in doc["values"]["press-01"] and doc["alarms_active"] >= 1


def test_live_stream_ends_when_its_token_is_revoked(served: Served) -> None:
    """A token revoked while its stream is open gets ``event: end`` and the stream closes."""
    token = post(served, "/api/tokens", {"name": "wall screen", "role": "viewer"}).json()["token"]
    hdr = {"Authorization": f"Bearer {token}"}
    lines: list[str] = []
    with httpx.stream("GET", served.url + "/api/live", headers=hdr, timeout=60) as r:
        for line in r.iter_lines():
            lines.append(line)
            if line.startswith("data: ") and len(lines) < 4:
                served.ctx.tokens.revoke(token.split("_")[1])
    assert lines[0] == "event: snapshot"
    end = lines.index("event: end")
    assert "revoked" in lines[end + 1]


def test_ledger_commit_count_matches_acks(served: Served) -> None:
    """Re-storing the same alarm events commits nothing twice (idempotent)."""
    from factoryax.api import store_alarm_events
    from factoryax.safety import Alarm

    before = Ledger.for_workspace(served.ws.root, "changwon-1")
    size = before.size
    before.close()
    alarm = Alarm("idem-probe", severity=2, message="m", line="line-1", asset="cnc-01")
    import datetime as dt

    events = alarm.set_condition(True, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), why="x")
    assert store_alarm_events(served.ctx, events) == 1
    assert store_alarm_events(served.ctx, events) == 0
    with Ledger.open(served.ws.root / LEDGER_DIR) as after:
        assert after.size == size + 1
