"""Ledger benchmark: durable appends, proofs at 1M leaves, proof and bundle sizes.

Measured in one run, each against a baseline from the same run:

1. durable batched appends/s into the SQLite log (WAL, synchronous=FULL, one fsync per
   batch) vs raw ``hashlib.sha256`` of the same leaves (target >= 20,000/s), vs pymerkle's
   in-memory ``append_entry`` when pymerkle is importable, and full record commits/s
   (5 salted fields each);
2. inclusion and consistency proof generation (from SQLite) and verification at the final
   size (target <= 1 ms each), proof bytes vs 32 x ceil(log2 n);
3. the size of an evidence bundle for a real quality certificate (twin-simulated lot);
4. ``audit`` time over the whole log.

Usage: python benchmarks/ledger.py [--leaves 1000000] [--batch 1000] [--dir bench-data]
(pymerkle: ``pip install --target DIR pymerkle`` and run with ``PYTHONPATH=DIR``)
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import math
import random
import shutil
import statistics
import sys
import time
import tomllib
from pathlib import Path

from factoryax.cli.main import example_plant_toml
from factoryax.core import parse_plant
from factoryax.lake import Lake
from factoryax.ledger import (
    Ledger,
    RecordInput,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from factoryax.share import build_bundle, issue_certificate, verify_bundle
from factoryax.twin import simulate, write_to_lake


def _leaves(n: int, size: int = 128) -> list[bytes]:
    """Distinct leaves of ``size`` bytes (a commitment with 5 fields is ~290 bytes)."""
    rng = random.Random(7)
    pad = rng.randbytes(size - 8)
    return [i.to_bytes(8, "big") + pad for i in range(n)]


def _per_call_us(fn: object, calls: list[tuple[int, ...]]) -> float:
    times = []
    for args in calls:
        t0 = time.perf_counter()
        fn(*args)  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def _pymerkle_rate(leaves: list[bytes]) -> float | None:
    try:
        from pymerkle import InmemoryTree  # type: ignore[import-not-found]
    except ImportError:
        return None
    tree = InmemoryTree(algorithm="sha256")
    t0 = time.perf_counter()
    for leaf in leaves:
        tree.append_entry(leaf)
    return len(leaves) / (time.perf_counter() - t0)


def _appends(ledger: Ledger, leaves: list[bytes], batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(leaves), batch):
        ledger.append_leaves(leaves[i : i + batch])
    return len(leaves) / (time.perf_counter() - t0)


def _commits(ledger: Ledger, n: int, batch: int, rounds: int = 3) -> float:
    """Median rate of ``rounds`` rounds of ``n // rounds`` records (the machine is shared)."""
    per_round = n // rounds
    records = [
        RecordInput(
            "safety_incident",
            {
                "kind": "guard_open",
                "asset": "press-01",
                "severity": 2,
                "message": f"door opened during cycle {i}",
                "acknowledged_by": "operator-17",
            },
        )
        for i in range(per_round)
    ]
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for i in range(0, per_round, batch):
            ledger.commit_many(records[i : i + batch])
        rates.append(per_round / (time.perf_counter() - t0))
    return statistics.median(rates)


def _bundle_sizes(ledger: Ledger, work: Path) -> tuple[int, int, int]:
    plant = parse_plant(tomllib.loads(example_plant_toml()))
    lake = Lake(work / "lake", timezone="Asia/Seoul")
    run = simulate(
        plant,
        start=dt.datetime(2026, 11, 23, 8, 0),  # noqa: DTZ001 - plant time
        horizon=dt.timedelta(hours=5),
        seed=7,
        sample_s=60,
    )
    write_to_lake(run, plant, lake)
    lot = "line-1-261123T0800-L0002"
    issued = issue_certificate(ledger, lake, plant, lot, out_dir=work / "certs")
    ledger.checkpoint()
    chosen = {"lot", "product", "verdict", "parts_shipped", "pdf_sha256"}
    small = build_bundle(ledger, issued.receipt.index, disclose=chosen).to_json()
    full = build_bundle(ledger, issued.receipt.index).to_json()
    verify_bundle(small, ledger.keys.verifiers(), attachments=[issued.pdf_path])
    return len(small.encode()), len(full.encode()), issued.pdf_path.stat().st_size


