"""torchvision's 28×28 grey data sets (MNIST, Fashion-MNIST, KMNIST) → uint8 tensors in memory, and shuffled batches.

Missing files are downloaded by torchvision's own dataset classes (MNIST, FashionMNIST, KMNIST); files already on disk
(torchvision's `<Class>/raw/*-ubyte` layout) are read directly, which is what torchvision does with them too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .datasets import DEFAULT_DATASET, DATASETS, DatasetInfo, dataset_info  # noqa: F401 (re-exported)
from .errors import UserError

IMAGE_SIZE = 28


@dataclass(frozen=True)
class ImageSplit:
    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64


def load_split(data_dir: str | Path, train: bool, download: bool = False, dataset: str = DEFAULT_DATASET) -> ImageSplit:
    """Read one split of a data set through torchvision's own class (downloading it when allowed) and check it."""
    info = dataset_info(dataset)
    root = Path(data_dir)
    split = "train" if train else "test"
    raw = root / info.torchvision_class / "raw"
    how_to_fix = (
        f"put torchvision's {info.title} layout ({info.torchvision_class}/raw/*-ubyte) under {root}, "
        "or run with --download on a machine that is online"
    )
    files_present = split_on_disk(root, train, dataset)
    if not files_present and not download:
        raise UserError(f"{info.title} {split} set not found under {root}: {how_to_fix}.")
    if files_present:  # read the IDX files directly: importing torchvision costs ≈ 2 s of a run's start-up
        images_file, labels_file = (raw / name for name in _raw_file_names(info, train))
        images, labels = read_idx(images_file, 3), read_idx(labels_file, 1)
        return _checked(images, labels.long(), root, f"{info.title} {split}", len(info.class_names))
    try:
        from torchvision import datasets

        dataset_class = getattr(datasets, info.torchvision_class)
        loaded = dataset_class(str(root), train=train, download=True)
    except Exception as err:  # torchvision raises on failed downloads and asserts/fails reshaping on corrupt IDX files
        if files_present:
            raise UserError(
                f"{info.title} {split} files under {raw} are corrupt ({type(err).__name__}: {err}); "
                "delete them and download again, or point --data-dir at a good copy."
            ) from None
        raise UserError(f"{info.title} {split} set could not be downloaded to {root} ({' '.join(str(err).split())}): {how_to_fix}.") from None
    return _checked(loaded.data, loaded.targets, root, f"{info.title} {split}", len(info.class_names))


def read_idx(path: Path, ndim: int) -> torch.Tensor:
    """A uint8 IDX file (MNIST's format, as torchvision reads it) → tensor; sizes checked against the file first."""
    data = path.read_bytes()
    if len(data) < 4 + 4 * ndim or data[:2] != b"\0\0" or data[2] != 0x08 or data[3] != ndim:
        raise UserError(f"{path} is not a uint8 IDX file with {ndim} dimension(s): it is corrupt; delete it and download again.")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = 4 + 4 * ndim
    if int(np.prod(dims, dtype=np.int64)) != len(data) - body:
        raise UserError(f"{path} declares {'×'.join(map(str, dims))} values but holds {len(data) - body}: it is "
                        "truncated or corrupt; delete it and download again.")
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=body).reshape(dims).copy())


def split_on_disk(data_dir: str | Path, train: bool, dataset: str = DEFAULT_DATASET) -> bool:
    """Whether one split's IDX files are in torchvision's layout under `data_dir` (nothing is read or downloaded)."""
    info = dataset_info(dataset)
    raw = Path(data_dir) / info.torchvision_class / "raw"
    return all((raw / name).is_file() for name in _raw_file_names(info, train))


def _raw_file_names(info: DatasetInfo, train: bool) -> list[str]:
    """The uncompressed IDX files torchvision reads from <root>/<Class>/raw (same names for all three data sets)."""
    prefix = "train" if train else "t10k"
    return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]


def _checked(images: torch.Tensor, labels: torch.Tensor, root: Path, split: str, n_classes: int) -> ImageSplit:
    problem = None
    if images.dtype != torch.uint8 or images.dim() != 3 or tuple(images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
        problem = f"images have shape {tuple(images.shape)} and dtype {images.dtype}, expected (N, 28, 28) uint8"
    elif len(labels) != len(images):
        problem = f"{len(images)} images but {len(labels)} labels"
    elif len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        problem = f"labels outside 0..{n_classes - 1}"
    elif len(images) == 0:
        problem = "the split is empty"
    if problem:
        raise UserError(f"The {split} files under {root} are not valid: {problem}.")
    return ImageSplit(images.contiguous(), labels.long())


def to_model_input(images: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (B, 28, 28) → float (B, 1, 28, 28) in [0, 1], converted after the copy to the device."""
    return images.to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Model output (B, 1, 28, 28) in [0, 1] → uint8 (B, 28, 28) on the CPU: the way back from `to_model_input`, each
    value clipped to [0, 1] and rounded to the nearest grey level."""
    return (images.float().clamp(0, 1) * 255).round().to(torch.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE).cpu()


def shuffled_batches(n: int, batch_size: int, seed: int, epoch: int) -> Iterator[torch.Tensor]:
    """Index batches of a permutation that depends only on (seed, epoch), so a resumed run sees the same order."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=generator)
    return iter(order.split(batch_size))
