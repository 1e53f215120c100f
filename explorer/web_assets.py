"""What the page needs to run the model itself: the vendored runtime, our .js files, and per checkpoint the URLs of
its ONNX files and atlas plus a sprite of the test digits, all served as static files through Gradio."""
from __future__ import annotations

import functools
import html
import json
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image

from training.atomic import atomic_path
from training.scores import SCORE_NAMES, single_image_noise
from training.loss import MSE_PIXEL_CONSTANT

from . import atlas_maps, figures, latent_views, likelihood, neighbours

WEB = Path(__file__).resolve().parent / "web"
ORT_VERSION = "1.30.0"
ORT_DIR = WEB / "vendor" / f"onnxruntime-web-{ORT_VERSION}"
# Each file only defines functions and classes on window.vae; explorer.js, last, makes the explorer, which registers
# each view (views.js) and starts on js_on_load.
SCRIPTS = ("safetensors.js", "random.js", "latest.js", "model.js", "atlas.js", "scores.js", "digits.js", "mnist_form.js",
           "drawpad.js", "map.js", "latent_views.js", "compare.js", "views.js", "slider_view.js", "drawing_view.js", "strip_views.js", "timeline_view.js",
           "train_view.js", "likelihood_view.js", "map_instrument.js", "direction_view.js", "thumbnails.js",
           "plotly_warmup.js",
           "open_views.js",
           "explorer.js")
SPRITE_COLUMNS = 100
SPRITE_NAME = "test-digits.png"


@functools.lru_cache(maxsize=1)
def plotly_chunk() -> str | None:
    """The file name of Gradio's plotly chunk (hashed per Gradio release), which the page imports early
    (plotly_warmup.js); None if this Gradio has none."""
    import gradio

    found = sorted((Path(gradio.__file__).parent / "templates" / "frontend" / "assets").glob("PlotlyPlot-*.js"))
    return found[0].name if found else None


def file_url(path: Path, version: str | None = None) -> str:
    """A URL for a file under Gradio's static paths, relative to the page (so it also works behind a root path).
    `version` (a checkpoint's save stamp) makes a file saved anew a new URL, so no browser keeps the old copy."""
    return "gradio_api/file=" + quote(str(Path(path).resolve())) + (f"?v={quote(version)}" if version else "")


def head_html() -> str:
    """The <script> tags that load the runtime and our modules into the page."""
    files = [ORT_DIR / "ort.wasm.min.js", *(WEB / name for name in SCRIPTS)]
    return "\n".join(f'<script src="{html.escape(file_url(f))}"></script>' for f in files)


def static_folders(checkpoint_folders, sprite_dir: Path | None) -> list[Path]:
    """Folders whose files the page may fetch: the web code and each checkpoint (ONNX, atlas)."""
    folders = [WEB, *checkpoint_folders]
    return folders + ([sprite_dir] if sprite_dir else [])


def write_test_sprite(images: np.ndarray, folder: Path, name: str = SPRITE_NAME) -> Path:
    """All test digits (N, 28, 28) uint8 as one PNG of 28×28 tiles, SPRITE_COLUMNS a row (~1.7 MB for MNIST's 10k).

    Written at every app start: Pillow's default compression takes ≈ 0.2 s; `optimize=True` saved 3% for 1.8 s.
    """
    n = len(images)
    rows = -(-n // SPRITE_COLUMNS)
    tiles = np.zeros((rows * SPRITE_COLUMNS, 28, 28), dtype=np.uint8)
    tiles[:n] = images
    sheet = tiles.reshape(rows, SPRITE_COLUMNS, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, SPRITE_COLUMNS * 28)
    path = Path(folder) / name
    with atomic_path(path) as tmp:  # a page already open may be fetching the previous sprite
        Image.fromarray(sheet).save(tmp, format="PNG")
    return path


def page_rules(z_dim: int) -> dict:
    """The constants and rules the page shares with the server, sent rather than copied into the .js files: the map's
    names and neighbour counts, the score names, the class colours, the traversal range, and the noise with which the
    server scores one image (the page scores a drawing with it)."""
    return {
        "latent_plane": atlas_maps.LATENT_PLANE,
        "tsne_neighbours": atlas_maps.TSNE_NEIGHBOURS,
        "map_neighbours": neighbours.K,
        "score_names": {key: SCORE_NAMES[key] for key in likelihood.SCORE_CHOICES.values()},  # in the controls' order
        "score_noise": single_image_noise(z_dim).reshape(-1).tolist(),
        "mse_pixel_constant": MSE_PIXEL_CONSTANT,
        "gallery_size": likelihood.GALLERY_SIZE,
        "class_colours": list(figures.CLASS_COLOURS),
        "traversal_range": latent_views.TRAVERSAL_RANGE,
    }


def runtime_config(name: str, folder: Path, z_dim: int, sprite: Path | None, version: str | None = None) -> dict:
    """What explorer.js needs to load one checkpoint (`version`: its save stamp, in the URLs of its files)."""
    return {
        **page_rules(z_dim),
        "name": name,
        "z_dim": z_dim,
        "encoder": file_url(folder / "encoder.onnx", version),
        "decoder": file_url(folder / "decoder.onnx", version),
        "atlas": file_url(folder / "atlas.safetensors", version),
        "sprite": file_url(sprite) if sprite else None,
        "sprite_columns": SPRITE_COLUMNS,
        "ort_base": file_url(ORT_DIR) + "/",
        "ort_version": ORT_VERSION,
        "plotly_chunk": plotly_chunk(),
    }


def runtime_html(config: dict) -> str:
    """The runtime component's value: the config as an escaped data attribute, and the one-line status."""
    data = html.escape(json.dumps(config), quote=True)
    return f'<div class="vae-runtime" data-config="{data}"><span class="vae-status">Loading the model into your browser…</span></div>'
