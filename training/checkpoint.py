"""Save and load a checkpoint folder (safetensors + JSON): atomic writes and one validating loader.

A checkpoint is a folder:
  model.safetensors        weights (never pickle)
  config.json              RunConfig: architecture, training settings, data set, versions, command line
  metrics.json             per-epoch history and final test metrics (incl. KL per latent dimension)
  atlas.safetensors        encoded test set + 2-D PCA (and t-SNE) coordinates for the explorer's map
  samples.png              test digits (top rows) above their reconstructions
  encoder.onnx, decoder.onnx  the same model for onnxruntime (the browser runs these), checked against the weights
  train_state.safetensors  optimizer + RNG state for --resume (optional; not needed by the explorer)
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .atlas import ATLAS_KEYS
from .atomic import atomic_path, write_atomically
from .config import RunConfig
from .errors import UserError
from .metrics_file import check_metrics
from .model import VAE
from .ood import OOD_FILE
from .onnx_export import OnnxExporter, check_onnx_files, write_onnx_files
from .scores import check_scores
from .writer_lock import real_folder

MAX_TENSOR_FILE_BYTES = 1024 * 2**20  # weights at the largest allowed sizes are ≈ 0.2 GB; MNIST's atlas ≈ 2.7 MB
MAX_ATLAS_POINTS = 100_000  # the map draws every point in the browser; test sets here have 10,000
N_CLASSES = 10
MAX_JSON_BYTES = 64 * 2**20  # metrics.json for 100,000 epochs is ≈ 30 MB; config.json is ≈ 1 kB
WEIGHTS, CONFIG, METRICS, ATLAS, SAMPLES, TRAIN_STATE = (
    "model.safetensors", "config.json", "metrics.json", "atlas.safetensors", "samples.png", "train_state.safetensors",
)


@dataclass
class Checkpoint:
    """What the explorer and the CLI get back from `load_checkpoint`."""

    path: Path
    model: VAE
    config: RunConfig
    metrics: dict
    atlas: dict[str, torch.Tensor]


# ----------------------------------------------------------------------------- writing

def save_checkpoint(
    path: str | Path,
    model: VAE,
    config: RunConfig,
    metrics: dict,
    atlas: dict[str, torch.Tensor],
    samples: np.ndarray | None = None,
    train_state: dict[str, torch.Tensor] | None = None,
    train_state_meta: dict | None = None,
    onnx_exporter: OnnxExporter | None = None,
    timeline=None,
    ood: dict | None = None,
) -> Path:
    """Write every file into a temporary sibling folder, then swap it in: a kill at any moment leaves a whole checkpoint."""
    final = real_folder(path)  # a symlinked --out: swap the folder it points to, as the writer lock guards that one
    final.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted_save(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(tmp / WEIGHTS))
        write_onnx_files(tmp, (onnx_exporter or OnnxExporter()).export(model))
        _write_json(tmp / CONFIG, config.to_dict())
        _write_json(tmp / METRICS, metrics)
        save_file({k: v.contiguous() for k, v in atlas.items()}, str(tmp / ATLAS))
        if samples is not None:  # a grey uint8 (H, W) picture
            from PIL import Image

            Image.fromarray(np.asarray(samples, dtype=np.uint8)).save(tmp / SAMPLES)
        if train_state is not None:
            meta = {"json": json.dumps(train_state_meta or {})}
            save_file({k: v.contiguous() for k, v in train_state.items()}, str(tmp / TRAIN_STATE), metadata=meta)
        if timeline is not None:  # training/timeline.py: the run so far, saved with the checkpoint it belongs to
            timeline.save(tmp)
        if ood is not None:  # training/ood.py: what the model makes of other data
            _write_json(tmp / OOD_FILE, ood)
        _finish_files(tmp)
        _swap_in(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def write_atlas(folder: str | Path, atlas: dict[str, torch.Tensor]) -> None:
    """Replace a checkpoint's atlas.safetensors atomically, e.g. after `training evaluate` added its scores."""
    with atomic_path(Path(folder) / ATLAS) as tmp:
        save_file({k: v.contiguous() for k, v in atlas.items()}, str(tmp))


def write_metrics(folder: str | Path, metrics: dict) -> None:
    """Replace a checkpoint's metrics.json atomically, e.g. after `training evaluate`."""
    write_atomically(Path(folder) / METRICS, _json_text(metrics))


def _json_text(obj) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def _write_json(path: Path, obj) -> None:
    path.write_text(_json_text(obj))


