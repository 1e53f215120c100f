"""`python -m benchmarks.map_thumbnails --data-dir ../shared/mnist`: frames per second while panning the latent map
in headless Chromium, with the 10,000 test digits drawn on it (web/thumbnails.js) against the plain dots →
benchmarks/results-thumbnails.md. A real mouse drag (Playwright), frames counted in the page (requestAnimationFrame)
and the thumbnails' own redraws."""
from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from tests.helpers import free_port

from .__main__ import cpu_flags, cpu_name, table, write_results
from .app_server import running_app
from .browser_speed import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "results-thumbnails.md"
COUNT_FRAMES = """() => { window.vaeFrames = 0; const tick = () => { window.vaeFrames++; requestAnimationFrame(tick); };
  requestAnimationFrame(tick); window.vaeFramesFrom = performance.now();
  window.vaeThumbsFrom = vae.explorer.thumbnails ? vae.explorer.thumbnails.frames : 0; }"""
READ_FRAMES = """() => { const s = (performance.now() - window.vaeFramesFrom) / 1000;
  return [window.vaeFrames / s, ((vae.explorer.thumbnails ? vae.explorer.thumbnails.frames : 0) - window.vaeThumbsFrom) / s, s]; }"""


def pan(page, moves: int = 120) -> list[float]:
    """Drag the map left and right with the mouse; the page's frame rate and the thumbnail layer's updates per second."""
    box = page.locator("#latent-map .nsewdrag").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.evaluate(COUNT_FRAMES)
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(moves):
        page.mouse.move(x + 150 * ((k % 40) / 20 - 1), y + 40 * ((k % 20) / 10 - 1))
    page.mouse.up()
    return page.evaluate(READ_FRAMES)


def main() -> int:
    from playwright.sync_api import sync_playwright

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/mnist")
    args = p.parse_args()
    rows = []
    with running_app(ROOT / "checkpoints" / "default", args.data_dir, free_port()) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app.url + "?tab=map")
        page.wait_for_function("window.vae?.explorer?.thumbnails && (document.querySelector('#latent-map .js-plotly-plot')?._fullData || []).length >= 10",
                               timeout=120_000)
        page.wait_for_timeout(2000)
        for label, on in (("dots only", False), ("thumbnails, all 10,000", True)):
            page.evaluate("(on) => vae.explorer.toggleThumbnails(on)", on)
            page.wait_for_timeout(500)
            fps, redraws, seconds = pan(page)
            # one full redraw of the layer and one mid-gesture move, in the page's clock (median of 20)
            draw_ms, follow_ms = page.evaluate("""() => { const p = document.querySelector('#latent-map .js-plotly-plot'), t = vae.explorer.thumbnails;
                const time = (f) => { const s = []; for (let k = 0; k < 20; k++) { const t0 = performance.now(); f(); s.push(performance.now() - t0); }
                  return s.sort((a, b) => a - b)[10]; };
                const r = p._fullLayout.xaxis.range, q = p._fullLayout.yaxis.range;
                const moved = {'xaxis.range[0]': r[0] + 0.1, 'xaxis.range[1]': r[1] + 0.1, 'yaxis.range[0]': q[0], 'yaxis.range[1]': q[1]};
                return [time(() => t.draw(p)), time(() => t.follow(p, moved))]; }""") if on else ("", "")
            rows.append([label, f"{120 / seconds:.1f}", f"{fps:.1f}", f"{redraws:.1f}", f"{draw_ms:.1f}" if on else "",
                         f"{follow_ms:.2f}" if on else ""])
        browser.close()
    lines = ["# Panning the latent map with thumbnails", "",
             f"{datetime.date.today()} · {cpu_name()} · {cpu_flags()} · headless Chromium, software rendering · "
             "`python -m benchmarks.map_thumbnails`", "",
             *table(["map", "pan steps / s (a real mouse drag, 120 steps)", "page frames / s", "thumbnail layer updates / s",
                     "full redraw of 10,000 digits, ms", "mid-gesture move, ms"], rows), "",
             "A pan step is plotly's own WebGL redraw plus ours; headless Chromium here renders WebGL in software, so "
             "the dots alone set the pace. During a gesture the digits layer is only moved (a CSS transform); it is "
             "redrawn once the gesture ends."]
    return write_results(lines, OUT)


if __name__ == "__main__":
    raise SystemExit(main())
