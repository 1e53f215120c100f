"""Drive a real `python -m explorer` process: start-up time, request latency, memory, and many clients at once.

Shared by the benchmark (which reports the numbers) and the slow tests (which assert on them).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from explorer.tabs.sliders import MAX_SLIDERS

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class AppProcess:
    url: str
    pid: int
    startup_s: float


def rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


@contextmanager
def running_app(checkpoint: Path, data_dir: str | Path, port: int, timeout_s: float = 120,
                env: dict[str, str] | None = None) -> Iterator[AppProcess]:
    """Start the app exactly as a user does, wait for its first page, stop it afterwards. `env`: variables added to
    the app's environment (the load test's probe of the app's malloc arenas)."""
    started = time.perf_counter()
    log = tempfile.TemporaryFile("w+")  # a file, not a pipe: a pipe nobody reads would block the server once full
    proc = subprocess.Popen(
        [sys.executable, "-m", "explorer", "--checkpoint", str(checkpoint), "--data-dir", str(data_dir),
         "--no-download", "--no-train", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, text=True, env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"the app exited with {proc.returncode}: {log.read()[-2000:]}")
                if time.perf_counter() - started > timeout_s:
                    raise RuntimeError(f"the app did not serve a page within {timeout_s:.0f} s")
                time.sleep(0.05)
        yield AppProcess(url, proc.pid, time.perf_counter() - started)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@dataclass
class LoadReport:
    clients: int
    wall_s: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    rss_mib: list[tuple[int, float]] = field(default_factory=list)  # (requests done, server RSS)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def percentiles_ms(self, kind: str | None = None) -> tuple[float, float]:
        values = [x for k, v in self.latencies.items() if kind in (None, k) for x in v]
        return tuple(float(p) for p in np.percentile(values, [50, 95]) * 1000) if values else (float("nan"),) * 2


# One client's requests cycle through this mix: mostly slider decodes (what a user does most), then map clicks,
# test-set reconstructions and uploads.
REQUEST_MIX = ("decode", "decode", "map_click", "decode", "reconstructions", "decode", "reconstruct_upload", "map_click")


def call_api(http, url: str, api_name: str, data: list, timeout: float, session: str | None = None) -> list:
    """One request as Gradio's HTTP API serves it: queue the call, read its server-sent events, fetch result files.

    `session` plays a browser tab's session hash; without one, every call is a new Gradio session.
    """
    import json

    joined = http.post(f"{url}gradio_api/call/{api_name}", json={"data": data, "session_hash": session}, timeout=timeout)
    joined.raise_for_status()
    event_id, event = joined.json()["event_id"], None
    with http.stream("GET", f"{url}gradio_api/call/{api_name}/{event_id}", timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"server error: {line[5:].strip()[:300]}")
                outputs = json.loads(line[5:])
                break
        else:
            raise RuntimeError("the event stream ended without a result")
    for item in outputs:  # a browser then downloads each image it shows
        if isinstance(item, dict) and item.get("url"):
            http.get(item["url"], timeout=timeout).raise_for_status()
    return outputs


def _one_client(url: str, name: str, n_requests: int, upload: Path, seed: int, report: LoadReport,
                lock: threading.Lock, deadline: float, n_map_points: int) -> None:
    import httpx

    rng = np.random.default_rng(seed)
    # Idle connections are dropped before the server's 5 s keep-alive timeout, as browsers do, so that a request is
    # never sent on a connection the server is closing.
    with httpx.Client(limits=httpx.Limits(keepalive_expiry=2.0)) as http:
        for i in range(n_requests):
            kind = REQUEST_MIX[(seed + i) % len(REQUEST_MIX)]
            started = time.perf_counter()
            try:
                if kind == "decode":
                    data = [name, *np.clip(rng.normal(size=MAX_SLIDERS), -3, 3).round(2).tolist()]
                elif kind == "map_click":
                    data = [name, f"{int(rng.integers(n_map_points))}:{seed}-{i}"]
                elif kind == "reconstructions":
                    data = [name, "any", int(rng.integers(1000))]
                else:
                    with upload.open("rb") as f:
                        uploaded = http.post(f"{url}gradio_api/upload", files={"files": (upload.name, f)}, timeout=60)
                    uploaded.raise_for_status()
                    data = [name, {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}, "PCA"]
                call_api(http, url, kind, data, timeout=max(1.0, deadline - time.perf_counter()), session=f"load-client-{seed}")
            except Exception as err:  # every failure is counted and reported, none hidden
                with lock:
                    report.errors.append(f"{kind}: {type(err).__name__}: {err}")
                continue
            with lock:
                report.latencies[kind].append(time.perf_counter() - started)


def load_test(app: AppProcess, name: str, upload: Path, clients: int = 50, requests_per_client: int = 40,
              time_limit_s: float = 300, n_map_points: int = 10_000) -> LoadReport:
    """`clients` threads, each one browser-like session with its own HTTP connection, all at once; server RSS sampled while they run."""
    report, lock = LoadReport(clients), threading.Lock()
    deadline = time.perf_counter() + time_limit_s
    threads = [threading.Thread(target=_one_client, daemon=True,
                                args=(app.url, name, requests_per_client, upload, seed, report, lock, deadline, n_map_points))
               for seed in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and time.perf_counter() < deadline:
        report.rss_mib.append((report.requests, rss_mib(app.pid)))
        time.sleep(1.0)
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.perf_counter()))
    report.wall_s = time.perf_counter() - started
    report.rss_mib.append((report.requests, rss_mib(app.pid)))
    if any(t.is_alive() for t in threads):
        report.errors.append(f"clients still waiting after the {time_limit_s:.0f} s limit")
    return report
