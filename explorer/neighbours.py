"""Where a 2-D map misleads: a test image's k nearest neighbours in the latent space (by posterior means) against its
k nearest on the map. explorer/web/map_instrument.js applies the same rule in the page; the benchmark averages it."""
from __future__ import annotations

import numpy as np

K = 10


def _nearest(points: np.ndarray, i: int, k: int) -> np.ndarray:
    """The k rows nearest to row i (itself excluded), nearest first, ties by index."""
    d = ((points - points[i]) ** 2).sum(1)
    d[i] = np.inf
    order = np.lexsort((np.arange(len(d)), d))
    return order[:k]


def neighbours(means: np.ndarray, coords: np.ndarray, i: int, k: int = K) -> dict:
    """Image i's k latent neighbours, its k map neighbours, and how many are both."""
    latent = _nearest(np.asarray(means, dtype=np.float64), i, k)
    on_map = _nearest(np.asarray(coords, dtype=np.float64), i, k)
    return {"latent": latent.tolist(), "map": on_map.tolist(), "both": int(len(set(latent) & set(on_map)))}


def mean_agreement(means: np.ndarray, coords: np.ndarray, sample: int = 1000, k: int = K, seed: int = 0) -> float:
    """The average number of a point's k latent neighbours that are also its k map neighbours, over random points."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(means), size=min(sample, len(means)), replace=False)
    return float(np.mean([neighbours(means, coords, int(i), k)["both"] for i in picked]))
