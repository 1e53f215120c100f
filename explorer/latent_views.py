"""Which latent codes the dimension views decode: slider order, traversal grids and the 2-D manifold.

Pure functions of a checkpoint's metrics and atlas; explorer.js builds the same codes in the page (traversal.js),
and the server decodes these when the page cannot.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.errors import UserError
from training.evaluation import active_units, dimensions_by_information

TRAVERSAL_RANGE = 3.0
MAX_TRAVERSAL_ROWS, MAX_TRAVERSAL_COLUMNS = 16, 15
MANIFOLD_SIZE, MAX_MANIFOLD_SIZE = 20, 30
MANIFOLD_EXTENT = 3.0  # the grid covers [-3, 3]² of the latent plane: 99.7% of the prior along each axis


@dataclass(frozen=True)
class LatentDimensions:
    """A checkpoint's latent dimensions for display: KL and active mask per dimension, and the display order."""

    kl: list[float]
    active: list[bool]
    order: list[int]  # active dimensions by decreasing KL, then the inactive ones

    @property
    def informative(self) -> list[int]:
        """Active dimensions, most informative (largest KL) first."""
        return [d for d in self.order if self.active[d]]


def latent_dimensions(metrics: dict, atlas_means) -> LatentDimensions:
    """KL per dimension from metrics.json; active units from the atlas's test-set means (Burda et al.'s rule)."""
    means = np.asarray(atlas_means)
    z_dim = means.shape[1]
    kl = metrics.get("final", {}).get("kl_per_dim") if isinstance(metrics, dict) else None
    if not isinstance(kl, list) or len(kl) != z_dim or not all(isinstance(v, (int, float)) for v in kl):
        kl = [float(v) for v in np.var(means, axis=0)]  # no usable KL in metrics.json: order by the same signal
    active = [bool(a) for a in active_units(means)]
    return LatentDimensions([float(v) for v in kl], active, dimensions_by_information(kl, active))


def traversal_values(columns: int) -> np.ndarray:
    """`columns` evenly spaced values from −3 to 3 (both ends included)."""
    if not 2 <= int(columns) <= MAX_TRAVERSAL_COLUMNS:
        raise UserError(f"A traversal has 2–{MAX_TRAVERSAL_COLUMNS} columns, not {columns}.")
    return np.linspace(-TRAVERSAL_RANGE, TRAVERSAL_RANGE, int(columns), dtype=np.float32)


def traversal_codes(base: np.ndarray, dims: list[int], values: np.ndarray) -> np.ndarray:
    """(rows·columns, z) codes: row r is `base` with dimension dims[r] set to each value in turn (row-major)."""
    base = np.asarray(base, dtype=np.float32).reshape(-1)
    if not 1 <= len(dims) <= MAX_TRAVERSAL_ROWS:
        raise UserError(f"A traversal has 1–{MAX_TRAVERSAL_ROWS} rows, not {len(dims)}.")
    if any(not 0 <= d < len(base) for d in dims):
        raise UserError(f"Latent dimensions must be 0–{len(base) - 1}.")
    codes = np.repeat(base[None], len(dims) * len(values), axis=0)
    for r, d in enumerate(dims):
        codes[r * len(values):(r + 1) * len(values), d] = values
    return codes


def manifold_codes(z_dim: int, size: int = MANIFOLD_SIZE) -> np.ndarray:
    """(size², 2) codes on a grid over [-3, 3]²: row-major, top row = largest z₂ (so the picture reads like a plot)."""
    if z_dim != 2:
        raise UserError(f"The manifold view needs a 2-D latent; this checkpoint's has {z_dim} dimensions "
                        "(open mnist-z2, or train one with --z-dim 2).")
    if not 2 <= int(size) <= MAX_MANIFOLD_SIZE:
        raise UserError(f"The manifold grid is 2–{MAX_MANIFOLD_SIZE} digits a side, not {size}.")
    axis = np.linspace(-MANIFOLD_EXTENT, MANIFOLD_EXTENT, int(size), dtype=np.float32)
    z1, z2 = np.meshgrid(axis, axis[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1)
