"""Login throughput and p99 with 20 concurrent clients, and whether the kernel stays responsive.

Starts a real kernel (`heldar serve`, uvicorn on a free port, a temp data dir, production argon2id
parameters unless told otherwise), then measures in one run:
  1. baseline: /healthz latency with no other load;
  2. load: 20 clients logging in back to back while /healthz is probed every 20 ms.
Prints login throughput and latency percentiles, healthz p99 under load against the baseline, and
whether healthz p99 stays under 50 ms (the bar of issue 5).

    .venv/bin/python bench/login.py [--seconds 10] [--clients 20] [--memory-kib 65536]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time

import httpx
from kernel_process import PASSWORD, kernel, pct

HEALTHZ_BAR_MS = 50.0


async def probe_healthz(
    http: httpx.AsyncClient, stop: asyncio.Event, every_s: float
) -> list[float]:
    """Latencies (ms) of /healthz, one request every `every_s`, until `stop` is set."""
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        response = await http.get("/healthz")
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
    return latencies


async def login_loop(http: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    latencies = []
    body = {"username": "admin", "password": PASSWORD}
    while not stop.is_set():
        started = time.perf_counter()
        response = await http.post("/api/v1/auth/login", json=body)
        if response.status_code != 200:
            raise SystemExit(f"login failed: {response.status_code} {response.text}")
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def measure(base: str, seconds: float, clients: int) -> None:
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        # warm-up: connections, the dummy hash, first-request paths
        await http.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        stop = asyncio.Event()
        probe = asyncio.create_task(probe_healthz(http, stop, 0.02))
        await asyncio.sleep(min(5.0, seconds / 2))
        stop.set()
        baseline = await probe

        stop = asyncio.Event()
        probe = asyncio.create_task(probe_healthz(http, stop, 0.02))
        logins = [asyncio.create_task(login_loop(http, stop)) for _ in range(clients)]
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        stop.set()
        per_client = await asyncio.gather(*logins)
        elapsed = time.perf_counter() - started
        loaded = await probe

    login_ms = [ms for client in per_client for ms in client]
    base_p99, load_p99 = pct(baseline, 0.99), pct(loaded, 0.99)
    print(f"cores: {os.cpu_count()}, {clients} concurrent login clients, {seconds:.0f} s")
    print(
        f"login: {len(login_ms)} in {elapsed:.1f} s = {len(login_ms) / elapsed:.1f}/s; "
        f"latency p50 {statistics.median(login_ms):.0f} ms, p99 {pct(login_ms, 0.99):.0f} ms"
    )
    print(
        f"healthz baseline (no load): n={len(baseline)} p50 {statistics.median(baseline):.1f} ms, "
        f"p99 {base_p99:.1f} ms"
    )
    print(
        f"healthz while logins hash:  n={len(loaded)} p50 {statistics.median(loaded):.1f} ms, "
        f"p99 {load_p99:.1f} ms"
    )
    print(f"ratio healthz p99 loaded / baseline: {load_p99 / base_p99:.1f}x")
    verdict = "PASS" if load_p99 < HEALTHZ_BAR_MS else "FAIL"
    bar = f"bar {HEALTHZ_BAR_MS:.0f} ms"
    print(f"{verdict}: healthz p99 under login load {load_p99:.1f} ms ({bar})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load phase length")
    parser.add_argument("--clients", type=int, default=20, help="concurrent login clients")
    parser.add_argument(
        "--memory-kib", type=int, default=None, help="argon2id memory (default: the kernel's)"
    )
    args = parser.parse_args()
    extra = {"HELDAR_PASSWORD_HASH_MEMORY_KIB": str(args.memory_kib)} if args.memory_kib else {}
    with kernel(extra) as base:
        asyncio.run(measure(base, args.seconds, args.clients))


if __name__ == "__main__":
    main()
