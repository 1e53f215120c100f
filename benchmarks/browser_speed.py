"""What a visitor feels, timed inside headless Chromium with the page's own clock (performance.now()): slider input
→ new pixels on the canvas, a drawing stroke → reconstruction, first and repeat visit, and the server path
(WebAssembly removed) as the before."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

# Each move: set a slider, fire its input event, wait for explorer.js to report new pixels on the canvas.
TIME_SLIDER_MOVES = """async ([dims, moves]) => {
  const frames = () => (vae.explorer.frames.sliders || {count: 0}).count;
  const times = [];
  for (let k = 0; k < moves; k++) {
    const input = document.querySelector(`#slider-${dims[k % dims.length]} input[type=range]`);
    const before = frames();
    input.value = (-3 + 6 * (((k * 37) % 101) / 100)).toFixed(2);
    const t0 = performance.now();
    input.dispatchEvent(new Event('input', {bubbles: true}));
    while (frames() === before && performance.now() < t0 + 5000) await new Promise((r) => setTimeout(r, 0));
    times.push(vae.explorer.frames.sliders.at - t0);
  }
  return times;
}"""

# What the visitor sees, not what explorer.js reports: each real slider input event's own time stamp, and when the
# canvas's pixels change, read between tasks (a MessageChannel loop). A task that runs after explorer.js has drawn
# (Gradio's own input handling) holds the pixels off the screen and shows here, not in TIME_SLIDER_MOVES.
WATCH_SLIDER_PIXELS = """() => {
  const canvas = document.getElementById('slider-canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const signature = () => {
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 0;
    for (let i = 0; i < data.length; i += 4) h = (h * 31 + data[i]) | 0;
    return h;
  };
  const log = window.sliderPixels = { inputs: [], changes: [], stop: false };
  let last = signature();
  window.addEventListener('input', (e) => { if (e.isTrusted && e.target.closest?.('.latent-slider')) log.inputs.push(e.timeStamp); }, true);
  const channel = new MessageChannel();
  channel.port1.onmessage = () => {
    const now = signature();
    if (now !== last) { last = now; log.changes.push(performance.now()); }
    if (!log.stop) channel.port2.postMessage(0);
  };
  channel.port2.postMessage(0);
}"""


def time_slider_drag(page, moves: int, gap_ms: int = 120) -> list[float]:
    """ms from each input event of a real mouse drag on slider 0 to the canvas's pixels changing."""
    page.evaluate(WATCH_SLIDER_PIXELS)
    track = page.locator("#slider-0 input[type=range]").bounding_box()
    y = track["y"] + track["height"] / 2
    page.mouse.move(track["x"] + 2, y)
    page.mouse.down()
    for k in range(moves):
        page.mouse.move(track["x"] + track["width"] * (0.05 + 0.9 * ((k * 37) % 101) / 100), y)
        page.wait_for_timeout(gap_ms)
    page.mouse.up()
    page.wait_for_timeout(300)
    log = page.evaluate("window.sliderPixels.stop = true, window.sliderPixels")
    return [next((c - t for c in log["changes"] if c >= t), float("nan")) for t in log["inputs"]]


# The server path: from the input event to the new <img> decoded in the page.
TIME_SERVER_MOVES = """async ([dims, moves]) => {
  const times = [];
  for (let k = 0; k < moves; k++) {
    const input = document.querySelector(`#slider-${dims[k % dims.length]} input[type=range]`);
    const before = document.querySelector('#slider-image img')?.src;
    input.value = (-3 + 6 * (((k * 37) % 101) / 100)).toFixed(2);
    const t0 = performance.now();
    input.dispatchEvent(new Event('input', {bubbles: true}));
    let img;
    while (performance.now() < t0 + 10000) {
      img = document.querySelector('#slider-image img');
      if (img && img.src !== before && img.complete && img.naturalWidth > 0) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    times.push(performance.now() - t0);
  }
  return times;
}"""

