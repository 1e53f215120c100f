"""Pure functions behind every tab: encode, decode, sample, interpolate, map projection and look-up."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from training.checkpoint import Checkpoint, load_checkpoint, read_config
from training.data import ImageSplit, load_split, to_model_input, to_uint8
from training.datasets import DATASETS, DEFAULT_DATASET, class_names, dataset_info
from training import safe_text
from training.errors import UserError
from training.numbers import whole_number
from training.timeline import TIMELINE_JSON

LATENT_PLANE = "Latent (z₀, z₁)"  # a 2-D latent is its own map
MAP_METHODS = (LATENT_PLANE, "t-SNE", "PCA", "UMAP")
TSNE_NEIGHBOURS = 10
_MISSING = object()


@torch.inference_mode()
def encode(model, images_u8: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and stds (N, z) for uint8 images (N, 28, 28)."""
    q = model.encode(to_model_input(torch.as_tensor(np.asarray(images_u8)).reshape(-1, 28, 28)))
    return q.mean.numpy(), q.stddev.numpy()


@torch.inference_mode()
def decode(model, z: np.ndarray) -> np.ndarray:
    """Latent codes (N, z) → uint8 images (N, 28, 28)."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(-1, model.cfg.z_dim)
    return to_uint8(model.decode(z)).numpy()


def reconstruct(model, images_u8: np.ndarray) -> np.ndarray:
    """Decode each image's posterior mean: the VAE's best guess of the digit."""
    means, _ = encode(model, images_u8)
    return decode(model, means)


def posterior_samples(model, image_u8: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoding of q(z|x)'s mean, decodings of n samples z ~ q(z|x), and q's std per latent dimension."""
    means, stds = encode(model, image_u8)
    rng = np.random.default_rng(seed)
    z = means + stds * rng.standard_normal((n, means.shape[1]), dtype=np.float32)
    return decode(model, means)[0], decode(model, z), stds[0]


def interpolate(model, image_a: np.ndarray, image_b: np.ndarray, steps: int) -> np.ndarray:
    """Decodings along the straight line between two images' posterior means, both ends included."""
    means, _ = encode(model, np.stack([image_a, image_b]))
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return decode(model, (1 - t) * means[0] + t * means[1])


def prior_samples(model, n: int, seed: int) -> np.ndarray:
    """n decodings of z ~ N(0, I)."""
    z = np.random.default_rng(seed).standard_normal((n, model.cfg.z_dim), dtype=np.float32)
    return decode(model, z)


