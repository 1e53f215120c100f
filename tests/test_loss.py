import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from training.config import ModelConfig
from training.loss import elbo_terms, iwae_bound, kl_per_dim, latent_for_decoder, reconstruction_per_image
from training.model import VAE


def _posterior(batch=6, z=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Normal(torch.randn(batch, z, generator=g), torch.rand(batch, z, generator=g) + 0.2)


def test_kl_matches_the_closed_form_and_torch_distributions():
    q = _posterior()
    mu, sigma = q.mean, q.stddev
    closed_form = 0.5 * (mu**2 + sigma**2 - 1 - torch.log(sigma**2))
    assert torch.allclose(kl_per_dim(q), closed_form, atol=1e-6)
    reference = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(sigma)))
    assert torch.allclose(kl_per_dim(q), reference, atol=1e-6)


def test_kl_matches_a_monte_carlo_estimate():
    torch.manual_seed(0)
    q = _posterior(batch=2, z=3)
    z = q.sample((200_000,))
    prior = Normal(0.0, 1.0)
    estimate = (q.log_prob(z) - prior.log_prob(z)).mean(0)
    assert torch.allclose(kl_per_dim(q), estimate, atol=0.02)


def test_bce_on_logits_equals_the_labs_sigmoid_plus_bce_sum():
    torch.manual_seed(0)
    logits = torch.randn(4, 1, 28, 28) * 3
    x = torch.rand(4, 1, 28, 28)
    lab = nn.BCELoss(reduction="sum")(torch.sigmoid(logits), x) / 4
    assert torch.allclose(reconstruction_per_image(logits, x).mean(), lab, rtol=1e-5)


def test_bce_matches_torchs_values_and_gradients_including_extreme_logits():
    import torch.nn.functional as F

    torch.manual_seed(0)
    extremes = torch.tensor([-200.0, -30.0, 0.0, 30.0]).repeat(196).view(1, 1, 28, 28)
    logits = torch.cat([torch.randn(3, 1, 28, 28) * 8, extremes])
    x = torch.cat([torch.rand(3, 1, 28, 28), torch.rand(1, 1, 28, 28).round()])
    ours, theirs = (logits.clone().requires_grad_(True) for _ in range(2))
    per_image = reconstruction_per_image(ours, x)
    reference = F.binary_cross_entropy_with_logits(theirs, x, reduction="none").flatten(1).sum(1)
    torch.testing.assert_close(per_image, reference, rtol=1e-6, atol=1e-3)  # < 1e-6 nats per pixel, 784 pixels
    per_image.sum().backward()
    reference.sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=0, atol=1e-6)
    assert torch.isfinite(per_image).all()


def test_elbo_total_is_recon_plus_beta_kl():
    torch.manual_seed(0)
    logits, x, q = torch.randn(3, 1, 28, 28), torch.rand(3, 1, 28, 28), _posterior(batch=3)
    terms = elbo_terms(logits, x, q, beta=4.0)
    assert torch.allclose(terms.total, terms.recon + 4.0 * terms.kl)
    mse = elbo_terms(logits, x, q, kind="mse")
    gaussian = Normal(torch.sigmoid(logits), 0.5 ** 0.5)  # MSE as a likelihood: each pixel N(output, ½)
    assert torch.allclose(mse.recon, -gaussian.log_prob(x).sum() / 3)
    assert torch.allclose(mse.recon - ((torch.sigmoid(logits) - x) ** 2).sum() / 3, torch.tensor(784 * 0.5 * math.log(math.pi)))


def test_iwae_bound_is_tighter_than_the_elbo():
    torch.manual_seed(0)
    model = VAE(ModelConfig(z_dim=4, encoder_hidden=4, decoder_hidden=8)).eval()
    x = (torch.rand(3, 1, 28, 28) > 0.7).float()
    with torch.no_grad():
        elbo = torch.stack([-elbo_terms(*_forward(model, x)).total for _ in range(50)]).mean()
    log_px = iwae_bound(model, x, k=200, chunk=64).mean()
    assert log_px >= elbo - 0.5
    assert log_px <= 0