# A stroke on the drawing pad, one pointer move at a time, timed to the reconstruction on its canvas.
TIME_STROKE_MOVES = """async (moves) => {
  const pad = document.querySelector('#drawpad canvas');
  const box = pad.getBoundingClientRect();
  const at = (k) => ({clientX: box.left + box.width * (0.45 + 0.1 * Math.sin(k / 5)), clientY: box.top + box.height * (0.15 + 0.7 * k / moves),
                      bubbles: true, pointerId: 1});
  const frames = () => (vae.explorer.frames.drawing || {count: 0}).count;
  pad.dispatchEvent(new PointerEvent('pointerdown', at(0)));
  const times = [];
  for (let k = 1; k <= moves; k++) {
    const before = frames();
    const t0 = performance.now();
    pad.dispatchEvent(new PointerEvent('pointermove', at(k)));
    while (frames() === before && performance.now() < t0 + 5000) await new Promise((r) => setTimeout(r, 0));
    times.push(vae.explorer.frames.drawing.at - t0);
  }
  pad.dispatchEvent(new PointerEvent('pointerup', at(moves)));
  return times;
}"""


def percentiles(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], ordered[-1]


def _visit(context, url: str, wasm: bool = True) -> tuple[object, float, dict[str, int]]:
    """Open the page; seconds until the model runs in it (or the server fallback is on), bytes by kind."""
    page = context.new_page()
    if not wasm:
        page.add_init_script("delete window.WebAssembly;")
    received: dict[str, int] = {}

    def count(request):
        try:
            sizes = request.sizes()
        except Exception:  # a request that failed or was cancelled
            return
        kind = ("runtime" if "/vendor/" in request.url else "models" if request.url.endswith(".onnx") else
                "atlas" if "atlas.safetensors" in request.url else "test digits" if "test-digits" in request.url else "app")
        received[kind] = received.get(kind, 0) + sizes["responseBodySize"] + sizes["responseHeadersSize"]

    page.on("requestfinished", count)
    started = time.perf_counter()
    page.goto(url)
    ready = "vae-browser" if wasm else "vae-server"
    page.wait_for_function(f"document.body.classList.contains('{ready}')", timeout=120_000)
    seconds = time.perf_counter() - started
    if wasm:  # the test digits load after the model; count them too
        page.wait_for_function("!vae.explorer.config.sprite || vae.explorer.testDigits", timeout=60_000)
    page.wait_for_timeout(500)
    return page, seconds, received


def _open_sliders(page) -> None:
    page.get_by_role("tab", name="Latent sliders").click()
    page.wait_for_selector("#slider-0 input[type=range]", timeout=30_000)
    page.wait_for_timeout(300)


def measure(url: str, active_dims: list[int], moves: int, load=None) -> dict:
    """Everything a visitor feels; `load` (optional) is started in a thread once the page is up."""
    from playwright.sync_api import sync_playwright

    import tempfile

    out: dict = {}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        # a profile on disk, like a visitor's browser: its disk cache keeps the 14 MB runtime for the repeat visit
        # (a private context's memory cache does not)
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                       viewport={"width": 1280, "height": 1000})
        page, out["first_visit_s"], out["first_visit_bytes"] = _visit(context, url)
        page.close()
        page, out["repeat_visit_s"], out["repeat_visit_bytes"] = _visit(context, url)
        _open_sliders(page)
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url))
        out["slider_ms"] = page.evaluate(TIME_SLIDER_MOVES, [active_dims, moves])
        out["slider_requests"] = len(sent)
        out["slider_pixels_ms"] = time_slider_drag(page, moves)
        page.get_by_role("tab", name="Reconstructions").click()
        page.wait_for_selector("#drawpad canvas")
        out["stroke_ms"] = page.evaluate(TIME_STROKE_MOVES, max(20, moves // 2))
        if load is not None:
            _open_sliders(page)
            thread = threading.Thread(target=lambda: out.__setitem__("load", load()), daemon=True)
            thread.start()
            time.sleep(5)  # let the 50 clients ramp up
            out["slider_under_load_ms"] = page.evaluate(TIME_SLIDER_MOVES, [active_dims, moves])
            thread.join()
        page.close()
        server_page, _, _ = _visit(context, url, wasm=False)
        _open_sliders(server_page)
        server_page.wait_for_selector("#slider-image img", timeout=30_000)
        out["server_slider_ms"] = server_page.evaluate(TIME_SERVER_MOVES, [active_dims, max(10, moves // 5)])
        context.close()
    return out


def active_dimensions(metrics: dict, count: int = 4) -> list[int]:
    """The sliders to move: the app shows the most informative dimensions (largest KL) first, so the first `count`."""
    return list(range(min(count, len(metrics["final"]["kl_per_dim"]))))


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()
