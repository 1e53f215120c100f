"""A checkpoint with markup in every text field, opened in headless Chromium: every tab visited, the plots hovered,
compared with another checkpoint. Nothing from the payloads becomes an element, a request or a dialog; the page
works and shows the text as text."""
import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from tests.helpers import CHROMIUM, running_explorer, screenshot
from tests.test_browser import HAS_PICTURE, ROOT
from training import safe_text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
# Each kind of markup a renderer on the page might honour: HTML (Markdown and toasts pass it through a sanitiser that
# keeps <img> and <style>), Markdown images and links, plotly's tags and %{…} templates, KaTeX's $$…$$.
PAYLOADS = ["<img src=pwn-{k}.png class=pwn>", "![pwn](pwn-{k}.png)", "[pwn{k}](javascript:alert({k}))",
            "<b class=pwn>%{{x}}{k}</b>", "$$\\href{{pwn}}{{{k}}}$$", "<style class=pwn>*{{color:red}}</style>"]
FOLDER = "<img src=pwn-folder class=pwn>**x**"  # a folder name has no /
# (a data: URL — the traversal's download link — may hold "pwn" in its base64 by chance)
HOSTILE_SELECTOR = ('.pwn, img[src*=pwn]:not([src^="data:"]), a[href*=pwn]:not([href^="data:"]), a[href^=javascript], '
                    '.katex, style.pwn')
PAGE_ELEMENTS = f"document.querySelectorAll({json.dumps(HOSTILE_SELECTOR)}).length"


def payload(k: int) -> str:
    return PAYLOADS[k % len(PAYLOADS)].format(k=k)


