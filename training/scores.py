"""What the model thinks of each single image: its reconstruction term, KL, −ELBO and an importance-weighted
−log p(x) bound, all from the same k posterior samples per image.

The map colours points by them, the Likelihood tab ranks them, and the out-of-distribution histograms (ood.py) use
the same function on other data. k is small so that 10,000 images cost ≈ 12 s on 2 cores in bf16 (the IWAE bound
with k = 1000 in metrics.json is the precise number; this one ranks images). The −ELBO here is the true bound,
reconstruction + KL, whatever β the model was trained with.
"""
from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Callable

import torch

from .data import to_model_input
from .loss import kl_per_dim, log_weight_terms

SCORE_SAMPLES = 8
SCORE_KEYS = ("score_recon", "score_kl", "score_elbo", "score_nll")
SCORE_NAMES = {  # atlas key → what the page and the API call it
    "score_elbo": "−ELBO", "score_recon": "reconstruction", "score_kl": "KL", "score_nll": "−log p(x)",
}
IMAGES_PER_BATCH = 500  # × 8 samples: 4,000 decodes a call, ≈ 60 MB of activations in fp32


@torch.inference_mode()
def score_images(model, images_u8: torch.Tensor, k: int = SCORE_SAMPLES, seed: int = 0,
                 autocast: Callable = nullcontext, kind: str = "bce") -> dict[str, torch.Tensor]:
    """Per-image scores (N,) in nats of uint8 images (N, 28, 28): reconstruction = mean over k samples of
    −log p(x|z); KL(q(z|x) ‖ N(0, I)) in closed form; −ELBO = their sum; −log p(x) ≈ −log mean_k p(x,z)/q(z|x).

    `kind`: the likelihood the model was trained with (training/loss.py). Deterministic for a seed (its own
    generator: the caller's RNG stream is not touched)."""
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    out = {key: [] for key in SCORE_KEYS}
    for chunk in images_u8.split(IMAGES_PER_BATCH):
        x = to_model_input(chunk, device)
        with autocast():
            posterior = model.encode(x)
        posterior = torch.distributions.Normal(posterior.mean.float(), posterior.stddev.float())
        eps = posterior_noise(generator, k, *posterior.mean.shape)
        z = posterior.mean + posterior.stddev * eps
        with autocast():
            log_px_z, log_ratio = log_weight_terms(model, x, posterior, z, kind)
        recon = -log_px_z.mean(0)
        kl = kl_per_dim(posterior).sum(1)
        nll = -(torch.logsumexp(log_px_z + log_ratio, 0) - math.log(k))
        for key, value in zip(SCORE_KEYS, (recon, kl, recon + kl, nll)):
            out[key].append(value.double().cpu())
    return {key: torch.cat(values).float() for key, values in out.items()}


def posterior_noise(generator: torch.Generator, k: int, batch: int, z_dim: int) -> torch.Tensor:
    """The standard normals (k, batch, z_dim) that make k samples of each image's q(z|x), from `generator`."""
    return torch.randn((k, batch, z_dim), generator=generator, device=generator.device)


def single_image_noise(z_dim: int, k: int = SCORE_SAMPLES, seed: int = 0) -> torch.Tensor:
    """The noise (k, z_dim) `score_images` uses for a batch of one image (a drawing, on the server): the page scores
    a drawing with the same numbers (explorer/web_assets.py sends them), so both give it the same −ELBO."""
    return posterior_noise(torch.Generator().manual_seed(seed), k, 1, z_dim)[:, 0]


def scores_summary(atlas: dict[str, torch.Tensor], seconds: float, ood_seconds: float, k: int = SCORE_SAMPLES) -> dict:
    """What metrics.json says about the per-image scores: k, their cost and their means (equal to the test −ELBO's
    terms within sampling noise)."""
    return {
        "k": k,
        "images": len(atlas["score_elbo"]),
        "seconds": round(seconds, 1),
        "ood_seconds": round(ood_seconds, 1),
        "mean": {SCORE_NAMES[key]: round(float(atlas[key].double().mean()), 4) for key in SCORE_KEYS},
    }


def check_scores(atlas: dict[str, torch.Tensor], n: int, where: str) -> str | None:
    """Why an atlas's scores are unusable (shape, NaN), or None. An atlas without scores (trained before them) is fine."""
    present = [key for key in SCORE_KEYS if key in atlas]
    if not present:
        return None
    if len(present) != len(SCORE_KEYS):
        return f"{where} has only some of the per-image scores ({', '.join(present)}); run `python -m training evaluate` on it."
    for key in SCORE_KEYS:
        if tuple(atlas[key].shape) != (n,):
            return f"{where}: '{key}' has shape {tuple(atlas[key].shape)}, expected ({n},)."
        if not torch.isfinite(atlas[key]).all():
            return f"{where}: '{key}' contains NaN or infinite values."
    return None
