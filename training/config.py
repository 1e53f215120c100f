"""Configuration dataclasses that round-trip to the checkpoint's config.json."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .numbers import is_number

CONFIG_VERSION = 1
RECONSTRUCTION_LOSSES = ("bce", "mse")
SAMPLING = ("rsample", "normal", "mean")  # training/loss.py latent_for_decoder: what each means
TIMELINE_DECODERS = ("geometric", "last")  # training/timeline.py decoder_epochs
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
    sampling: str = "rsample"  # the decoder's z in training: rsample (the lab's), normal or mean (its warnings)
    seed: int = 0
    bf16: bool = False
    channels_last: bool = True
    gemm_deconv: bool = True  # transposed convs as GEMM + overlap-add on CPU (training/deconv.py)
    compile: bool = False

    def __post_init__(self) -> None:
        if self.reconstruction not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction must be one of {RECONSTRUCTION_LOSSES}, got {self.reconstruction!r}")
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {self.sampling!r}")
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


LEVER_NAMES = ("bf16", "channels_last", "gemm_deconv")  # training/levers.py: what the probe may choose


def _require_bools(config, names) -> None:
    for name in names:
        if not isinstance(getattr(config, name), bool):
            raise ValueError(f"{name} must be true or false, got {getattr(config, name)!r}")


@dataclass(frozen=True)
class RecordConfig:
    """What a run records while it trains; none of it changes the weights."""

    timeline: bool = True  # snapshots of the run (training/timeline.py): the Timeline tab
    timeline_decoders: str = "geometric"  # epoch ends whose decoder the timeline keeps: 1, 2, 4, 8… and the last, or "last"
    live: str | None = None  # a folder for the run's progress and timeline so far (training/live.py): the Train tab
    probe_levers: bool = False  # try the speed levers on the first steps and keep the fastest (training/levers.py)
    forced_levers: tuple = ()  # levers the command line fixed: the probe leaves them as they are

    def __post_init__(self) -> None:
        _require_bools(self, ("timeline", "probe_levers"))
        if self.timeline_decoders not in TIMELINE_DECODERS:
            raise ValueError(f"record.timeline_decoders must be one of {TIMELINE_DECODERS}, got {self.timeline_decoders!r}")
        if self.live is not None and not isinstance(self.live, str):
            raise ValueError(f"record.live must be a folder's path or null, got {self.live!r}")
        object.__setattr__(self, "forced_levers", tuple(self.forced_levers))  # JSON gives a list
        if not set(self.forced_levers) <= set(LEVER_NAMES):
            raise ValueError(f"record.forced_levers must name levers among {LEVER_NAMES}")


@dataclass(frozen=True)
class FinishConfig:
    """What is computed once the last epoch is trained: maps, the IWAE bound, per-image scores and ood.json."""

    tsne: bool = True
    umap: bool = False  # umap-learn: 50–100 s in a fresh process on 2 cores, more than a 1-epoch run (`--umap` asks)
    iwae: bool = True
    scores: bool = True  # every test image's scores into the atlas, and ood.json
    maps_after_save: bool = False  # save the last epoch with its PCA map first (it opens then), then add the rest

    def __post_init__(self) -> None:
        _require_bools(self, ("tsne", "umap", "iwae", "scores", "maps_after_save"))


@dataclass(frozen=True)
class RunConfig:
    """What config.json holds — every choice of a run: architecture, training settings, what is recorded and what
    is computed at the end, the data set, versions and the exact command."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    finish: FinishConfig = field(default_factory=FinishConfig)
    data: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    argv: list = field(default_factory=list)
    probe: dict = field(default_factory=dict)  # the lever probe's timings and choice (training/levers.py), if it ran
    imported_from: dict = field(default_factory=dict)  # a model trained elsewhere (training/importing.py): file, sha256
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
            record=RecordConfig(**raw.get("record", {})),  # absent in checkpoints saved before it: the defaults
            finish=FinishConfig(**raw.get("finish", {})),
            data=dict(raw.get("data", {})),
            versions=dict(raw.get("versions", {})),
            argv=list(raw.get("argv", [])),
            probe=dict(raw.get("probe", {})),
            imported_from=dict(raw.get("imported_from", {})),
            version=version,
        )
