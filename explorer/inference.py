"""Running a checkpoint's model on the page's inputs: encode, decode, reconstruct, sample, interpolate."""
from __future__ import annotations

import numpy as np
import torch

from training.data import to_model_input, to_uint8


@torch.inference_mode()
def encode(model, images_u8: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and stds (N, z) for uint8 images (N, 28, 28)."""
    q = model.encode(to_model_input(torch.as_tensor(np.asarray(images_u8)).reshape(-1, 28, 28)))
    return q.mean.numpy(), q.stddev.numpy()


@torch.inference_mode()
def decode(model, z: np.ndarray) -> np.ndarray:
    """Latent codes (N, z) → uint8 images (N, 28, 28)."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(-1, model.cfg.z_dim)
    return to_uint8(model.decode(z)).numpy()


def reconstruct(model, images_u8: np.ndarray) -> np.ndarray:
    """Decode each image's posterior mean: the VAE's best guess of the digit."""
    means, _ = encode(model, images_u8)
    return decode(model, means)


def posterior_samples(model, image_u8: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoding of q(z|x)'s mean, decodings of n samples z ~ q(z|x), and q's std per latent dimension."""
    means, stds = encode(model, image_u8)
    rng = np.random.default_rng(seed)
    z = means + stds * rng.standard_normal((n, means.shape[1]), dtype=np.float32)
    return decode(model, means)[0], decode(model, z), stds[0]


def interpolate(model, image_a: np.ndarray, image_b: np.ndarray, steps: int) -> np.ndarray:
    """Decodings along the straight line between two images' posterior means, both ends included."""
    means, _ = encode(model, np.stack([image_a, image_b]))
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return decode(model, (1 - t) * means[0] + t * means[1])


def prior_samples(model, n: int, seed: int) -> np.ndarray:
    """n decodings of z ~ N(0, I)."""
    z = np.random.default_rng(seed).standard_normal((n, model.cfg.z_dim), dtype=np.float32)
    return decode(model, z)


def random_prior_z(z_dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(z_dim).astype(np.float32)
