"""Crash safety: kill -9 during a burst of appends loses no index that was returned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from factoryax.ledger import Ledger, RecordInput, verify_consistency

from .conftest import ORIGIN

CHILD = """
import sys
from pathlib import Path
from factoryax.ledger import Ledger, RecordInput

ledger = Ledger.open(Path(sys.argv[1]))
record = RecordInput("operator_approval", {"action": "x", "operator": "kim", "decision": "ok"})
while True:
    for receipt in ledger.commit_many([record] * int(sys.argv[2])):
        sys.stdout.write(f"{receipt.index}\\n")
    sys.stdout.flush()
"""


def _burst_and_kill(folder: Path, batch: int, kill_after: int) -> list[int]:
    """Runs the appending child, SIGKILLs it after ``kill_after`` indices were printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), str(batch)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    printed: list[int] = []
    while len(printed) < kill_after:
        line = child.stdout.readline()
        assert line, f"child exited early with {child.wait()}"
        printed.append(int(line))
    os.kill(child.pid, signal.SIGKILL)
    rest = child.stdout.read()  # what it had flushed before dying is durable too
    child.wait()
    child.stdout.close()
    printed.extend(int(x) for x in rest.split())
    return printed


def test_kill_during_appends_keeps_every_returned_index(tmp_path: Path) -> None:
    """After each kill -9 the store holds every printed index and audits clean."""
    folder = tmp_path / "ledger"
    with Ledger.open(folder, origin=ORIGIN) as led:
        led.keys.generate(ORIGIN)
        led.commit_many(
            [RecordInput("operator_approval", {"action": "a", "operator": "o", "decision": "d"})]
            * 3
        )
        first = led.checkpoint()
    for batch, kill_after in ((1, 150), (25, 400), (7, 300)):
        printed = _burst_and_kill(folder, batch, kill_after)
        with Ledger.open(folder) as led:
            size = led.size
            assert max(printed) < size
            assert len(set(printed)) == len(printed)
            entries = led.log.entries(0, size)
            assert [e.index for e in entries] == list(range(size))
            assert led.fields(max(printed))["operator"] == "kim"
            report = led.audit()
            assert report.ok, report.problems
            latest = led.checkpoint()
            proof = led.consistency_proof(first.size, latest.size)
            verify_consistency(first.size, latest.size, proof, first.root, latest.root)
            assert led.append_leaves([b"after restart"]) == [size]
