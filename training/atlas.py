"""The explorer's map: encoded means/stds of the test set with their 2-D PCA and t-SNE coordinates."""
from __future__ import annotations

import numpy as np
import torch

from .data import to_model_input

ATLAS_KEYS = ("means", "stds", "labels", "pca", "pca_components", "pca_center")


@torch.inference_mode()
def encode_all(model, images: torch.Tensor, batch_size: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and stds (N, z) of uint8 images (N, 28, 28), in eval mode on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    means, stds = [], []
    for chunk in images.split(batch_size):
        q = model.encode(to_model_input(chunk, device))
        means.append(q.mean.float().cpu())
        stds.append(q.stddev.float().cpu())
    return torch.cat(means), torch.cat(stds)


def fit_pca(means: torch.Tensor) -> dict[str, torch.Tensor]:
    """2-D PCA of the means, with the components kept so new points can be projected the same way.

    scikit-learn's PCA (centre, SVD, each component's largest |entry| made positive), written in torch: importing
    scikit-learn cost ≈ 1 s of every training run for a 32-column SVD. A 1-D latent gets a zero second component.
    """
    x = means.double()
    center = x.mean(0)
    _, _, vt = torch.linalg.svd(x - center, full_matrices=False)
    components = torch.zeros(2, x.shape[1], dtype=x.dtype)
    components[: min(2, len(vt))] = vt[:2]
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    components *= torch.where(signs == 0, 1.0, signs).to(x.dtype)
    return {
        "pca": ((x - center) @ components.T).float(),
        "pca_components": components.float(),  # (2, z)
        "pca_center": center.float(),  # (z,)
    }


def fit_tsne(means: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """2-D t-SNE of the means (slow: ~30 s for 10k points on 2 cores, so done once per checkpoint)."""
    from sklearn.manifold import TSNE

    tsne = TSNE(n_components=2, init="pca", learning_rate="auto", perplexity=30, random_state=seed)
    return torch.from_numpy(tsne.fit_transform(means.numpy().astype(np.float32))).float()


def fit_umap(means: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """2-D UMAP of the means (umap-learn). Slower still than t-SNE in a fresh process: its numba code compiles on
    first use (measured ≈ 47–56 s for 10k points on 2 cores, ≈ 9 s once compiled), so it is done once per checkpoint."""
    import warnings

    import umap

    with warnings.catch_warnings():  # "n_jobs overridden to 1 by setting random_state": the seed is the point
        warnings.simplefilter("ignore", UserWarning)
        reducer = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, random_state=seed)
        return torch.from_numpy(reducer.fit_transform(means.numpy().astype(np.float32))).float()


def build_atlas(model, images: torch.Tensor, labels: torch.Tensor, with_tsne: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """Everything the explorer's map needs, as named tensors for atlas.safetensors."""
    means, stds = encode_all(model, images)
    atlas = {"means": means, "stds": stds, "labels": labels.long().clone(), **fit_pca(means)}
    if with_tsne:
        atlas["tsne"] = fit_tsne(means, seed)
    return atlas
