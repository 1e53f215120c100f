"""The Train tab in headless Chromium, two visitors on one simulated shared server: the first trains and watches its
curves, map and digits arrive; the second's run waits in the queue; a reload re-attaches; Stop keeps the saved
epochs; the second run then trains, finishes, downloads as a zip and opens in the other tabs. (What a newcomer sees
once nothing trains, the last run, is checked without a browser in tests/test_train_runs.py: the page draws it as it
draws any run.)"""
import json
import os
import subprocess
import sys
import time
import zipfile

import pytest

from tests.helpers import CHROMIUM, screenshot
from tests.test_browser import HAS_PICTURE, ROOT
from training.checkpoint import load_checkpoint
from training.live import read_progress

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
STATUS = "document.getElementById('train-status')?.innerText || ''"


def _start(page, name, epochs):
    page.locator("#train-name textarea, #train-name input").fill(name)
    box = page.locator("#train-epochs input[type=number]")
    box.fill(str(epochs))
    box.press("Enter")
    page.locator("#train-start").click()


def test_two_visitors_train_queue_watch_stop_and_open(mnist_app, chromium):
    """On tests/conftest.py's mnist_app: a little MNIST (2,048 training images), a runs folder of its own, at most 30
    epochs a run and 3 runs kept."""
    url, runs = mnist_app
    alice = chromium.new_context(viewport={"width": 1280, "height": 1300}).new_page()
    bob = chromium.new_context(viewport={"width": 1280, "height": 1300}).new_page()  # its own browser storage
    for page in (alice, bob):  # both pages load at once
        page.goto(url + "?tab=train", wait_until="commit")
    for page in (alice, bob):
        page.wait_for_selector("#train-start")
    _start(alice, "long-run", 30)
    alice.wait_for_function(f"({STATUS}).includes('Training long-run') && ({STATUS}).includes('images/s')", timeout=60_000)
    # the live view: curves from the progress file, and the map and digits from the latest snapshot (the tab
    # drew the open checkpoint's run as an example before: wait until the page has drawn this run instead)
    alice.wait_for_function("document.getElementById('train-caption').innerText.startsWith('long-run')",
                            timeout=30_000)
    alice.wait_for_function(HAS_PICTURE, arg="canvas#train-map", timeout=30_000)
    assert alice.evaluate(HAS_PICTURE, "canvas#train-curves") and alice.evaluate(HAS_PICTURE, "canvas#train-recon")
    assert alice.locator("#train-caption").inner_text().startswith("long-run: step ")
    screenshot(alice, "train-live.png")

    _start(bob, "queued-run", 1)
    bob.wait_for_function(f"({STATUS}).includes('number 1 in the queue') && ({STATUS}).includes('long-run is training now')",
                          timeout=30_000)
    bob.wait_for_function(HAS_PICTURE, arg="canvas#train-map", timeout=30_000)  # meanwhile it watches the other run

    alice.reload()  # re-attaches to the run in progress (the visitor's id is kept in the browser)
    alice.get_by_role("tab", name="Train").click()
    alice.wait_for_function(f"({STATUS}).includes('Training long-run')", timeout=30_000)
    deadline = time.monotonic() + 60
    while (read_progress(runs / "_live" / "long-run") or {}).get("saved_epochs", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    # the run holds its folder's writer lock: a second writer (here the command line) is refused at once
    second = subprocess.run([sys.executable, "-m", "training", "--out", str(runs / "long-run"), "--resume"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and "is being written by another run" in second.stderr
    assert "long-run" not in alice.evaluate("Array.from(document.querySelectorAll('#compare-pick label')).map((l) => l.innerText).join()")
    alice.locator("#train-stop").click()  # after its first saved epoch: that is kept
    alice.wait_for_function(f"({STATUS}).includes('long-run (MNIST') && ({STATUS}).includes('stopped')", timeout=60_000)

    bob.wait_for_function(f"({STATUS}).includes('queued-run') && ({STATUS}).includes('is trained')", timeout=120_000)
    screenshot(bob, "train-done.png")
    with bob.expect_download() as download:
        bob.locator("#train-download").click()
    with zipfile.ZipFile(download.value.path()) as archive:
        assert {"queued-run/config.json", "queued-run/model.safetensors", "queued-run/decoder.onnx"} <= set(archive.namelist())
    bob.locator("#train-open").click()
    bob.wait_for_function("vae.explorer.name === 'queued-run' && vae.explorer.mode === 'browser'", timeout=60_000)
    assert "queued-run" in bob.locator("#component-0, body").first.inner_text()
    bob.get_by_role("tab", name="Latent sliders").click()
    bob.wait_for_function(HAS_PICTURE, arg="canvas#slider-canvas", timeout=30_000)
    bob.get_by_role("tab", name="Compare").click()
    choices = bob.locator("#compare-pick").inner_text()
    assert "queued-run" in choices and "long-run" in choices  # the stopped run kept its saved epochs
    screenshot(bob, "train-opened-sliders.png")
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith((".", "_"))) == ["long-run", "queued-run"]
    assert len(load_checkpoint(runs / "long-run").metrics["history"]) >= 1  # the epochs saved before Stop
    done = load_checkpoint(runs / "queued-run")
    assert done.config.train.epochs == 1 and "tsne" in done.atlas  # PCA first, the t-SNE map added after
    progress = read_progress(runs / "_live" / "queued-run")
    assert progress["state"] == "done" and len(progress["train"]) == progress["steps"] == 2
    snapshots = json.loads((runs / "_live" / "queued-run" / "timeline.json").read_text())["snapshots"]
    assert progress["snapshots"] == len(snapshots) and snapshots[-1]["step"] == 2
