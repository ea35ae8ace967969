"""Durable queue throughput: zero-work jobs through ``Container.jobs.submit`` and the workers.

In process, SQLite on a temp home, for workers=2 and workers=4, N jobs each (256x256, n=1):
- ``submit``: N submits with the workers not started (validation, request encode, job row);
- ``drain``: then the workers start; time until all N succeeded (claim, run, encode, asset,
  finish), from the pre-filled queue;
- ``end to end``: a fresh home, workers running, N submits from one thread; time from the first
  submit until all N succeeded.
Run: ``.venv/bin/python bench/queue_bench.py``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest
from pixelforge.domain.sizes import Size
from pixelforge.store.models import Job

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from testing_engines import ZeroWorkEngine

N = 1000
WORKERS = (2, 4)
TIMEOUT_S = 120.0


def build(home: Path, workers: int) -> Container:
    return Container.build(
        Settings(home=home, workers=workers), [ZeroWorkEngine()], Metrics(lambda: 0)
    )


def request(i: int) -> GenerationRequest:
    return GenerationRequest(prompt=f"job {i}", model="zero", size=Size(256, 256), seed=i)


def succeeded(c: Container) -> int:
    with c.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Job).where(Job.status == "succeeded")) or 0)  # fmt: skip


def wait_all(c: Container, n: int) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while succeeded(c) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {succeeded(c)}/{n} jobs succeeded in {TIMEOUT_S} s")
        time.sleep(0.01)


def submit_all(c: Container, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        c.jobs.submit(request(i))
    return time.perf_counter() - start


def run(workers: int, tmp: Path) -> dict[str, Any]:
    c = build(tmp / f"prefilled-{workers}", workers)
    try:
        submit_s = submit_all(c, N)
        start = time.perf_counter()
        c.start()
        wait_all(c, N)
        drain_s = time.perf_counter() - start
    finally:
        c.stop()
    c = build(tmp / f"live-{workers}", workers)
    c.start()
    try:
        start = time.perf_counter()
        submit_all(c, N)
        wait_all(c, N)
        e2e_s = time.perf_counter() - start
    finally:
        c.stop()
    return {
        "workers": workers, "jobs": N, "submit_per_s": N / submit_s,
        "drain_per_s": N / drain_s, "e2e_per_s": N / e2e_s, "drain_s": drain_s, "e2e_s": e2e_s,
    }  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pixelforge-queue-bench-") as tmp:
        c = build(Path(tmp) / "warmup", 2)  # imports, first encode, migrations
        c.start()
        try:
            c.jobs.submit(request(0))
            wait_all(c, 1)
        finally:
            c.stop()
        rows = [run(w, Path(tmp)) for w in WORKERS]
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, "
          f"{sys.platform}, cpus={os.cpu_count()}; SQLite, zero engine, 256x256 PNG")  # fmt: skip
    print("| workers | jobs | submit jobs/s (workers off) | drain jobs/s (pre-filled) "
          "| end-to-end jobs/s (submit while running) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workers']} | {r['jobs']} | {r['submit_per_s']:.0f} | {r['drain_per_s']:.0f} "
              f"| {r['e2e_per_s']:.0f} |")  # fmt: skip
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
