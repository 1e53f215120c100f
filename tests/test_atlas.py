"""The map's PCA, written in torch, is scikit-learn's PCA (same components, signs and coordinates)."""
import numpy as np
import torch
from sklearn.decomposition import PCA

from training.atlas import fit_pca


def test_pca_matches_scikit_learn_including_signs():
    generator = torch.Generator().manual_seed(0)
    means = torch.randn(2000, 32, generator=generator) * torch.linspace(3, 0.1, 32) + 5
    ours = fit_pca(means)
    theirs = PCA(n_components=2, random_state=0).fit(means.numpy())
    assert np.allclose(ours["pca_components"].numpy(), theirs.components_, atol=1e-4)
    assert np.allclose(ours["pca_center"].numpy(), theirs.mean_, atol=1e-4)
    assert np.allclose(ours["pca"].numpy(), theirs.transform(means.numpy()), atol=5e-3)  # sklearn solves in float32


def test_pca_of_a_one_dimensional_latent_keeps_two_coordinates():
    means = torch.tensor([[1.0], [2.0], [4.0]])
    ours = fit_pca(means)
    assert ours["pca"].shape == (3, 2) and ours["pca_components"].shape == (2, 1)
    assert torch.allclose(ours["pca"][:, 0].abs(), (means[:, 0] - 7 / 3).abs()) and not ours["pca"][:, 1].any()
