"""Final test metrics of a trained model: which latent dimensions it uses, and how good a density model it is.

Active units follow Burda et al. (2016): dimension d is active when Cov_x(E_q[z_d | x]) > 0.01, i.e. its posterior
mean moves with the input. The IWAE bound with k = 1000 samples runs on a fixed subset (the first 1,000 test images)
so every checkpoint of one data set is scored on the same images.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .data import ImageSplit, to_model_input
from .loss import iwae_bound

ACTIVE_UNIT_THRESHOLD = 0.01
IWAE_SAMPLES = 1000
IWAE_SUBSET = 1000
IWAE_IMAGES_PER_BATCH = 25  # 25 images × 250 samples per decoder call keeps the buffers ≈ 100 MB


def mean_variance_per_dim(means: np.ndarray | torch.Tensor) -> np.ndarray:
    """Cov_x(E_q[z_d]) for each latent dimension d: the variance over the data set of the posterior means (N, z)."""
    means = np.asarray(means, dtype=np.float64)
    return means.var(axis=0, ddof=1) if len(means) > 1 else np.zeros(means.shape[-1])


def active_units(means: np.ndarray | torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> np.ndarray:
    """Boolean mask (z,) of the active dimensions: those whose posterior mean varies across inputs by more than 0.01."""
    return mean_variance_per_dim(means) > threshold


def dimensions_by_information(kl_per_dim, active) -> list[int]:
    """Latent dimensions ordered for display: active ones first, each group by decreasing KL (ties by index)."""
    kl, active = list(map(float, kl_per_dim)), list(map(bool, active))
    return sorted(range(len(kl)), key=lambda d: (not active[d], -kl[d], d))


@torch.inference_mode()
def iwae_on_subset(model, split: ImageSplit, k: int = IWAE_SAMPLES, n_images: int = IWAE_SUBSET, seed: int = 0,
                   kind: str = "bce") -> dict:
    """IWAE log-likelihood bound (k samples) on the first n test images: −log p(x) estimate per image, in nats."""
    model.eval()
    device = next(model.parameters()).device
    images = split.images[:n_images]
    torch.manual_seed(seed)
    started = time.perf_counter()
    per_image = torch.cat([
        iwae_bound(model, to_model_input(chunk, device), k=k, kind=kind).double().cpu()
        for chunk in images.split(IWAE_IMAGES_PER_BATCH)
    ])
    return {
        "nll": float(-per_image.mean()),
        "k": k,
        "images": len(images),
        "subset": f"first {len(images)} test images",
        "seconds": round(time.perf_counter() - started, 1),
    }


def latent_metrics(means: torch.Tensor, kl_per_dim: list[float]) -> dict:
    """What metrics.json says about the latent space: per-dimension KL and variance of the means, active units."""
    variance = mean_variance_per_dim(means)
    active = variance > ACTIVE_UNIT_THRESHOLD
    return {
        "kl_per_dim": [float(v) for v in kl_per_dim],
        "mean_variance_per_dim": [float(v) for v in variance],
        "active_unit_threshold": ACTIVE_UNIT_THRESHOLD,
        "active_units": int(active.sum()),
        "active_per_dim": [bool(a) for a in active],
    }
