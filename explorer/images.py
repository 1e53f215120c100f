"""Bring any uploaded or drawn image to MNIST's form: grayscale, 28×28, white digit on black, centred by mass."""
from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from training.errors import UserError

MAX_PIXELS = 40_000_000  # decoded images above this are refused (≈160 MB as RGBA): bounds memory and time
WORK_SIZE = 256  # larger images are shrunk to this before any pixel work
INK_CONTRAST = 0.15  # below this max-min contrast (0..1) an image counts as blank


# Only these decoders ever see an upload: Pillow would otherwise try any of its ~40 (EPS hands the file to Ghostscript,
# TIFF and PSD bring large, rarely exercised parsers).
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
MAX_DATA_URL_CHARS = 8_000_000  # a drawing pad's PNG is ~20 kB; this bounds what a hostile page can send


def read_image_file(path: str | Path | io.BytesIO, name: str | None = None) -> np.ndarray:
    """Decode an uploaded file into a float grayscale array in [0, 1], flattened onto white if it has alpha."""
    name = name or Path(path).name
    try:
        with Image.open(path, formats=FORMATS) as img:
            if img.width * img.height > MAX_PIXELS:
                raise UserError(
                    f"The image is {img.width}×{img.height} pixels; images up to {MAX_PIXELS // 1_000_000} megapixels "
                    "are accepted. Downscale it and try again."
                )
            img.draft("L", (WORK_SIZE, WORK_SIZE))  # JPEG: decode at a reduced scale
            frame = next(ImageSequence.Iterator(img)).copy()  # animated GIF/PNG/WebP: the first frame
    except UserError:
        raise
    except Image.DecompressionBombError:  # Pillow refuses > 179 MP at open, before our own limit is checked
        raise UserError(f"{name} declares far more than {MAX_PIXELS // 1_000_000} megapixels; downscale it and try again.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise UserError(f"Could not read {name} as an image ({type(err).__name__}); upload a PNG, JPEG, GIF, WebP or BMP.") from None
    return pil_to_gray(frame)


def pil_to_gray(img: Image.Image) -> np.ndarray:
    """Any PIL mode (1, L, P, RGB, RGBA, I;16, I, F…) → float32 (H, W) in [0, 1]; transparency is composited onto white."""
    img.thumbnail((WORK_SIZE, WORK_SIZE))
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        span = float(arr.max() - arr.min())
        return (arr - arr.min()) / span if span > 0 else np.zeros_like(arr)
    if img.mode == "P" or img.mode == "LA" or "transparency" in img.info:
        img = img.convert("RGBA")
    return array_to_gray(np.asarray(img))


def array_to_gray(arr: np.ndarray) -> np.ndarray:
    """A numpy image (H, W), (H, W, 3) or (H, W, 4), uint8/uint16/float → float32 (H, W) in [0, 1]."""
    arr = np.asarray(arr)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)) or min(arr.shape[:2]) < 1:
        raise UserError(f"Expected an image of shape (H, W) or (H, W, 1/3/4 channels), got {arr.shape}.")
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        x = arr.astype(np.float32) / 65535.0
    else:
        x = np.nan_to_num(arr.astype(np.float32)).clip(0, 1 if arr.max() <= 1 else 255)
        x = x / 255.0 if x.max() > 1 else x
    if x.ndim == 2:
        return x
    if x.shape[2] == 1:
        return x[:, :, 0]
    gray = x[:, :, :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if x.shape[2] == 4:
        alpha = x[:, :, 3]
        gray = gray * alpha + (1.0 - alpha)  # flatten onto white: a transparent sketchpad is white paper
    return gray


def to_mnist(gray: np.ndarray) -> np.ndarray:
    """Float (H, W) in [0, 1] → uint8 (28, 28) the way MNIST was made: ink white, fitted into 20×20, centred by mass."""
    if gray.shape[0] > WORK_SIZE or gray.shape[1] > WORK_SIZE:
        gray = pil_shrink(gray)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if np.median(border) > 0.5 else gray  # black-on-white drawings and photos are inverted
    ink_border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    ink = (ink - np.median(ink_border)).clip(0, None)  # the paper's own grey is background, not ink
    if float(ink.max()) < INK_CONTRAST:
        raise UserError("The image is blank (no visible digit): draw or upload a digit.")
    ink = ink / ink.max()
    rows, cols = np.nonzero(ink > 0.2)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = 20.0 / max(ink.shape)
    h, w = max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale))
    digit = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).resize((w, h), Image.LANCZOS), dtype=np.float32)
    return _centre_by_mass(digit)


def pil_shrink(gray: np.ndarray) -> np.ndarray:
    img = Image.fromarray((gray * 255).astype(np.uint8))
    img.thumbnail((WORK_SIZE, WORK_SIZE))
    return np.asarray(img, dtype=np.float32) / 255.0


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    canvas = np.zeros((28, 28), dtype=np.float32)
    h, w = digit.shape
    mass = digit.sum()
    cy = (digit.sum(1) @ np.arange(h)) / mass
    cx = (digit.sum(0) @ np.arange(w)) / mass
    top = int(np.clip(round(14 - cy), 0, 28 - h))
    left = int(np.clip(round(14 - cx), 0, 28 - w))
    canvas[top : top + h, left : left + w] = digit
    return canvas.clip(0, 255).astype(np.uint8)


def data_url_to_gray(text) -> np.ndarray:
    """The drawing pad's picture as a `data:image/png;base64,…` URL (its server fallback) → float gray."""
    prefix = "data:image/png;base64,"
    if not isinstance(text, str) or not text.startswith(prefix):
        raise UserError("The drawing arrived in an unknown form: expected a PNG data URL; draw again.")
    if len(text) > MAX_DATA_URL_CHARS:
        raise UserError(f"The drawing is {len(text) // 1_000_000} MB; drawings up to {MAX_DATA_URL_CHARS // 1_000_000} MB are accepted.")
    try:
        data = base64.b64decode(text[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise UserError("The drawing's data is not valid base64; draw again.") from None
    return read_image_file(io.BytesIO(data), name="the drawing")