def random_prior_z(z_dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(z_dim).astype(np.float32)


def map_methods(atlas: dict) -> list[str]:
    """The 2-D maps of this checkpoint: its latent plane when z is 2-D, then the projections its atlas holds
    (t-SNE is skipped by `--no-tsne` runs)."""
    plane = [LATENT_PLANE] if atlas["means"].shape[1] == 2 else []
    return plane + [m for m in MAP_METHODS if m != LATENT_PLANE and _map_key(m) in atlas]


def _map_key(method: str) -> str:
    return {LATENT_PLANE: "means", "t-SNE": "tsne", "PCA": "pca", "UMAP": "umap"}[method]


def map_coordinates(atlas: dict, method: str) -> np.ndarray:
    if method not in map_methods(atlas):
        raise UserError(f"This checkpoint has no {method} map; choose one of {map_methods(atlas)}.")
    return atlas[_map_key(method)].numpy()


def place_on_map(atlas: dict, mean: np.ndarray, method: str) -> np.ndarray:
    """Where a new encoding lands on the map: PCA projects it; t-SNE (no transform) averages its nearest neighbours."""
    mean = np.asarray(mean, dtype=np.float32).reshape(-1)
    if method == LATENT_PLANE:
        return mean[:2].copy()
    if method == "PCA":
        return (mean - atlas["pca_center"].numpy()) @ atlas["pca_components"].numpy().T
    coords = map_coordinates(atlas, method)
    distances = np.linalg.norm(atlas["means"].numpy() - mean, axis=1)
    nearest = np.argsort(distances)[:TSNE_NEIGHBOURS]
    weights = 1.0 / (distances[nearest] + 1e-6)
    return (coords[nearest] * weights[:, None]).sum(0) / weights.sum()


def parse_point_index(raw, n_points: int) -> int:
    """A test-set index: the map-click bridge sends "index:timestamp" (so a second click on one point still fires)."""
    value = raw.split(":")[0] if isinstance(raw, str) else raw
    try:
        return whole_number(value, "The test image number", 0, n_points - 1)
    except UserError:
        raise UserError(f"Test image #{str(raw)[:20]} does not exist: pick 0–{n_points - 1}.") from None


def two_of_different_classes(labels: np.ndarray) -> tuple[int, int]:
    """The first test image and the first after it of another class: where an interpolation starts and ends."""
    labels = np.asarray(labels)
    other = np.flatnonzero(labels != labels[0])
    return 0, int(other[0]) if len(other) else min(1, len(labels) - 1)


@dataclass
class TestImages:
    """One data set's test images (the ones its checkpoints' atlases encode), or None when no data is reachable."""

    split: ImageSplit | None
    message: str = ""

    @classmethod
    def load(cls, data_dir: str | Path | None, download: bool, dataset: str = DEFAULT_DATASET) -> "TestImages":
        if data_dir is None:
            return cls(None, "No --data-dir given: images from the test set are not shown.")
        try:
            return cls(load_split(data_dir, train=False, download=download, dataset=dataset))
        except UserError as err:
            return cls(None, f"{err} Until then, the tabs that need no test images work.")

    def require(self) -> ImageSplit:
        if self.split is None:
            raise UserError(self.message)
        return self.split

    def pick(self, labels: np.ndarray, label: str, n: int, seed: int) -> np.ndarray:
        """Indices of n test images of one class (its index as text; 'any' for all), chosen with a seed."""
        pool = np.arange(len(labels)) if label in ("any", None) else np.flatnonzero(labels == whole_number(label, "The class", 0, 9))
        if len(pool) == 0:
            raise UserError("No test image of that class.")
        return np.random.default_rng(seed).choice(pool, size=min(n, len(pool)), replace=False)


@dataclass
class TestSets:
    """The test images of each data set, read on first use: a checkpoint is shown with its own data set's images."""

    data_dir: str | Path | None
    download: bool = False
    fixed: TestImages | None = None  # the same images for every data set (tests and benchmarks)
    _loaded: dict[str, TestImages] = field(default_factory=dict)

    @classmethod
    def of(cls, images: TestImages) -> "TestSets":
        return cls(None, fixed=images)

    def get(self, dataset: str | None) -> TestImages:
        if self.fixed is not None:
            return self.fixed
        try:
            key = dataset_info(dataset).key
        except UserError:  # the name is not repeated: it came from the checkpoint's config
            return TestImages(None, "This checkpoint's data set is not one the explorer knows "
                                    f"({', '.join(DATASETS)}): its test images are not shown.")
        if key not in self._loaded:
            self._loaded[key] = TestImages.load(self.data_dir, self.download, key)
        return self._loaded[key]


@dataclass
class CheckpointLibrary:
    """Every checkpoint folder under a root (and the finished runs of the app's Train tab), each loaded on first use
    and kept — re-read when its folder was saved anew (a run that added its t-SNE map after it opened), forgotten
    when it is gone. What views derive from a checkpoint is memoised here (`memo`), so it goes with it."""

    root: Path
    device: str = "cpu"
    runs: object = None  # explorer.train_runs.TrainingRuns, or None
    _loaded: dict[str, Checkpoint] = field(default_factory=dict)
    _stamps: dict[str, tuple] = field(default_factory=dict)
    _memos: dict[str, dict] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)  # the server's worker threads share the library

    def _root_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "config.json").exists()]

    def names(self) -> list[str]:
        """The checkpoints on disk now; any loaded one that is gone (a removed run) is forgotten, so memory does not
        grow with every run a long-lived app has seen."""
        runs = self.runs.finished_names() if self.runs is not None else []
        found = set(self._root_names()) | set(runs)
        with self._lock:
            for gone in [name for name in self._stamps if name not in found]:
                self.forget(gone)
        return sorted(found)

    def folder(self, name: str) -> Path:
        """Where a listed checkpoint lives: the root, or the runs folder (a run cannot take a root checkpoint's name)."""
        added = self._loaded.get(name) if name not in self._stamps else None
        if added is not None:
            return added.path  # added from outside the root
        if (self.root / name / "config.json").is_file() or self.runs is None:
            return self.root / name
        return Path(self.runs.runs_dir) / name

    @staticmethod
    def stamp(folder: Path) -> tuple | None:
        try:  # a save swaps in a new folder: another inode, or a reused one with a new change time
            found = folder.stat()
            return found.st_ino, found.st_ctime_ns, (folder / "config.json").stat().st_mtime_ns
        except OSError:
            return None

    @classmethod
    def version(cls, folder: Path) -> str | None:
        """The save stamp as text (in the URLs and names of the files the page gets), None while being swapped in."""
        stamp = cls.stamp(folder)
        return "-".join(map(str, stamp)) if stamp else None

    def get(self, name: str) -> Checkpoint:
        """The checkpoint, loaded on first use (outside the lock: a load takes a while) and kept."""
        with self._lock:
            if name in self._stamps and self._stamps[name] != self.stamp(self.folder(name)):
                self.forget(name)  # saved anew, or removed
            found = self._loaded.get(name)
        if found is not None:
            return found
        if name not in self.names():
            raise UserError(f"No checkpoint named {name!r} in {self.root}; available: {self.names()}.")
        folder = self.folder(name)
        stamp = self.stamp(folder)
        found = load_checkpoint(folder, self.device)
        with self._lock:
            self._loaded[name], self._stamps[name] = found, stamp
        return found

    def memo(self, name: str, key: str, compute):
        """`compute()` once per save of checkpoint `name` (dimensions, timeline, …); dropped when it is forgotten."""
        self.get(name)  # forgets the old memos when the folder was saved anew
        with self._lock:
            found = self._memos.get(name, {}).get(key, _MISSING)
        if found is _MISSING:
            found = compute()
            with self._lock:
                self._memos.setdefault(name, {})[key] = found
        return found

    def forget(self, name: str) -> None:
        with self._lock:
            self._loaded.pop(name, None)
            self._stamps.pop(name, None)
            self._memos.pop(name, None)

    def add(self, checkpoint: Checkpoint, name: str | None = None) -> str:
        """Register a checkpoint loaded from outside the root (`--checkpoint path` or `hf://OWNER/NAME`)."""
        name = name or checkpoint.path.name
        with self._lock:
            self._loaded[name] = checkpoint
            self._stamps.pop(name, None)
            self._memos.pop(name, None)
        return name

    def folders(self) -> list[Path]:
        """The root and every checkpoint loaded from outside it: the folders the page may fetch files from.

        A Hub snapshot's files are links into the cached repo's blobs/, so for those the cached repo folder is served.
        """
        folders = [self.root] + ([Path(self.runs.runs_dir)] if self.runs is not None else [])
        for ck in list(self._loaded.values()):
            folders.append(ck.path.parent.parent if ck.path.parent.name == "snapshots" else ck.path)
        return folders

    def _config(self, name: str):
        """A checkpoint's config without loading its weights (UserError if unreadable)."""
        loaded = self._loaded.get(name)
        return loaded.config if loaded is not None else read_config(self.folder(name))

    def dataset_of(self, name: str) -> str | None:
        """A checkpoint's data set key from its config.json alone; None if unknown or unreadable."""
        try:
            return dataset_info(self._config(name).data.get("dataset")).key
        except UserError:
            return None

    def z_dim_of(self, name: str) -> int | None:
        """A checkpoint's latent size from its config.json alone; None if unreadable."""
        try:
            return self._config(name).model.z_dim
        except UserError:
            return None

    def has_timeline(self, name: str) -> bool:
        """Whether a checkpoint's folder holds a timeline (checked when it is opened, not here)."""
        loaded = self._loaded.get(name)
        folder = loaded.path if loaded is not None else self.folder(name)
        return (folder / TIMELINE_JSON).is_file()

    def all_names(self) -> list[str]:
        return sorted(set(self.names()) | set(list(self._loaded)))


