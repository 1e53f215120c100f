"""torchvision MNIST → uint8 tensors held in memory, and fast shuffled batches over them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torchvision import datasets

from .errors import UserError

IMAGE_SIZE = 28


@dataclass(frozen=True)
class MnistSplit:
    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64


def load_mnist(data_dir: str | Path, train: bool, download: bool = False) -> MnistSplit:
    """Read one MNIST split through torchvision (downloading it when allowed) and check what was read."""
    root = Path(data_dir)
    split = "train" if train else "test"
    how_to_fix = (
        f"put torchvision's MNIST layout (MNIST/raw/*-ubyte) under {root}, "
        "or run with --download on a machine that is online"
    )
    raw = root / "MNIST" / "raw"
    files_present = all((raw / f"{'train' if train else 't10k'}-{kind}-idx{n}-ubyte").is_file() for kind, n in (("images", 3), ("labels", 1)))
    if not files_present and not download:
        raise UserError(f"MNIST {split} set not found under {root}: {how_to_fix}.")
    try:
        dataset = datasets.MNIST(str(root), train=train, download=download and not files_present)
    except Exception as err:  # torchvision raises on failed downloads and asserts/fails reshaping on corrupt IDX files
        if files_present:
            raise UserError(
                f"MNIST {split} files under {raw} are corrupt ({type(err).__name__}: {err}); "
                "delete them and download again, or point --data-dir at a good copy."
            ) from None
        raise UserError(f"MNIST {split} set could not be downloaded to {root} ({' '.join(str(err).split())}): {how_to_fix}.") from None
    return _checked(dataset.data, dataset.targets, root, split)


def _checked(images: torch.Tensor, labels: torch.Tensor, root: Path, split: str) -> MnistSplit:
    problem = None
    if images.dtype != torch.uint8 or images.dim() != 3 or tuple(images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
        problem = f"images have shape {tuple(images.shape)} and dtype {images.dtype}, expected (N, 28, 28) uint8"
    elif len(labels) != len(images):
        problem = f"{len(images)} images but {len(labels)} labels"
    elif len(labels) and (labels.min() < 0 or labels.max() > 9):
        problem = "labels outside 0..9"
    elif len(images) == 0:
        problem = "the split is empty"
    if problem:
        raise UserError(f"MNIST {split} files under {root} are not valid MNIST: {problem}.")
    return MnistSplit(images.contiguous(), labels.long())


def to_model_input(images: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (B, 28, 28) → float (B, 1, 28, 28) in [0, 1], converted after the copy to the device."""
    return images.to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)


def shuffled_batches(n: int, batch_size: int, seed: int, epoch: int) -> Iterator[torch.Tensor]:
    """Index batches of a permutation that depends only on (seed, epoch), so a resumed run sees the same order."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=generator)
    return iter(order.split(batch_size))
