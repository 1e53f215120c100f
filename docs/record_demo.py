"""Record docs/demo-sliders.webp: the real app in headless Chromium, two latent sliders dragged in a loop, every frame a
screenshot of the decoded digit, its nearest test digits and the sliders.

    .venv/bin/python docs/record_demo.py --data-dir ../shared/mnist
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
    small = [s.resize((s.width * 3 // 4, s.height * 3 // 4), Image.LANCZOS) for s in shots]
    small[0].save(out, save_all=True, append_images=small[1:], duration=90, loop=0, quality=70, method=6)
    print(f"wrote {out}: {len(small)} frames, {out.stat().st_size / 1024:.0f} KiB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="data")
    p.add_argument("--frames", type=int, default=36)
    p.add_argument("--out", default=str(ROOT / "docs" / "demo-sliders.webp"))
    args = p.parse_args()
    log = Path(args.out).with_suffix(".log")
    with running_explorer(["--data-dir", args.data_dir, "--no-download"], log, ROOT) as url:
        record(url, Path(args.out), args.frames)
    log.unlink()


if __name__ == "__main__":
    main()
