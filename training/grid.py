"""The one image grid: uint8 digits laid out in rows with a grey gutter. samples.png and every picture the explorer
serves are drawn with it, so it lives here (the explorer imports training/, never the other way)."""
from __future__ import annotations

import numpy as np


def image_grid(images: np.ndarray, ncols: int, scale: int = 4, pad: int = 2, gutter: int = 96) -> np.ndarray:
    """uint8 digits (N, 28, 28) → one uint8 picture, ncols per row, enlarged `scale`× with a `pad`-pixel gutter of grey
    level `gutter` around each digit."""
    images = np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28)
    nrows = max(1, -(-len(images) // ncols))
    cell = 28 * scale + pad
    grid = np.full((nrows * cell + pad, ncols * cell + pad), gutter, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        big = np.kron(img, np.ones((scale, scale), dtype=np.uint8))
        grid[pad + r * cell : pad + r * cell + 28 * scale, pad + c * cell : pad + c * cell + 28 * scale] = big
    return grid