def _forward(model, x):
    logits, q = model(x)
    return logits, x, q


def _encoder_gradient_of_the_reconstruction(sampling: str) -> float:
    """|∂ recon / ∂ encoder weights| when the decoder's z is drawn as `sampling` says (the KL term left out)."""
    torch.manual_seed(0)
    model = VAE(ModelConfig(z_dim=4, encoder_hidden=4, decoder_hidden=8))
    x = torch.rand(5, 1, 28, 28)
    posterior = model.encode(x)
    logits = model.decoder.logits(latent_for_decoder(posterior, sampling))
    reconstruction_per_image(logits, x).sum().backward()
    decoder = sum(p.grad.abs().sum() for p in model.decoder.parameters())
    assert decoder > 0  # the decoder learns in every mode
    return float(sum(p.grad.abs().sum() for p in model.encoder.parameters() if p.grad is not None))


def test_only_the_reparameterisation_trick_lets_the_reconstruction_teach_the_encoder_its_spread():
    assert _encoder_gradient_of_the_reconstruction("rsample") > 0
    assert _encoder_gradient_of_the_reconstruction("normal") == 0  # torch.normal: the lab's warning, checked
    assert _encoder_gradient_of_the_reconstruction("mean") > 0  # the mean is learned, without noise
    torch.manual_seed(0)
    model = VAE(ModelConfig(z_dim=4, encoder_hidden=4, decoder_hidden=8))
    posterior = model.encode(torch.rand(5, 1, 28, 28))
    latent_for_decoder(posterior, "mean").sum().backward()  # with the mean, σ gets nothing from the reconstruction
    assert model.encoder.net[2].weight.grad[4:].abs().sum() == 0 and model.encoder.net[2].weight.grad[:4].abs().sum() > 0
    with pytest.raises(ValueError, match="sampling"):
        latent_for_decoder(posterior, "sample")


def test_iwae_under_mse_is_the_gaussian_likelihood_computed_with_torch_distributions():
    torch.manual_seed(0)
    model = VAE(ModelConfig(z_dim=3, encoder_hidden=4, decoder_hidden=8)).eval()
    x = torch.rand(2, 1, 28, 28)
    torch.manual_seed(1)
    ours = iwae_bound(model, x, k=50, chunk=50, kind="mse")
    torch.manual_seed(1)
    with torch.no_grad():
        q = model.encode(x)
        z = q.sample((50,))
        means = model.decoder(z.flatten(0, 1)).view(50, 2, -1)
        log_px_z = Normal(means, 0.5 ** 0.5).log_prob(x.flatten(1)).sum(-1)
        log_w = log_px_z + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
        reference = torch.logsumexp(log_w, 0) - math.log(50)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-3)


def test_the_per_image_scores_under_mse_are_the_gaussian_likelihood_computed_with_torch_distributions():
    from training.scores import posterior_noise, score_images

    torch.manual_seed(0)
    model = VAE(ModelConfig(z_dim=3, encoder_hidden=4, decoder_hidden=8)).eval()
    images = (torch.rand(4, 28, 28) * 255).to(torch.uint8)
    ours = score_images(model, images, k=8, seed=5, kind="mse")
    with torch.no_grad():
        x = images.float().div(255).flatten(1)
        q = model.encode(x.view(4, 1, 28, 28))
        z = q.mean + q.stddev * posterior_noise(torch.Generator().manual_seed(5), 8, 4, 3)
        log_px_z = Normal(model.decoder(z.flatten(0, 1)).view(8, 4, -1), 0.5 ** 0.5).log_prob(x).sum(-1)
        kl = kl_divergence(q, Normal(0.0, 1.0)).sum(-1)
        log_w = log_px_z + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
    torch.testing.assert_close(ours["score_recon"], -log_px_z.mean(0), rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(ours["score_elbo"], -log_px_z.mean(0) + kl, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(ours["score_nll"], -(torch.logsumexp(log_w, 0) - math.log(8)), rtol=1e-5, atol=1e-3)
    assert (ours["score_recon"] - score_images(model, images, k=8, seed=5)["score_recon"]).abs().min() > 1
