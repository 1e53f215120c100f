"""Small real inputs for the tests: MNIST-format IDX files and synthetic digit-like images."""
from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import torch

from benchmarks.browser_speed import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 (one Chromium set-up for tests and benchmarks)
from training.data import ImageSplit


def synthetic_digits(n: int, seed: int = 0) -> ImageSplit:
    """uint8 28×28 images of bright strokes whose position depends on the label, so there is something to learn."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    for i, label in enumerate(labels.tolist()):
        row = 4 + 2 * label
        col = int(torch.randint(4, 12, (1,), generator=g))
        images[i, row : row + 3, col : col + 12] = 255
        images[i, 4:24, 20 - label // 2 : 22 - label // 2] = 200
    return ImageSplit(images, labels)


def write_idx(path: Path, tensor: torch.Tensor) -> None:
    """Write a uint8 tensor in the IDX format MNIST ships in (magic 0x08, ndim, big-endian dims)."""
    header = struct.pack(">HBB", 0, 0x08, tensor.dim()) + b"".join(struct.pack(">I", d) for d in tensor.shape)
    path.write_bytes(header + tensor.numpy().tobytes())


def write_tiny_mnist(root: Path, n_train: int = 64, n_test: int = 32, folder: str = "MNIST") -> Path:
    """A folder in torchvision's layout (MNIST/raw/*-ubyte, or FashionMNIST/, KMNIST/) holding synthetic images."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, split in (("train", synthetic_digits(n_train, 1)), ("t10k", synthetic_digits(n_test, 2))):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", split.images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", split.labels.to(torch.uint8))
    return root


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a test server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_explorer(args: list[str], log: Path, cwd: Path):
    """`python -m explorer ARGS` on a free port of 127.0.0.1, until the block ends; yields its URL."""
    port = free_port()
    if "--runs-dir" not in args:  # the Train tab's runs: never into the repository's runs/
        args = [*args, "--runs-dir", str(Path(log).parent / "runs")]
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "explorer", "--host", "127.0.0.1", "--port", str(port), *args],
                                cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"the app did not start: {log.read_text()[-3000:]}") from None
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def screenshot(page, name: str, full_page: bool = True) -> None:
    """Save what the page shows as SCREENSHOT_DIR/NAME, to be looked at (`SCREENSHOT_DIR=shots make test`); without
    SCREENSHOT_DIR nothing is taken: a full-page capture costs Chromium ≈ 0.5 s of CPU and nobody would see it."""
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)


def cache_onnx_graphs(model: "ModelConfig") -> None:
    """Put this architecture's ONNX graphs into the template cache (training/onnx_export.py), as any earlier run on the
    machine has, so that the trainers a test starts refresh their weights instead of each exporting them (seconds)."""
    from training.model import VAE
    from training.onnx_export import OnnxExporter

    OnnxExporter().export(VAE(model))


class SharedChromium:
    """One headless Chromium for the browser tests that run one after another (tests/test_browser*.py), instead of a
    Playwright driver and a Chromium started by each module (≈ 1 s each); every test still opens its own contexts
    and pages in it. Started on first use; tests/conftest.py closes it after the last browser test of a run of them,
    because while Playwright's sync API is open its event loop stays set as running in this thread (asyncio.run()
    and a second sync_playwright() would fail in the tests that follow)."""

    def __init__(self):
        self._playwright = None
        self._browser = None

    def browser(self):
        if self._browser is None or not self._browser.is_connected():
            self.close()
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self._browser

    @property
    def is_open(self) -> bool:
        return self._playwright is not None

    def close(self) -> None:
        browser, playwright, self._browser, self._playwright = self._browser, self._playwright, None, None
        try:
            if browser is not None:
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


SHARED_CHROMIUM = SharedChromium()
