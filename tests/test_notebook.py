"""notebooks/vae_lab.ipynb executed headless (nbclient + ipykernel) on a few synthetic images: the lab's own loop
trains, `explore(vae)` serves the explorer on that model, and the page in Chromium shows it, then adds its maps."""
import os
import re
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from tests.helpers import CHROMIUM, SHARED_CHROMIUM, screenshot, write_tiny_mnist

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "vae_lab.ipynb"


def text_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


class Kernel:
    """The notebook's kernel, kept alive after its cells ran so the test can ask it more."""

    def __init__(self, client, nb):
        self.client, self.nb = client, nb

    def run(self, source: str) -> str:
        cell = new_code_cell(source)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return text_of(cell)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    data = write_tiny_mnist(tmp_path_factory.mktemp("mnist"), n_train=256, n_test=64)
    env = {"VAE_LAB_DATA": str(data), "VAE_LAB_EPOCHS": "1", "VAE_LAB_TEST_IMAGES": "48", "VAE_LAB_UMAP": "0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            yield nb, Kernel(client, nb)
            Kernel(client, nb).run("explorer.close()")
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def test_the_lab_trains_and_explore_serves_its_model(executed):
    nb, kernel = executed
    printed = text_of(nb.cells[-1]) or text_of(nb.cells[-2])
    url = re.search(r"http://127\.0\.0\.1:\d+/", "".join(text_of(c) for c in nb.cells)).group(0)
    assert "Epoch 0" in "".join(text_of(c) for c in nb.cells) and url in printed + "".join(text_of(c) for c in nb.cells)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the lab's true and reconstructed grids
    config = httpx.get(url + "config", timeout=30).json()
    picker = next(c for c in config["components"] if c.get("props", {}).get("label") == "Checkpoint")
    choices = [choice[0] if isinstance(choice, (list, tuple)) else choice for choice in picker["props"]["choices"]]
    assert picker["props"]["value"] == "my-vae" and "my-vae" in choices and "default" in choices  # the family beside it
    assert kernel.run("print(explorer.folder.name, sorted(p.name for p in explorer.folder.iterdir())[:3])").startswith(
        "my-vae ['atlas.safetensors', 'config.json', 'decoder.onnx']")

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed: the page was not drawn")
    page = SHARED_CHROMIUM.browser().new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(url)
        page.wait_for_function("document.body.classList.contains('vae-browser')", timeout=60_000)
        page.get_by_text("imported from VAE from a notebook").first.wait_for(timeout=30_000)
        kernel.run("explorer.finishing.join(120)")  # t-SNE and the scores of 48 images: a second or two
        assert kernel.run("print(explorer.still_computing(), explorer.log[-1])").startswith("False added the maps")
        page.get_by_text("still being computed").wait_for(state="detached", timeout=30_000)  # the page redrew itself
        screenshot(page, "notebook-explore.png", full_page=False)
    finally:
        page.context.close()
