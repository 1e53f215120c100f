"""The Timeline tab in headless Chromium: a checkpoint without a timeline offers one that has it; the scrubber and Play
redraw the snapshots in the page with no request; the traversal uses the decoder of that moment."""
import os
import shutil

import pytest

from tests.helpers import CHROMIUM, running_explorer, screenshot
from tests.test_browser import HAS_PICTURE, ROOT
from training.timeline import TIMELINE_DECODERS, TIMELINE_JSON, TIMELINE_TENSORS, load_timeline

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def timeline_app(tmp_path_factory, trained_checkpoint):
    """A checkpoint without a timeline (the shipped 2-D one with its timeline removed, as trained before timelines)
    and two tiny runs that recorded one."""
    root = tmp_path_factory.mktemp("checkpoints")
    shutil.copytree(ROOT / "checkpoints" / "mnist-z2", root / "mnist-z2")
    for name in (TIMELINE_JSON, TIMELINE_TENSORS, TIMELINE_DECODERS):
        (root / "mnist-z2" / name).unlink(missing_ok=True)
    shutil.copytree(trained_checkpoint, root / "tiny")
    shutil.copytree(trained_checkpoint, root / "tiny-b")  # a second run to put beside it
    args = ["--checkpoints-dir", str(root), "--checkpoint", str(root / "mnist-z2"), "--data-dir",
            str(tmp_path_factory.mktemp("no-data")), "--no-download"]
    with running_explorer(args, tmp_path_factory.mktemp("log") / "app.log", ROOT) as url:
        yield url, root


def test_the_timeline_is_scrubbed_and_played_in_the_page(timeline_app, chromium):
    url, root = timeline_app
    snapshots = len(load_timeline(root / "tiny", 4, 120).entries)
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(url + "?tab=timeline")
    page.wait_for_function("window.vae?.explorer?.mode === 'browser'", timeout=60_000)
    assert "has no timeline" in page.locator("#timeline-notice").inner_text()
    page.get_by_role("button", name="Switch to tiny, which has one").click()  # one click to a checkpoint with one
    page.wait_for_function("vae.explorer.name === 'tiny' && vae.explorer.frames.timeline", timeout=30_000)
    assert page.locator("#timeline-caption").inner_text().startswith(f"snapshot {snapshots} of {snapshots} ·")
    assert page.evaluate(HAS_PICTURE, "canvas#timeline-map")
    page.wait_for_function("vae.explorer.frames['timeline-traversal']", timeout=30_000)  # the last decoder kept
    screenshot(page, "timeline-last.png")

    requests = []
    page.on("request", lambda r: requests.append(r.url))
    drawn = page.evaluate("vae.explorer.frames.timeline.count")
    page.locator("#timeline-step").fill("0")  # a real input event on the scrubber
    page.wait_for_function("(n) => vae.explorer.frames.timeline.count > n", arg=drawn, timeout=10_000)
    assert "· step 0 · epoch 0.00 ·" in page.locator("#timeline-caption").inner_text()
    page.wait_for_function("document.getElementById('timeline-traversal').style.visibility === 'hidden'")
    assert "scrub to one of them" in page.locator("#timeline-traversal-caption").inner_text()  # no decoder at step 0
    assert requests == []  # every snapshot is already in the page
    screenshot(page, "timeline-first.png")

    page.get_by_role("button", name="▶ Play").click()
    page.wait_for_function("Number(document.getElementById('timeline-step').value) >= 2", timeout=10_000)
    page.get_by_role("button", name="⏸ Pause").click()

    page.select_option("#timeline-compare", "tiny-b")  # side by side: the other run at the same step
    step = page.evaluate("vae.explorer.timelineData.snapshots[Number(document.getElementById('timeline-step').value)].step")
    page.wait_for_function("document.getElementById('timeline-other-caption').textContent.startsWith('tiny-b at step')",
                           timeout=20_000)
    assert f"tiny-b at step {step} " in page.locator("#timeline-other-caption").inner_text()
    screenshot(page, "timeline-compare.png")

    page.goto(url + "?checkpoint=tiny&tab=timeline&step=5")  # a link to a moment
    page.wait_for_function("window.vae?.explorer?.frames?.timeline", timeout=60_000)
    page.wait_for_function("document.getElementById('timeline-caption').textContent.includes('· step 5 ·')", timeout=20_000)
