import torch
from torch.distributions import Normal

from training.config import ModelConfig
from training.model import VAE


def test_shapes_follow_the_lab_architecture():
    model = VAE(ModelConfig(z_dim=32))
    x = torch.rand(5, 1, 28, 28)
    posterior = model.encode(x)
    assert isinstance(posterior, Normal)
    assert posterior.mean.shape == (5, 32) and posterior.stddev.shape == (5, 32)
    assert (posterior.stddev > 0).all()
    logits, q = model(x)
    assert logits.shape == (5, 1, 28, 28)
    images = model.decode(torch.randn(5, 32))
    assert images.shape == (5, 1, 28, 28) and images.min() >= 0 and images.max() <= 1


def test_default_weights_are_about_three_megabytes():
    n_params = sum(p.numel() for p in VAE().parameters())
    assert 600_000 < n_params < 800_000  # ≈2.9 MB in float32


def test_forward_samples_instead_of_using_the_mean():
    torch.manual_seed(0)
    model = VAE(ModelConfig(z_dim=8)).eval()
    x = torch.rand(2, 1, 28, 28)
    first, _ = model(x)
    second, _ = model(x)
    assert not torch.allclose(first, second)
    mean_decoding = model.decoder.logits(model.encode(x).mean)
    assert not torch.allclose(first, mean_decoding)


def test_gradients_flow_through_rsample_to_the_encoder():
    model = VAE(ModelConfig(z_dim=8))
    logits, _ = model(torch.rand(4, 1, 28, 28))
    logits.sum().backward()
    first_conv = model.encoder.net[0][0].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0


def test_decoder_sigmoid_matches_logits():
    model = VAE(ModelConfig(z_dim=3)).eval()
    z = torch.randn(4, 3)
    assert torch.allclose(model.decode(z), torch.sigmoid(model.decoder.logits(z)))
