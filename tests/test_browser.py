"""The real app in headless Chromium: page loads, a slider decodes, a drawing is reconstructed, the map renders and clicks."""
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]



@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`python -m explorer` on the shipped checkpoint, with no MNIST reachable (the tabs that need none must work)."""
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "explorer", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(tmp_path_factory.mktemp("no-mnist")), "--no-download"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"the app exited: {log.read_text()}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        page.wait_for_selector("text=VAE explorer", timeout=60_000)
        yield page
        browser.close()


def _src(page, selector):
    return page.locator(f"{selector} img").first.get_attribute("src", timeout=30_000)


def test_a_slider_move_changes_the_decoded_image(page):
    page.get_by_role("tab", name="Latent sliders").click()
    before = _src(page, "#slider-image")
    number = page.locator("#z0 input[type=number]")
    number.fill("2.5")
    page.locator("#z0 input[type=range]").dispatch_event("input")
    number.press("Enter")
    page.wait_for_function(
        "(before) => { const i = document.querySelector('#slider-image img'); return i && i.src !== before; }",
        arg=before, timeout=30_000,
    )


def test_a_drawn_digit_is_reconstructed(page):
    page.get_by_role("tab", name="Reconstructions").click()
    canvas = page.locator("#sketch canvas").last
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * (0.2 + 0.06 * step), steps=2)
    page.mouse.up()
    page.wait_for_selector("#user-recon img", timeout=30_000)
    assert "reconstruction" in page.locator("#user-message").inner_text(timeout=30_000)


def test_the_map_renders_and_a_click_shows_the_digit(page, tmp_path):
    page.get_by_role("tab", name="Latent map").click()
    page.wait_for_selector("#latent-map .js-plotly-plot .scatterlayer, #latent-map .js-plotly-plot canvas", timeout=60_000)
    page.wait_for_function("() => { const p = document.querySelector('#latent-map .js-plotly-plot'); return p && p.data && p.data.length >= 10; }", timeout=30_000)
    # click exactly on a data point: ask plotly where point 0 of trace 0 is drawn
    x, y = page.evaluate("""() => {
        const p = document.querySelector('#latent-map .js-plotly-plot');
        const xa = p._fullLayout.xaxis, ya = p._fullLayout.yaxis, r = p.querySelector('.nsewdrag').getBoundingClientRect();
        const trace = p._fullData[0];
        return [r.left + xa.l2p(trace.x[0]), r.top + ya.l2p(trace.y[0])];
    }""")
    page.mouse.click(x, y)
    page.wait_for_selector("#clicked-recon img", timeout=30_000)
    assert "digit" in page.locator("#clicked-caption").inner_text()
    shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "latent-map.png"), full_page=True)
