"""Server overhead: our full ``POST /v1/images/generations`` path vs a bare FastAPI endpoint.

Two uvicorn subprocesses (no GIL shared with the load generator), in one interleaved run:
- ``ours``: ``create_app`` with the zero-work engine (workers=2, SQLite on a temp home); the
  request goes through validation, a durable job row, a worker's claim, the PNG encode, the
  asset row and blob, and the response;
- ``bare``: a FastAPI app with one ``POST`` endpoint that parses the JSON body and returns
  the very bytes ``ours`` answered for the same request.
The load generator (threads, one keep-alive ``httpx.Client`` each) runs each concurrency in
alternating rounds (ours, bare, bare, ours, ...). Added latency = ours - bare, per percentile.

Run: ``.venv/bin/python bench/server_bench.py``. This file is also the uvicorn app module
(``server_bench:ours`` / ``server_bench:bare`` with ``--factory``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BODY = {"model": "zero", "prompt": "x", "size": "256x256"}
PATH = "/v1/images/generations"
LOADS = {1: 200, 8: 800, 32: 1600}  # concurrency -> requests per server
ROUNDS = 4  # each load is split into this many alternating rounds per server
WARMUP = 100


# -- the two apps (imported by uvicorn in the subprocesses) ------------------------------------
def ours() -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    from pixelforge.api.app import create_app
    from pixelforge.config import Settings
    from testing_engines import ZeroWorkEngine

    settings = Settings(home=Path(os.environ["BENCH_HOME"]), workers=2)
    return create_app(settings, [ZeroWorkEngine()])


def bare() -> Any:
    from fastapi import FastAPI, Response

    body = Path(os.environ["BENCH_RESPONSE"]).read_bytes()
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(PATH)
    def generations(payload: dict[str, Any]) -> Response:
        return Response(body, media_type="application/json")

    return app


# -- the harness -------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(proc: subprocess.Popen[bytes], probe: str, name: str, timeout: float) -> None:
    """Poll ``probe`` until it answers 200; a server that exits or never answers is an error
    (and is killed). Shared by the benches that start a server process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{name} did not start")


def serve(factory: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", f"server_bench:{factory}", "--factory",
        "--app-dir", str(BENCH), "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, f"{url}/healthz", f"{factory} server", 60)
    return proc, url


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load(url: str, concurrency: int, requests: int) -> tuple[list[float], float]:
    """``requests`` POSTs from ``concurrency`` threads; (latencies in ms, wall seconds)."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = [
        requests // concurrency + (i < requests % concurrency) for i in range(concurrency)
    ]
    errors: list[str] = []
    go = threading.Barrier(concurrency + 1)

    def client(count: int) -> None:
        mine = []
        with httpx.Client(base_url=url, timeout=60) as c:
            c.get("/healthz")  # open the connection before the clock starts
            go.wait()
            for _ in range(count):
                start = time.perf_counter()
                r = c.post(PATH, json=BODY)
                mine.append((time.perf_counter() - start) * 1000)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in per_thread]
    for t in threads:
        t.start()
    go.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
    return latencies, wall


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def main() -> None:
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="pixelforge-bench-") as tmp:
        try:
            ours_proc, ours_url = serve("ours", {"BENCH_HOME": str(Path(tmp) / "home")})
            procs.append(ours_proc)
            sample = httpx.post(f"{ours_url}{PATH}", json=BODY, timeout=60)
            sample.raise_for_status()
            response = Path(tmp) / "response.json"
            response.write_bytes(sample.content)
            bare_proc, bare_url = serve("bare", {"BENCH_RESPONSE": str(response)})
            procs.append(bare_proc)
            urls = {"ours": ours_url, "bare": bare_url}
            for url in urls.values():
                load(url, 8, WARMUP)
            rows = []
            for concurrency, requests in LOADS.items():
                lat: dict[str, list[float]] = {"ours": [], "bare": []}
                wall = {"ours": 0.0, "bare": 0.0}
                for r in range(ROUNDS):
                    order = ("ours", "bare") if r % 2 == 0 else ("bare", "ours")
                    for name in order:
                        got, seconds = load(urls[name], concurrency, requests // ROUNDS)
                        lat[name] += got
                        wall[name] += seconds
                row: dict[str, Any] = {"concurrency": concurrency, "requests": requests}
                for name in ("ours", "bare"):
                    row[f"{name}_p50"] = statistics.median(lat[name])
                    row[f"{name}_p99"] = p99(lat[name])
                    row[f"{name}_rps"] = len(lat[name]) / wall[name]
                rows.append(row)
        finally:
            for proc in procs:
                stop(proc)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, "
          f"{sys.platform}, cpus={os.cpu_count()}; response body {len(sample.content)} bytes")  # fmt: skip
    print("| concurrency | requests | ours p50 ms | bare p50 ms | added p50 ms | ours p99 ms "
          "| bare p99 ms | added p99 ms | ours req/s | bare req/s | req/s ratio ours/bare |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['concurrency']} | {r['requests']} | {r['ours_p50']:.2f} | {r['bare_p50']:.2f} "
              f"| {r['ours_p50'] - r['bare_p50']:.2f} | {r['ours_p99']:.2f} | {r['bare_p99']:.2f} "
              f"| {r['ours_p99'] - r['bare_p99']:.2f} | {r['ours_rps']:.0f} | {r['bare_rps']:.0f} "
              f"| {r['ours_rps'] / r['bare_rps']:.2f} |")  # fmt: skip
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