def _finish_files(folder: Path) -> None:
    """Give the files ordinary permissions (mkdtemp and safetensors create them private) and flush them to disk."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for f in folder.iterdir():
        os.chmod(f, 0o666 & ~umask)
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def _previous(final: Path) -> Path:
    return final.with_name(f".{final.name}.previous")


def _swap_in(tmp: Path, final: Path) -> None:
    previous = _previous(final)
    if final.exists():
        os.replace(final, previous)
    os.replace(tmp, final)  # between these two renames only `previous` exists; recover_interrupted_save handles it
    shutil.rmtree(previous, ignore_errors=True)


def recover_interrupted_save(final: Path) -> None:
    """Finish what a save killed mid-swap left: bring back the previous checkpoint and drop stale partial folders."""
    final = real_folder(final)
    previous = _previous(final)
    if not final.exists() and previous.is_dir():
        os.replace(previous, final)
    elif previous.exists():  # the swap finished and only the old folder's removal was cut short: it is stale
        shutil.rmtree(previous, ignore_errors=True)
    if final.parent.is_dir() and os.access(final.parent, os.W_OK):
        for stale in final.parent.glob(f".{final.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)


# ----------------------------------------------------------------------------- reading

def load_checkpoint(path: str | Path, device: str | torch.device = "cpu", check_onnx: bool = True) -> Checkpoint:
    """The one loader: validate every file and return model (eval mode) + config + metrics + atlas.

    `check_onnx=False` is only for `export-onnx`, which writes the ONNX files a folder lacks.
    """
    requested = folder = Path(path)
    previous = _previous(real_folder(folder))
    if not folder.exists() and previous.is_dir():
        # A save was killed between its two renames: the previous checkpoint is whole. Read it where it is; only a
        # writer (the next training run) moves it back, so loading never races a save that is still running.
        folder = previous
    if not folder.exists():
        raise UserError(f"Checkpoint folder {folder} does not exist: train one with `python -m training --out {folder}`.")
    if not folder.is_dir():
        raise UserError(f"Checkpoint {folder} is a file, not a folder: pass the folder that holds {WEIGHTS}.")
    config = read_config(folder)
    model = VAE(config.model)
    model.load_state_dict(_read_weights(folder / WEIGHTS, model))
    model.eval()
    if check_onnx:
        check_onnx_files(folder, model)
    model.to(device)
    metrics = check_metrics(read_json(folder / METRICS), config.model.z_dim, str(folder / METRICS))
    atlas = _read_atlas(folder / ATLAS, config)
    return Checkpoint(requested, model, config, metrics, atlas)


def read_config(folder: Path) -> RunConfig:
    """A checkpoint's config.json as a RunConfig, validated; anything else is a UserError."""
    raw = read_json(folder / CONFIG)
    try:
        return RunConfig.from_dict(raw)
    except (TypeError, ValueError) as err:
        raise UserError(f"{folder / CONFIG}: invalid configuration ({err}).") from None


def read_json(path: Path):
    """A checkpoint folder's JSON file (config, metrics, timeline, …), size-capped; missing or corrupt is a UserError."""
    if not path.is_file():
        raise UserError(f"{path} is missing: the checkpoint is incomplete; train it again or pick another one.")
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise UserError(f"{path} is {size / 2**20:.0f} MiB; a checkpoint's JSON files are at most {MAX_JSON_BYTES // 2**20} MiB.")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path} is not valid JSON ({err}): the file is corrupt.") from None
    except RecursionError:  # "[[[[…" nested deeper than the parser's stack
        raise UserError(f"{path} nests deeper than any checkpoint file does: the file is corrupt.") from None