def main() -> None:
    """Runs every measurement and prints one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--no-audit", action="store_true", help="Skip the full audit.")
    args = parser.parse_args()
    work: Path = args.dir / "ledger"
    shutil.rmtree(work, ignore_errors=True)
    leaves = _leaves(args.leaves)
    ledger = Ledger.open(work / "ledger", origin="bench.factoryax.local/ledger")
    ledger.keys.generate(ledger.origin)

    t0 = time.perf_counter()
    for leaf in leaves:
        hashlib.sha256(leaf).digest()
    sha_rate = len(leaves) / (time.perf_counter() - t0)
    rate = _appends(ledger, leaves, args.batch)
    print(
        f"appends: {args.leaves:,} leaves of {len(leaves[0])} B in durable batches of "
        f"{args.batch:,}: {rate:,.0f}/s (target >= 20,000/s); raw hashlib SHA-256 of the "
        f"same leaves {sha_rate:,.0f}/s → {rate / sha_rate:.3f}x of bare hashing"
    )
    commit_rate = _commits(ledger, args.records, args.batch)
    print(
        f"record commits (5 salted fields, canonical JSON, payload store): "
        f"{commit_rate:,.0f}/s in batches of {args.batch:,} (median of 3 rounds) → "
        f"{commit_rate / rate:.2f}x of bare leaf appends"
    )

    cp = ledger.checkpoint()
    n = cp.size
    rng = random.Random(11)
    indices = [(rng.randrange(n), n) for _ in range(args.proofs)]
    gen_us = _per_call_us(ledger.inclusion_proof, indices)
    proofs = {i: ledger.inclusion_proof(i, s) for i, s in indices[:500]}
    hashes = {i: leaf_hash(ledger.entry(i).leaf) for i in proofs}
    verify_calls = [(i, n, hashes[i], proofs[i], cp.root) for i in proofs]
    ver_us = _per_call_us(verify_inclusion, verify_calls)
    bound = 32 * math.ceil(math.log2(n))
    longest = max(32 * len(p) for p in proofs.values())
    print(
        f"inclusion proof at {n:,} leaves: generate (SQLite) {gen_us:.0f} µs, verify "
        f"{ver_us:.0f} µs (median; target <= 1000 µs each); size <= {longest} B "
        f"(bound 32 x ceil(log2 n) = {bound} B)"
    )
    sizes = [(rng.randrange(1, n), n) for _ in range(args.proofs)]
    cgen_us = _per_call_us(ledger.consistency_proof, sizes)
    roots = {m: ledger.root(m) for m, _ in sizes[:200]}
    cver = [(m, n, ledger.consistency_proof(m, n), roots[m], cp.root) for m in roots]
    cver_us = _per_call_us(verify_consistency, cver)
    print(f"consistency proof to {n:,}: generate {cgen_us:.0f} µs, verify {cver_us:.0f} µs")

    small, full, pdf = _bundle_sizes(ledger, work)
    print(
        f"evidence bundle of a lot certificate: {small:,} B with 5 chosen fields, "
        f"{full:,} B with all fields (PDF alongside: {pdf:,} B)"
    )
    if not args.no_audit:
        t0 = time.perf_counter()
        report = ledger.audit()
        took = time.perf_counter() - t0
        print(
            f"audit of {report.entries_checked:,} entries / {report.nodes_checked:,} nodes: "
            f"{took:.1f} s ({report.entries_checked / took:,.0f} entries/s), ok={report.ok}"
        )
    # Last: pymerkle's object-per-node tree leaves the heap fragmented and slows what follows.
    pm = _pymerkle_rate(leaves[: min(len(leaves), 200_000)])
    print(
        "pymerkle InmemoryTree.append_entry: not installed in this environment"
        if pm is None
        else f"pymerkle InmemoryTree.append_entry (in memory, not durable): {pm:,.0f}/s → "
        f"ours {rate / pm:.2f}x"
    )
    ledger.close()
    shutil.rmtree(work, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
