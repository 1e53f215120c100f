"""The lab's VAE: a conv encoder that outputs a mean and a std per latent dimension, a DCGAN decoder."""
from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Normal

from .config import ModelConfig


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=4, stride=2), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2))


def _deconv_block(c_in: int, c_out: int, kernel_size: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, kernel_size, stride), nn.BatchNorm2d(c_out), nn.ReLU())


class Encoder(nn.Module):
    """28×28 image → (mean, std) of q(z|x); the second half of the output is exponentiated into a std."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.z_dim = cfg.z_dim
        h = cfg.encoder_hidden
        self.net = nn.Sequential(
            _conv_block(cfg.image_channels, h),  # 28 → 13
            _conv_block(h, h * 2),  # 13 → 5
            nn.Conv2d(h * 2, cfg.z_dim * 2, kernel_size=4, stride=2),  # 5 → 1
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(x).flatten(1).float()  # (B, 2·z); float32 even under bf16 autocast, for the exp and the KL
        return h[:, : self.z_dim], h[:, self.z_dim :].exp()


class Decoder(nn.Module):
    """z → 1×28×28 image. `logits` skips the final Sigmoid so the loss can use the stable BCE-with-logits."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.z_dim = cfg.z_dim
        h = cfg.decoder_hidden
        self.net = nn.Sequential(
            _deconv_block(cfg.z_dim, h * 4, kernel_size=3, stride=2),  # 1 → 3
            _deconv_block(h * 4, h * 2, kernel_size=4, stride=1),  # 3 → 6
            _deconv_block(h * 2, h, kernel_size=3, stride=2),  # 6 → 13
            nn.ConvTranspose2d(h, cfg.image_channels, kernel_size=4, stride=2),  # 13 → 28
        )

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])  # (B, z, 1, 1); no len(): the ONNX export keeps B dynamic

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z))


class VAE(nn.Module):
    def __init__(self, cfg: ModelConfig | None = None):
        super().__init__()
        self.cfg = cfg or ModelConfig()
        self.encoder = Encoder(self.cfg)
        self.decoder = Decoder(self.cfg)

    def encode(self, x: torch.Tensor) -> Normal:
        """q(z|x) for images x (B, 1, 28, 28) in [0, 1]."""
        mean, std = self.encoder(x)
        return Normal(mean, std)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities (B, 1, 28, 28) for latent codes z (B, z_dim)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Normal]:
        """Sample z ~ q(z|x) with the reparameterisation trick; return decoder logits and q."""
        posterior = self.encode(x)
        z = posterior.rsample()
        return self.decoder.logits(z), posterior
