"""Configuration dataclasses that round-trip to the checkpoint's config.json."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .numbers import is_number

CONFIG_VERSION = 1
RECONSTRUCTION_LOSSES = ("bce", "mse")
# Sizes beyond these are refused before anything is allocated: far above what this 28×28 model needs, far below what
# would exhaust memory (z_dim 1024 with hidden 1024 is ≈ 0.2 GB of weights).
MAX_MODEL_SIZES = {"z_dim": 1024, "encoder_hidden": 1024, "decoder_hidden": 1024, "image_channels": 4}
MAX_BATCH_SIZE, MAX_EPOCHS = 65_536, 100_000


@dataclass(frozen=True)
class ModelConfig:
    """Architecture: everything needed to rebuild the network before loading weights."""

    z_dim: int = 32
    encoder_hidden: int = 16
    decoder_hidden: int = 64
    image_channels: int = 1

    def __post_init__(self) -> None:
        for name in ("z_dim", "encoder_hidden", "decoder_hidden", "image_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"model.{name} must be a positive integer, got {value!r}")
            if value > MAX_MODEL_SIZES[name]:
                raise ValueError(f"model.{name} is {value}; at most {MAX_MODEL_SIZES[name]} is supported")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the defaults are the lab's (10 epochs, batch 1024, Adam 0.002)."""

    epochs: int = 10
    batch_size: int = 1024
    lr: float = 0.002
    beta: float = 1.0
    reconstruction: str = "bce"
    seed: int = 0
    bf16: bool = False
    channels_last: bool = True
    gemm_deconv: bool = True  # transposed convs as GEMM + overlap-add on CPU (training/deconv.py)
    compile: bool = False

    def __post_init__(self) -> None:
        if self.reconstruction not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction must be one of {RECONSTRUCTION_LOSSES}, got {self.reconstruction!r}")
        if not 1 <= self.epochs <= MAX_EPOCHS or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"epochs must be 1–{MAX_EPOCHS} and batch_size 1–{MAX_BATCH_SIZE}")
        for name in ("lr", "beta"):
            value = getattr(self, name)
            if not is_number(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if not self.lr > 0 or not self.beta >= 0:
            raise ValueError("lr must be > 0 and beta >= 0")


@dataclass(frozen=True)
class RunConfig:
    """What config.json holds: architecture, training settings, data set, versions and the exact command."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    argv: list = field(default_factory=list)
    probe: dict = field(default_factory=dict)  # the lever probe's timings and choice (training/levers.py), if it ran
    version: int = CONFIG_VERSION

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "RunConfig":
        """Rebuild from JSON; raises ValueError/TypeError on unknown versions, keys or bad values."""
        if not isinstance(raw, dict):
            raise TypeError("config must be a JSON object")
        version = raw.get("version")
        if version != CONFIG_VERSION:
            raise ValueError(f"unknown config version {version!r} (this code reads version {CONFIG_VERSION})")
        return cls(
            model=ModelConfig(**raw.get("model", {})),
            train=TrainConfig(**raw.get("train", {})),
            data=dict(raw.get("data", {})),
            versions=dict(raw.get("versions", {})),
            argv=list(raw.get("argv", [])),
            probe=dict(raw.get("probe", {})),
            version=version,
        )