def header_shapes(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Each tensor's (shape, dtype) from a safetensors file's header alone: what loading it would allocate."""
    if not path.is_file():
        raise UserError(f"{path} is missing: the checkpoint is incomplete; train it again or pick another one.")
    size = path.stat().st_size
    if size > MAX_TENSOR_FILE_BYTES:
        raise UserError(f"{path} is {size / 2**20:.0f} MiB; a checkpoint's tensor files are at most "
                        f"{MAX_TENSOR_FILE_BYTES // 2**20} MiB.")
    try:
        with safe_open(str(path), "pt") as f:
            return {name: (tuple(f.get_slice(name).get_shape()), str(f.get_slice(name).get_dtype())) for name in f.keys()}
    except Exception as err:  # SafetensorError for a bad header; OSError
        raise UserError(f"{path} is not a readable safetensors file ({err}); it may be truncated or corrupt.") from None


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file; missing, truncated or foreign is a UserError (check `header_shapes` first)."""
    if not path.is_file():
        raise UserError(f"{path} is missing: the checkpoint is incomplete; train it again or pick another one.")
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises SafetensorError / OSError on truncated or foreign files
        raise UserError(f"{path} is not a readable safetensors file ({err}); it may be truncated or corrupt.") from None


def _read_weights(path: Path, model: VAE) -> dict[str, torch.Tensor]:
    """Weights whose names, shapes and dtypes match the architecture in config.json, all finite.

    Names and shapes are checked on the file's header first, so a file that declares other sizes is refused before
    its data is read.
    """
    expected = model.state_dict()
    declared = header_shapes(path)
    for name, (shape, _) in declared.items():
        if name in expected and shape != tuple(expected[name].shape):
            raise UserError(f"{path}: '{name}' has shape {shape} but config.json's architecture needs "
                            f"{tuple(expected[name].shape)}; config and weights come from different models.")
    if set(declared) != set(expected):
        missing, unexpected = sorted(set(expected) - set(declared)), sorted(set(declared) - set(expected))
        raise UserError(f"{path} does not match config.json's architecture: missing {missing[:3]}, unexpected {unexpected[:3]}.")
    weights = read_tensors(path)
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise UserError(
            f"{path} does not match config.json's architecture: missing {missing[:3]}, unexpected {unexpected[:3]}."
        )
    for name, tensor in weights.items():
        want = expected[name]
        if tensor.shape != want.shape:
            raise UserError(
                f"{path}: '{name}' has shape {tuple(tensor.shape)} but config.json's architecture "
                f"needs {tuple(want.shape)}; config and weights come from different models."
            )
        if tensor.dtype != want.dtype:
            raise UserError(f"{path}: '{name}' has dtype {tensor.dtype}, expected {want.dtype}.")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise UserError(f"{path}: '{name}' contains NaN or infinite values; the training run diverged.")
    return weights


def _read_atlas(path: Path, config: RunConfig) -> dict[str, torch.Tensor]:
    """The encoded test set: sizes checked on the header (at most MAX_ATLAS_POINTS points) before the data is read."""
    declared = header_shapes(path)
    n = declared.get("labels", ((0,), ""))[0][:1] or (0,)
    if len(declared.get("labels", ((),))[0]) != 1 or not 1 <= n[0] <= MAX_ATLAS_POINTS or len(declared) > 16:
        raise UserError(f"{path}: 'labels' must be one list of 1–{MAX_ATLAS_POINTS:,} class indices; the atlas is damaged.")
    atlas = read_tensors(path)
    missing = [k for k in ATLAS_KEYS if k not in atlas]
    if missing:
        raise UserError(f"{path} lacks {missing}: the atlas is incomplete; train the checkpoint again.")
    n, z = len(atlas["labels"]), config.model.z_dim
    shapes = {"means": (n, z), "stds": (n, z), "pca": (n, 2), "pca_components": (2, z), "pca_center": (z,), "tsne": (n, 2), "umap": (n, 2)}
    for key, shape in shapes.items():
        if key in atlas and tuple(atlas[key].shape) != shape:
            raise UserError(f"{path}: '{key}' has shape {tuple(atlas[key].shape)}, expected {shape} for z_dim={z}.")
        if key in atlas and not torch.isfinite(atlas[key]).all():
            raise UserError(f"{path}: '{key}' contains NaN or infinite values.")
    broken = check_scores(atlas, n, str(path))
    if broken:
        raise UserError(broken)
    labels = atlas["labels"]
    if labels.dtype != torch.int64 or len(labels) and not (0 <= int(labels.min()) and int(labels.max()) < N_CLASSES):
        raise UserError(f"{path}: 'labels' must be int64 class indices 0–{N_CLASSES - 1}; the atlas is damaged.")
    return atlas


def load_train_state(folder: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer and RNG tensors plus their JSON metadata, for --resume."""
    path = Path(folder) / TRAIN_STATE
    tensors = read_tensors(path)
    with safe_open(str(path), "pt") as f:
        meta = json.loads((f.metadata() or {}).get("json", "{}"))
    return tensors, meta


def add_onnx_files(path: str | Path) -> Path:
    """Write encoder.onnx and decoder.onnx into a checkpoint folder that lacks them (or has stale ones), then check them.

    Each file is written to a temporary name and renamed into place, so a kill never leaves half a file.
    """
    ck = load_checkpoint(path, check_onnx=False)
    folder = ck.path if ck.path.is_dir() else _previous(real_folder(ck.path))
    for name, data in OnnxExporter().export(ck.model).items():
        write_atomically(folder / name, data)
    check_onnx_files(folder, ck.model)
    return folder
