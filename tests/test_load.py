"""Many users at once: 50 concurrent browser-like sessions against a real `python -m explorer` on 127.0.0.1."""
from pathlib import Path

import pytest

from benchmarks.app_server import load_test, running_app
from benchmarks.app_speed import digit_photo
from tests.helpers import free_port, write_tiny_mnist

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / "default"


@pytest.mark.slow
def test_fifty_concurrent_clients_get_answers_and_memory_stays_flat(tmp_path):
    data = write_tiny_mnist(tmp_path / "mnist", n_train=64, n_test=10_000)  # as many test images as the atlas
    with running_app(SHIPPED, data, free_port()) as app:
        report = load_test(app, "default", digit_photo(tmp_path / "digit.png"), clients=50, requests_per_client=20,
                           time_limit_s=400)
    print(f"{report.requests} requests in {report.wall_s:.0f} s; p50/p95 {report.percentiles_ms()} ms; RSS {report.rss_mib}")
    assert report.errors == []
    assert report.requests == 50 * 20
    assert set(report.latencies) == {"decode", "map_click", "reconstructions", "reconstruct_upload"}
    settled = next(rss for done, rss in report.rss_mib if done >= report.requests * 6 // 10)
    # A leak grows with every request: without the malloc-arena cap ≈ 6 MiB per 100 requests (90 MiB per 1,500
    # measured 2026-12-01; see limit_malloc_arenas), so ≈ 24 MiB over the last 400. With it the heap still takes a
    # few steps while the 50 clients warm up — measured 2026-12-02: up to 26 MiB in one step around request 450;
    # 2026-12-03: 15 MiB from request 500 to 584, then 6.6 MiB over the last 400 — so the bound is on the last 40 %.
    # 1,000 requests, not 2,000: 96 s on this machine was a third of the suite.
    assert report.rss_mib[-1][1] - settled < 15, report.rss_mib  # MiB over the last 400 requests
