"""The 2-D maps of a checkpoint's atlas: which it has, their coordinates, where a new encoding lands, and the
test-image index a click names."""
from __future__ import annotations

import numpy as np

from training.errors import UserError
from training.numbers import whole_number

LATENT_PLANE = "Latent (z₀, z₁)"  # a 2-D latent is its own map
MAP_METHODS = (LATENT_PLANE, "t-SNE", "PCA", "UMAP")
TSNE_NEIGHBOURS = 10


def map_methods(atlas: dict) -> list[str]:
    """The 2-D maps of this checkpoint: its latent plane when z is 2-D, then the projections its atlas holds
    (t-SNE is skipped by `--no-tsne` runs)."""
    plane = [LATENT_PLANE] if atlas["means"].shape[1] == 2 else []
    return plane + [m for m in MAP_METHODS if m != LATENT_PLANE and _map_key(m) in atlas]


def _map_key(method: str) -> str:
    return {LATENT_PLANE: "means", "t-SNE": "tsne", "PCA": "pca", "UMAP": "umap"}[method]


def map_coordinates(atlas: dict, method: str) -> np.ndarray:
    if method not in map_methods(atlas):
        raise UserError(f"This checkpoint has no {method} map; choose one of {map_methods(atlas)}.")
    return atlas[_map_key(method)].numpy()


def place_on_map(atlas: dict, mean: np.ndarray, method: str) -> np.ndarray:
    """Where a new encoding lands on the map: PCA projects it; t-SNE (no transform) averages its nearest neighbours."""
    mean = np.asarray(mean, dtype=np.float32).reshape(-1)
    if method == LATENT_PLANE:
        return mean[:2].copy()
    if method == "PCA":
        return (mean - atlas["pca_center"].numpy()) @ atlas["pca_components"].numpy().T
    coords = map_coordinates(atlas, method)
    distances = np.linalg.norm(atlas["means"].numpy() - mean, axis=1)
    nearest = np.argsort(distances)[:TSNE_NEIGHBOURS]
    weights = 1.0 / (distances[nearest] + 1e-6)
    return (coords[nearest] * weights[:, None]).sum(0) / weights.sum()


def parse_point_index(raw, n_points: int) -> int:
    """A test-set index: the map-click bridge sends "index:timestamp" (so a second click on one point still fires)."""
    value = raw.split(":")[0] if isinstance(raw, str) else raw
    try:
        return whole_number(value, "The test image number", 0, n_points - 1)
    except UserError:
        raise UserError(f"Test image #{str(raw)[:20]} does not exist: pick 0–{n_points - 1}.") from None


def two_of_different_classes(labels: np.ndarray) -> tuple[int, int]:
    """The first test image and the first after it of another class: where an interpolation starts and ends."""
    labels = np.asarray(labels)
    other = np.flatnonzero(labels != labels[0])
    return 0, int(other[0]) if len(other) else min(1, len(labels) - 1)
