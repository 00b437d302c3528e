"""Throughput and watch fan-out benchmark for the sandbox API server.

    python -m tests.perf.bench_apiserver [--sizes 100,1000,10000] [--writes 2000] [--client-writes 300]

For each store size: start the server as a subprocess (``python -m chaosmonkey.sandbox.apiserver``),
preload that many Widgets, connect 3 watchers, then measure creates and status patches per second with
a concurrent raw aiohttp client and with the (sequential, synchronous) kubernetes client, and the
latency from a write's start to its event arriving at all 3 watchers. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes

CRDS_DIR = Path(__file__).resolve().parent.parent / "sandbox" / "crds"
GROUP, VERSION, PLURAL = "example.com", "v1", "widgets"
WATCHERS = 3
CONCURRENCY = 32


def _widget(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"size": "small"}}


def _start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "chaosmonkey.sandbox.apiserver", "--port", "0",
                                "--crds", str(CRDS_DIR), "--auto-create-namespaces"],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().split()
    if line[:1] != ["ready"]:
        process.kill()
        raise RuntimeError(f"the server did not start: {line}")
    return process, line[1]


async def _run_all(session: aiohttp.ClientSession, coros: list[Any]) -> None:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def limited(coro: Any) -> None:
        async with semaphore:
            await coro

    await asyncio.gather(*(limited(coro) for coro in coros))


async def _create(session: aiohttp.ClientSession, url: str, name: str, namespace: str,
                  started: dict[tuple[str, str], float]) -> None:
    started[("ADDED", name)] = time.perf_counter()
    async with session.post(f"{url}/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}",
                            json=_widget(name, namespace)) as response:
        assert response.status == 201, await response.text()


async def _patch_status(session: aiohttp.ClientSession, url: str, name: str, namespace: str,
                        started: dict[tuple[str, str], float]) -> None:
    started[("MODIFIED", name)] = time.perf_counter()
    async with session.patch(f"{url}/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status",
                             json={"status": {"phase": "Patched"}},
                             headers={"Content-Type": "application/merge-patch+json"}) as response:
        assert response.status == 200, await response.text()


async def _watch(url: str, namespace: str, since: str, arrivals: dict[tuple[str, str], list[float]],
                 connected: asyncio.Event, counter: list[int]) -> None:
    params = {"watch": "true", "resourceVersion": since, "timeoutSeconds": "600"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session, \
            session.get(f"{url}/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}", params=params) as response:
        counter[0] += 1
        if counter[0] == WATCHERS:
            connected.set()
        async for line in response.content:
            event = json.loads(line)
            arrivals.setdefault((event["type"], event["object"]["metadata"]["name"]), []).append(
                time.perf_counter())


async def _raw_phase(url: str, size: int, writes: int) -> dict[str, float]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        await _run_all(session, [_create(session, url, f"pre-{index}", "preload", {}) for index in range(size)])
        async with session.get(f"{url}/apis/{GROUP}/{VERSION}/namespaces/bench/{PLURAL}") as response:
            since = (await response.json())["metadata"]["resourceVersion"]
        arrivals: dict[tuple[str, str], list[float]] = {}
        connected, counter = asyncio.Event(), [0]
        watchers = [asyncio.create_task(_watch(url, "bench", since, arrivals, connected, counter))
                    for _ in range(WATCHERS)]
        await asyncio.wait_for(connected.wait(), 10)
        started: dict[tuple[str, str], float] = {}
        names = [f"w-{index}" for index in range(writes)]
        begin = time.perf_counter()
        await _run_all(session, [_create(session, url, name, "bench", started) for name in names])
        create_rate = writes / (time.perf_counter() - begin)
        begin = time.perf_counter()
        await _run_all(session, [_patch_status(session, url, name, "bench", started) for name in names])
        patch_rate = writes / (time.perf_counter() - begin)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and not all(len(arrivals.get(key, ())) == WATCHERS for key in started):
            await asyncio.sleep(0.01)
        # Unloaded fan-out: one write at a time, each waited for at all 3 watchers.
        idle: list[float] = []
        for name in names[: min(len(names), 200)]:
            key = ("MODIFIED", name)
            arrivals.pop(key, None)
            begun = time.perf_counter()
            async with session.patch(
                    f"{url}/apis/{GROUP}/{VERSION}/namespaces/bench/{PLURAL}/{name}",
                    json={"metadata": {"labels": {"touched": "yes"}}},
                    headers={"Content-Type": "application/merge-patch+json"}) as response:
                assert response.status == 200, await response.text()
            while len(arrivals.get(key, ())) < WATCHERS:
                await asyncio.sleep(0)
            idle.append((max(arrivals[key]) - begun) * 1000)
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    latencies = sorted((max(arrivals[key]) - begun) * 1000 for key, begun in started.items()
                       if len(arrivals.get(key, ())) == WATCHERS)
    return {"raw_creates_per_s": create_rate, "raw_status_patches_per_s": patch_rate,
            "fanout_p50_ms": statistics.median(latencies) if latencies else float("nan"),
            "fanout_p95_ms": latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan"),
            "events_delivered": float(len(latencies)), "fanout_idle_p50_ms": statistics.median(idle)}


def _client_phase(url: str, writes: int) -> dict[str, float]:
    configuration = kubernetes.client.Configuration()
    configuration.host = url
    with kubernetes.client.ApiClient(configuration) as api_client:
        custom = kubernetes.client.CustomObjectsApi(api_client)
        names = [f"k-{index}" for index in range(writes)]
        begin = time.perf_counter()
        for name in names:
            custom.create_namespaced_custom_object(GROUP, VERSION, "client", PLURAL, _widget(name, "client"))
        create_rate = writes / (time.perf_counter() - begin)
        begin = time.perf_counter()
        for name in names:
            custom.patch_namespaced_custom_object_status(GROUP, VERSION, "client", PLURAL, name,
                                                         {"status": {"phase": "Patched"}})
        patch_rate = writes / (time.perf_counter() - begin)
    return {"client_creates_per_s": create_rate, "client_status_patches_per_s": patch_rate}


def run(sizes: list[int], writes: int, client_writes: int) -> list[dict[str, float]]:
    results = []
    for size in sizes:
        process, url = _start_server()
        try:
            row: dict[str, float] = {"store_size": float(size)}
            row.update(asyncio.run(_raw_phase(url, size, writes)))
            row.update(_client_phase(url, client_writes))
            results.append(row)
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--writes", type=int, default=2000, help="raw aiohttp creates (then as many patches)")
    parser.add_argument("--client-writes", type=int, default=300, help="kubernetes-client creates and patches")
    args = parser.parse_args(argv)
    results = run([int(size) for size in args.sizes.split(",")], args.writes, args.client_writes)
    columns = ["store_size", "raw_creates_per_s", "raw_status_patches_per_s", "fanout_p50_ms", "fanout_p95_ms",
               "fanout_idle_p50_ms", "client_creates_per_s", "client_status_patches_per_s"]
    print(f"watchers={WATCHERS} concurrency={CONCURRENCY} raw writes={args.writes} "
          f"client writes={args.client_writes}")
    print(" | ".join(f"{column:>{len(column)}}" for column in columns))
    for row in results:
        print(" | ".join(f"{row[column]:>{len(column)}.1f}" for column in columns))
    print(json.dumps({"benchmark": "apiserver", "watchers": WATCHERS, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
