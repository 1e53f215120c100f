"""The lab's reference training loop, kept as it was (its classes and module names, Sigmoid + BCELoss,
torch.distributions KL, DataLoader(ToTensor)).

It is the baseline the benchmarks compare against, and the model the import is tested on; `to_project_state_dict`
renames its parameters to training.model.VAE's with the importer (training/importing.py).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Normal, kl_divergence
from torch.utils.data import DataLoader


class Encoder(nn.Module):
    def __init__(self, im_chan=1, output_chan=32, hidden_dim=16):
        super().__init__()
        self.z_dim = output_chan
        self.disc = nn.Sequential(
            self.make_disc_block(im_chan, hidden_dim),
            self.make_disc_block(hidden_dim, hidden_dim * 2),
            self.make_disc_block(hidden_dim * 2, output_chan * 2, final_layer=True),
        )

    def make_disc_block(self, input_channels, output_channels, kernel_size=4, stride=2, final_layer=False):
        if not final_layer:
            return nn.Sequential(
                nn.Conv2d(input_channels, output_channels, kernel_size, stride),
                nn.BatchNorm2d(output_channels),
                nn.LeakyReLU(0.2, inplace=True),
            )
        return nn.Sequential(nn.Conv2d(input_channels, output_channels, kernel_size, stride))

    def forward(self, image):
        disc_pred = self.disc(image)
        encoding = disc_pred.view(len(disc_pred), -1)
        return encoding[:, : self.z_dim], encoding[:, self.z_dim :].exp()


class Decoder(nn.Module):
    def __init__(self, z_dim=32, im_chan=1, hidden_dim=64):
        super().__init__()
        self.z_dim = z_dim
        self.gen = nn.Sequential(
            self.make_gen_block(z_dim, hidden_dim * 4),
            self.make_gen_block(hidden_dim * 4, hidden_dim * 2, kernel_size=4, stride=1),
            self.make_gen_block(hidden_dim * 2, hidden_dim),
            self.make_gen_block(hidden_dim, im_chan, kernel_size=4, final_layer=True),
        )

    def make_gen_block(self, input_channels, output_channels, kernel_size=3, stride=2, final_layer=False):
        if not final_layer:
            return nn.Sequential(
                nn.ConvTranspose2d(input_channels, output_channels, kernel_size, stride),
                nn.BatchNorm2d(output_channels),
                nn.ReLU(inplace=True),
            )
        return nn.Sequential(nn.ConvTranspose2d(input_channels, output_channels, kernel_size, stride), nn.Sigmoid())

    def forward(self, noise):
        x = noise.view(len(noise), self.z_dim, 1, 1)
        return self.gen(x)


class VAE(nn.Module):
    def __init__(self, z_dim=32, im_chan=1):
        super().__init__()
        self.z_dim = z_dim
        self.encode = Encoder(im_chan, z_dim)
        self.decode = Decoder(z_dim, im_chan)

    def forward(self, images):
        q_mean, q_stddev = self.encode(images)
        q_dist = Normal(q_mean, q_stddev)
        z_sample = q_dist.rsample()
        decoding = self.decode(z_sample)
        return decoding, q_dist


reconstruction_loss = nn.BCELoss(reduction="sum")


def kl_divergence_loss(q_dist):
    return kl_divergence(q_dist, Normal(torch.zeros_like(q_dist.mean), torch.ones_like(q_dist.stddev))).sum(-1)


def lab_dataloader(dataset, batch_size=1024, seed=0) -> DataLoader:
    """The lab's pipeline: a torchvision dataset with transform=ToTensor(), shuffled, one PIL image at a time."""
    return DataLoader(dataset, shuffle=True, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))


def lab_step(vae: VAE, opt: torch.optim.Optimizer, images: torch.Tensor) -> float:
    opt.zero_grad()
    recon_images, encoding = vae(images)
    loss = reconstruction_loss(recon_images, images) + kl_divergence_loss(encoding).sum()
    loss.backward()
    opt.step()
    return loss.item()


def make_lab(seed=0, lr=0.002):
    torch.manual_seed(seed)
    vae = VAE()
    return vae, torch.optim.Adam(vae.parameters(), lr=lr)


def to_project_state_dict(lab_state: dict) -> dict:
    """The lab's parameter names → training.model.VAE's, as `python -m training import` converts them."""
    from training.importing import to_project_layout

    return to_project_layout(lab_state)[0]


def main(argv=None) -> int:
    """The lab's loop as a script, start to end: import, torchvision MNIST with ToTensor, one epoch (the baseline of
    the end-to-end row in benchmarks/results.md)."""
    import argparse

    from torchvision import datasets, transforms

    p = argparse.ArgumentParser(prog="python -m benchmarks.lab_loop")
    p.add_argument("--data-dir", default="../shared/mnist")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--device", default="cpu", help="as the lab's notebook: the model moved there, each batch copied")
    args = p.parse_args(argv)
    dataset = datasets.MNIST(args.data_dir, train=True, download=False, transform=transforms.ToTensor())
    vae, opt = make_lab()
    vae.to(args.device)
    for _ in range(args.epochs):
        for images, _ in lab_dataloader(dataset):
            lab_step(vae, opt, images.to(args.device))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
