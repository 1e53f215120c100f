"""`python -m benchmarks.timeline_browser`: the Timeline tab as a visitor feels it, timed in headless Chromium with the
page's clock: the tab's first picture (its files fetched and parsed), then scrubber moves from the input event to the
snapshot drawn and to the next painted frame → benchmarks/results-timeline-browser.md."""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from tests.helpers import running_explorer

from .__main__ import ROOT, cpu_flags, cpu_name, table, write_results
from .browser_speed import CHROMIUM, CHROMIUM_ARGS, percentiles

OUT = Path(__file__).resolve().parent / "results-timeline-browser.md"

# Each move: set the scrubber, fire its input event; the snapshot is drawn in the listener, painted at the next frame.
TIME_SCRUB_MOVES = """async (moves) => {
  const scrubber = document.getElementById('timeline-step');
  const last = Number(scrubber.max);
  const drawn = [], painted = [];
  for (let k = 0; k < moves; k++) {
    scrubber.value = String((k * 7) % (last + 1));
    const t0 = performance.now();
    scrubber.dispatchEvent(new Event('input', {bubbles: true}));
    drawn.push(vae.explorer.frames.timeline.at - t0);
    await new Promise((r) => requestAnimationFrame(() => r()));
    painted.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  return [drawn, painted];
}"""


def measure(url: str, checkpoint: str, moves: int) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{url}?checkpoint={checkpoint}")
        page.wait_for_function("window.vae?.explorer?.mode === 'browser'", timeout=90_000)
        page.evaluate("document.addEventListener('click', () => { window.clickedAt = performance.now(); }, true)")
        page.get_by_role("tab", name="Timeline").click()
        page.wait_for_function("vae.explorer.frames.timeline", timeout=60_000, polling=10)
        first = page.evaluate("vae.explorer.frames.timeline.at - window.clickedAt")
        snapshots = page.evaluate("vae.explorer.timelineData.snapshots.length")
        drawn, painted = page.evaluate(TIME_SCRUB_MOVES, moves)
        browser.close()
    return {"first_ms": first, "snapshots": snapshots, "drawn": drawn, "painted": painted}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.timeline_browser", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="default", help="a shipped checkpoint with a timeline")
    p.add_argument("--moves", type=int, default=200)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    log = Path(args.out).with_suffix(".log")
    with running_explorer(["--data-dir", "../shared/mnist", "--no-download"], log, ROOT) as url:
        m = measure(url, args.checkpoint, args.moves)
    log.unlink()
    ms = lambda t: " / ".join(f"{x:.1f}" for x in percentiles(t))  # noqa: E731
    lines = [f"Measured {datetime.date.today()} on {cpu_name()} ({cpu_flags()}) · headless Chromium", "",
             f"### The Timeline tab of `{args.checkpoint}` ({m['snapshots']} snapshots)", ""]
    lines += table(["interaction (ms)", "count", "p50 / p95 / max"], [
        ["tab click → first snapshot drawn (timeline files fetched and parsed)", 1, f"{m['first_ms']:.1f}"],
        ["scrubber input → snapshot drawn", len(m["drawn"]), ms(m["drawn"])],
        ["scrubber input → next painted frame", len(m["painted"]), ms(m["painted"])],
    ])
    return write_results(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
