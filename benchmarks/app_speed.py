"""App-side measurements: the callbacks' own time (no HTTP) and one user's round trip through HTTP and the queue."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from .app_server import MAX_SLIDERS, AppProcess, call_api


def digit_photo(path: Path) -> Path:
    """A 400×300 colour PNG of a bright vertical stroke: an upload that needs every preprocessing step."""
    from PIL import Image

    pixels = np.zeros((400, 300, 3), dtype=np.uint8)
    pixels[50:350, 140:170] = 255
    Image.fromarray(pixels).save(path)
    return path


def server_side(checkpoint: Path, n_calls: int) -> dict[str, np.ndarray]:
    """p50/p95 ms of a slider decode and of an upload's reconstruction, as the server's worker spends them."""
    from explorer import checkpoint_library, test_sets
    from explorer.app import page_views

    library = checkpoint_library.CheckpointLibrary(checkpoint.parent)
    views = page_views(library, test_sets.TestSets.of(test_sets.TestImages(None, "none")))
    sliders, reconstructions, latent_map = views.tab("sliders"), views.tab("reconstructions"), views.tab("map")
    rng = np.random.default_rng(0)
    decode, upload = [], []
    with tempfile.TemporaryDirectory() as tmp:
        photo = digit_photo(Path(tmp) / "digit.png")
        for _ in range(n_calls):
            z = rng.normal(size=MAX_SLIDERS).tolist()
            started = time.perf_counter()
            sliders.decode_sliders(checkpoint.name, *z)
            decode.append(time.perf_counter() - started)
        for _ in range(max(5, n_calls // 10)):
            started = time.perf_counter()
            *_, mean = reconstructions.reconstruct_upload(checkpoint.name, str(photo))
            latent_map.latent_map(checkpoint.name, "PCA", mean)  # the map's ★, redrawn as the page's drawn mean changes
            upload.append(time.perf_counter() - started)
    return {"decode": np.percentile(decode, [50, 95]) * 1000, "upload": np.percentile(upload, [50, 95]) * 1000}


def http_decode(app: AppProcess, name: str, n_calls: int) -> np.ndarray:
    """p50/p95 ms of one user's slider decode through HTTP, Gradio's queue, and the image download."""
    import httpx

    rng = np.random.default_rng(0)
    round_trips = []
    with httpx.Client() as http:
        call_api(http, app.url, "decode", [name, *[0.0] * MAX_SLIDERS], timeout=60, session="bench")
        for _ in range(n_calls):
            z = np.clip(rng.normal(size=MAX_SLIDERS), -3, 3).round(2).tolist()
            started = time.perf_counter()
            call_api(http, app.url, "decode", [name, *z], timeout=60, session="bench")
            round_trips.append(time.perf_counter() - started)
    return np.percentile(round_trips, [50, 95]) * 1000
