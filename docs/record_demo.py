"""Record the README's animations from the real app in headless Chromium: docs/demo-sliders.webp (two latent sliders
dragged in a loop: the decoded digit, its nearest test digits, the sliders) and docs/demo-timeline.webp (mnist-z2's
Timeline tab stepped through its snapshots: the map forming, the loss curves, the reconstructions).

    .venv/bin/python docs/record_demo.py --data-dir ../shared/mnist [--what sliders|timeline]
"""
from __future__ import annotations

import argparse
import io
import math
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests.helpers import running_explorer  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def drag_to(page, slider: int, fraction: float) -> None:
    """Move latent slider `slider` to `fraction` of its track with a real mouse drag (input events, as a user would)."""
    track = page.locator(f"#slider-{slider} input[type=range]").bounding_box()
    y = track["y"] + track["height"] / 2
    x = track["x"] + track["width"] * fraction
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 1, y)
    page.mouse.up()


def record(url: str, out: Path, frames: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url + "?tab=sliders")
        page.wait_for_function("window.vae?.explorer?.mode === 'browser' && vae.explorer.testDigits", timeout=90_000)
        page.wait_for_timeout(1000)
        drag_to(page, 0, 0.9)  # the digit and its 8 nearest test digits drawn: the picture's final height
        page.wait_for_timeout(300)
        top = page.locator("#slider-canvas").bounding_box()["y"]
        caption = page.locator("#nearest-caption").bounding_box()
        clip = {"x": 0, "y": top - 10, "width": 1100, "height": caption["y"] + caption["height"] - top + 20}
        shots = []
        for k in range(frames):  # a loop in the plane of the two most informative dimensions
            angle = 2 * math.pi * k / frames
            drag_to(page, 0, 0.5 + 0.4 * math.cos(angle))
            drag_to(page, 1, 0.5 + 0.4 * math.sin(angle))
            page.wait_for_timeout(60)
            shots.append(Image.open(io.BytesIO(page.screenshot(clip=clip, full_page=True))).convert("RGB"))
        browser.close()
    save_animation(shots, out, duration=90)


def save_animation(shots: list, out: Path, duration: int) -> None:
    small = [s.resize((s.width * 3 // 4, s.height * 3 // 4), Image.LANCZOS) for s in shots]
    small[0].save(out, save_all=True, append_images=small[1:], duration=duration, loop=0, quality=70, method=6)
    print(f"wrote {out}: {len(small)} frames, {out.stat().st_size / 1024:.0f} KiB")


def record_timeline(url: str, out: Path) -> None:
    """Every snapshot of mnist-z2's timeline, as the scrubber shows it (the last one held longer)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "?checkpoint=mnist-z2&tab=timeline")
        page.wait_for_function("window.vae?.explorer?.mode === 'browser' && vae.explorer.frames.timeline", timeout=90_000)
        last = int(page.locator("#timeline-step").get_attribute("max"))
        shots = []
        for k in list(range(last + 1)) + [last] * 8:
            page.locator("#timeline-step").fill(str(k))
            page.wait_for_timeout(60)
            box = page.locator("#timeline-view").bounding_box()
            clip = {"x": box["x"], "y": box["y"], "width": 860, "height": 440}
            shots.append(Image.open(io.BytesIO(page.screenshot(clip=clip, full_page=True))).convert("RGB"))
        browser.close()
    save_animation(shots, out, duration=220)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="data")
    p.add_argument("--frames", type=int, default=36)
    p.add_argument("--what", choices=["sliders", "timeline"], default="sliders")
    args = p.parse_args()
    out = ROOT / "docs" / f"demo-{args.what}.webp"
    log = out.with_suffix(".log")
    with running_explorer(["--data-dir", args.data_dir, "--no-download"], log, ROOT) as url:
        if args.what == "sliders":
            record(url, out, args.frames)
        else:
            record_timeline(url, out)
    log.unlink()


if __name__ == "__main__":
    main()
