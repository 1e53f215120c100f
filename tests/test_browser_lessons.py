"""The Lessons tab in headless Chromium: it draws the first time it is shown, a pick redraws it, a link opens a lesson."""
import os

import pytest

from tests.helpers import CHROMIUM, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def test_the_lessons_tab_draws_on_open_redraws_on_a_pick_and_opens_from_a_link(mnist_app, chromium):
    """On tests/conftest.py's mnist_app: the lessons family as four copies of one tiny checkpoint, said to be of MNIST
    and trained as each lesson says, with 120 test images in MNIST's layout (as many as its atlas encoded)."""
    lessons_app, _ = mnist_app
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
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
    screenshot(page, "lessons.png")
    linked = chromium.new_page(viewport={"width": 1280, "height": 1000})
    linked.goto(lessons_app + "?lesson=mse")
    linked.locator("#lesson-note").get_by_text("MSE instead of BCE").wait_for(timeout=60_000)
    assert linked.get_by_label("MSE instead of BCE").is_checked()