def dataset_title(ck: Checkpoint) -> str:
    """The data set's title; an unknown one as the config wrote it, on one short line (each view escapes it)."""
    try:
        return dataset_info(ck.config.data.get("dataset")).title
    except UserError:
        return safe_text.plain(ck.config.data.get("dataset", "?"))


def checkpoint_classes(ck: Checkpoint) -> list[str]:
    return class_names(ck.config.data)


def negative_test_elbo(final: dict) -> float:
    """The test set's −ELBO = recon + KL (β = 1 whatever β trained the model: metrics' "total" is the β-weighted loss)."""
    test = final.get("test", {}) if isinstance(final, dict) and isinstance(final.get("test"), dict) else {}
    recon, kl = test.get("recon"), test.get("kl")
    return float(recon) + float(kl) if isinstance(recon, (int, float)) and isinstance(kl, (int, float)) else float("nan")


def checkpoint_summary(ck: Checkpoint, n_active: int) -> str:
    """Markdown: what this checkpoint is and how good it is. Every value from its files is escaped (safe_text)."""
    final = ck.metrics.get("final", {})  # checked by the loader (training/metrics_file.py); fields may be absent
    test, iwae = final.get("test", {}), final.get("iwae", {}).get("nll")
    t, m = ck.config.train, ck.config.model
    number = safe_text.number
    return (
        f"**{safe_text.markdown(ck.path.name)}** · {safe_text.markdown(dataset_title(ck))} · z_dim {m.z_dim} · "
        f"β {number(t.beta, 3)} · {number(final.get('epochs'), 0)} epochs · "
        f"test −ELBO **{number(negative_test_elbo(final))}** nats "
        f"(recon {number(test.get('recon'))} + KL {number(test.get('kl'))})"
        + (f" · IWAE {number(iwae)}" if number(iwae) != "?" else "")
        + f" · {n_active} of {m.z_dim} latent dims active · loss {safe_text.markdown(t.reconstruction)} · "
        f"seed {number(t.seed, 0)}"
    )