def plant_payloads(folder: Path) -> None:
    """Every string of config.json (except the two the loader checks against a list) and new strings in metrics.json."""
    config = json.loads((folder / "config.json").read_text())
    counter = iter(range(10_000))

    def replace_strings(node):
        if isinstance(node, dict):
            return {key: replace_strings(value) for key, value in node.items()}
        if isinstance(node, list):
            return [replace_strings(value) for value in node]
        return payload(next(counter)) if isinstance(node, str) else node

    for section in ("data", "versions", "argv", "probe"):
        config[section] = replace_strings(config.get(section, {"note": "x"}))
    config["data"]["class_names"] = [payload(k) for k in range(10)]
    (folder / "config.json").write_text(json.dumps(config))
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["note"] = payload(100)
    metrics["final"]["note"] = payload(101)
    metrics["history"][0]["note"] = payload(102)
    (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    shutil.copytree(ROOT / "checkpoints" / "mnist-z2", root / FOLDER)
    shutil.copytree(ROOT / "checkpoints" / "mnist-z2", root / "plain-z2")
    plant_payloads(root / FOLDER)
    no_data = tmp_path_factory.mktemp("no-data")
    args = ["--checkpoints-dir", str(root), "--checkpoint", str(root / FOLDER), "--data-dir", str(no_data), "--no-download"]
    with running_explorer(args, tmp_path_factory.mktemp("log") / "app.log", ROOT) as url:
        yield url


# Every element a payload could become, recorded the moment it enters the page (or an attribute turns an element into
# one), from the document's start: a view that showed a payload as markup for a moment and then redrew is caught too,
# whenever the test looks.
WATCH_PAGE = """(() => {
  const hostile = %s;
  window.hostileSeen = [];
  const check = (node) => {
    if (node.nodeType !== 1) return;
    for (const el of [node, ...node.querySelectorAll(hostile)]) {
      if (el.matches(hostile)) window.hostileSeen.push(el.outerHTML.slice(0, 200));
    }
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes') check(m.target); else m.addedNodes.forEach(check);
    }
  }).observe(document, {subtree: true, childList: true, attributes: true});
})();""" % json.dumps(HOSTILE_SELECTOR)

# What each view shows once it has drawn, for this 2-D checkpoint on a server without test images: its canvases and
# images (tests/test_browser.py's HAS_PICTURE), its plots with their points (hovered below), the comparison done.
PLOTTED = """(n) => Array.from(document.querySelectorAll('.js-plotly-plot')).filter((p) => p.offsetParent
  && (p._fullData || []).some((trace) => trace._length > 0)).length >= n"""
DRAWN = {
    "Sample vs mean": ["canvas#sv-canvas", "#sv-widths .js-plotly-plot"],
    "Latent sliders": ["canvas#slider-canvas", "canvas#nearest-canvas", "#kl-bars .js-plotly-plot"],
    "Traversals": ["canvas#traversal-canvas"],
    "Latent map": ["#latent-map .js-plotly-plot"],
    "2-D manifold": ["canvas#manifold-canvas"],
    "Interpolate & sample": ["canvas#interp-canvas", "canvas#prior-canvas"],
    "Compare": ["#compare-table table"],
    "Checkpoint": [".json-holder, [data-testid=json]"],
    "Reconstructions": ["#pairs img"],
}
PLOTS = {"Compare": 2}  # its KL and map plots, drawn once both checkpoints are compared (on open)
QUIET = """(ms) => { if (!window.lastChange) { window.lastChange = performance.now();
  new MutationObserver(() => { window.lastChange = performance.now(); }).observe(document, {subtree: true, childList: true,
    attributes: true, characterData: true}); }
  return performance.now() - window.lastChange > ms; }"""


def test_markup_in_every_text_field_is_shown_as_text_in_every_view(hostile_app, chromium):
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    dialogs, requests, errors = [], [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # a payload's own resource (pwn-3.png, pwn-folder); the checkpoint's files have the folder's name in their path
    page.on("request", lambda r: requests.append(r.url) if urlparse(r.url).path.rsplit("/", 1)[-1].startswith("pwn") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(WATCH_PAGE)
    page.goto(hostile_app + "?checkpoint=" + quote(FOLDER) + "&point=" + quote("<b class=pwn>"))
    page.wait_for_function("document.body.classList.contains('vae-browser')", timeout=60_000)
    assert safe_text.plain(FOLDER) in page.locator("body").inner_text()  # the name, shown as itself
    for tab in ("Sample vs mean", "Latent sliders", "Traversals", "Latent map", "2-D manifold", "Interpolate & sample",
                "Compare", "Checkpoint", "Reconstructions"):
        page.get_by_role("tab", name=tab).click()
        for selector in DRAWN[tab]:  # the view has drawn, with the checkpoint's strings in it
            page.wait_for_function(HAS_PICTURE, arg=selector, timeout=30_000)
        if tab == "Compare":
            page.wait_for_function("vae.explorer.frames.compare", timeout=30_000)  # both picked, compared on open
            assert "pwn" in page.locator("#compare-table").inner_text()  # the name, as text in the table
        page.wait_for_function(PLOTTED, arg=PLOTS.get(tab, 0), timeout=30_000)
        for plot in page.locator(".js-plotly-plot:visible").all():  # hover every plot over its points
            box = plot.bounding_box()
            for fx, fy in ((0.5, 0.5), (0.3, 0.6), (0.7, 0.4), (0.45, 0.55)):
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                page.wait_for_timeout(80)
            assert page.evaluate(PAGE_ELEMENTS) == 0, tab
        assert page.evaluate(PAGE_ELEMENTS) == 0 and page.evaluate("window.hostileSeen") == [], tab
    page.get_by_role("tab", name="Latent map").click()
    legend = page.evaluate("Array.from(document.querySelectorAll('#latent-map .legendtext'), (t) => t.textContent)")
    assert "<img src=pwn-0.png class=pwn>" in legend  # a class name as text in plotly's legend
    screenshot(page, "hostile.png")
    page.wait_for_function(QUIET, arg=500, timeout=30_000)  # every view's late answers and redraws have arrived
    assert page.evaluate(PAGE_ELEMENTS) == 0 and page.evaluate("window.hostileSeen") == []  # never, at any moment
    assert dialogs == [] and requests == [] and errors == []
    assert page.evaluate("typeof vae.explorer.model.decode") == "function"  # still works: the model runs
