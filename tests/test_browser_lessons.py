"""The Lessons tab in headless Chromium: it draws the first time it is shown, a pick redraws it, a link opens a lesson."""
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import running_explorer, write_tiny_mnist
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def lessons_app(tmp_path_factory, trained_checkpoint):
    """The lessons family as four copies of one tiny checkpoint, said to be of MNIST and trained as each lesson says,
    with 120 test images in MNIST's layout (as many as its atlas encoded)."""
    root = tmp_path_factory.mktemp("checkpoints")
    trained_as = {"lesson-default": {}, "lesson-normal": {"sampling": "normal"}, "lesson-mean": {"sampling": "mean"},
                  "lesson-mse": {"reconstruction": "mse"}}  # what the tab checks before it shows a lesson
    for name, settings in trained_as.items():
        shutil.copytree(trained_checkpoint, root / name)
        config = json.loads((root / name / "config.json").read_text())
        config["data"]["dataset"] = "mnist"
        config["train"].update(settings)
        (root / name / "config.json").write_text(json.dumps(config))
    data = write_tiny_mnist(tmp_path_factory.mktemp("data"), n_train=64, n_test=120)  # the checkpoint's test images
    args = ["--checkpoints-dir", str(root), "--data-dir", str(data), "--no-download", "--no-train"]
    with running_explorer(args, tmp_path_factory.mktemp("log") / "app.log", ROOT) as url:
        yield url


def test_the_lessons_tab_draws_on_open_redraws_on_a_pick_and_opens_from_a_link(lessons_app, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(lessons_app)
        page.wait_for_function("window.vae?.explorer?.config", timeout=60_000)
        page.get_by_role("tab", name="Lessons").click()
        note = page.locator("#lesson-note")
        note.get_by_text("Measured:").wait_for(timeout=30_000)  # drawn on open, nothing pressed
        assert "torch.normal instead of rsample" in note.inner_text()
        page.locator("#lesson-image img").wait_for(timeout=30_000)
        assert page.locator("#lesson-table [role=grid]").get_attribute("aria-rowcount") == "11"  # a header and 10 figures
        page.get_by_label("the mean passed to the decoder").check()
        note.get_by_text("the mean passed to the decoder").wait_for(timeout=30_000)
        shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "lessons.png"), full_page=True)
        linked = browser.new_page(viewport={"width": 1280, "height": 1000})
        linked.goto(lessons_app + "?lesson=mse")
        linked.locator("#lesson-note").get_by_text("MSE instead of BCE").wait_for(timeout=60_000)
        assert linked.get_by_label("MSE instead of BCE").is_checked()
        browser.close()
