"""A model trained elsewhere — the lab's notebook, or this project — made into a checkpoint folder the explorer opens.

The lab's VAE is this project's architecture under other module names (`encode.disc.N…` / `decode.gen.N…` against
`encoder.net.N…` / `decoder.net.N…`, and its last decoder block wraps the transposed conv with the Sigmoid), so its
weights convert exactly. The sizes (z_dim, hidden widths, channels) are read from the tensors' shapes, every name and
shape is checked against the model they describe, and only then is anything computed or written.
"""
from __future__ import annotations

import hashlib
import re
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping

import torch

from . import checkpoint as ckpt
from .atlas import build_atlas
from .config import FinishConfig, ModelConfig, RecordConfig, RunConfig, TrainConfig
from .data import ImageSplit
from .datasets import dataset_info
from .deconv import use_fast_deconvs
from .errors import UserError
from .finish import NOTHING, finishing_step
from .model import VAE
from .run_state import write_run_state
from .safe_text import plain
from .train import SAMPLE_GRID_DIGITS, check_output_folder, evaluate, metrics_content, reconstruction_grid, versions

MAX_IMPORT_BYTES = ckpt.MAX_TENSOR_FILE_BYTES  # 1 GiB: the largest model the limits allow is ≈ 0.2 GB in float32
# Wrappers a saved state dict may carry: torch.compile's `_orig_mod.`, DataParallel's `module.`.
WRAPPER_PREFIXES = ("_orig_mod.", "module.")
# The lab's module names → ours. Its final blocks are Sequentials, Sequential(Conv2d) and Sequential(ConvTranspose2d,
# Sigmoid): `disc.2.0` is our `net.2` (a bare conv in some copies of the lab) and `gen.3.0` our `net.3` (our decoder
# applies the Sigmoid outside `net`, so the loss can use logits).
LAB_NAMES = ((re.compile(r"^encode\.disc\.2\.0\."), "encoder.net.2."), (re.compile(r"^encode\.disc\."), "encoder.net."),
             (re.compile(r"^decode\.gen\.3\.0\."), "decoder.net.3."), (re.compile(r"^decode\.gen\."), "decoder.net."))
NESTED_KEYS = ("state_dict", "model_state_dict", "model")  # {"state_dict": …} as some training scripts save it


@dataclass(frozen=True)
class Imported:
    """Weights in this project's layout, the architecture they describe, and where they came from."""

    weights: dict[str, torch.Tensor]
    model: ModelConfig
    source: dict  # config.json's `imported_from`: file name, sha256, the layout it was in


def read_state_dict_file(path: str | Path) -> tuple[dict, str]:
    """The tensors of a file saved with `torch.save(vae.state_dict(), path)` or as safetensors, and its sha256.

    The size is checked before anything is read; a .pt file is read with `weights_only=True`, which unpickles
    tensors and plain containers only, never code.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} is not a file; give the file written by torch.save(vae.state_dict(), PATH).")
    size = path.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise UserError(f"{path} is {size / 2**20:,.0f} MiB; a model within the supported sizes is at most "
                        f"{MAX_IMPORT_BYTES // 2**20:,} MiB.")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        head = f.read(9)
        digest.update(head)
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    if _looks_like_safetensors(head, size):
        return ckpt.read_tensors(path), digest.hexdigest()
    _check_archive(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError for a pickled module or code, RuntimeError/EOFError for a damaged file
        reason = " ".join(str(err).split())[:160]
        raise UserError(f"{path} is not a state dict that can be read safely ({type(err).__name__}: {reason}); "
                        "save the weights with torch.save(vae.state_dict(), PATH), not the whole model.") from None
    return loaded, digest.hexdigest()


def _check_archive(path: Path) -> None:
    """torch.save writes a zip archive whose entries are stored, not compressed; a compressed entry could unpack to
    far more than the file's size (a 200 KB file into 200 MB), so only stored entries within the size limit are
    read. Older PyTorch's non-zip format is refused too (torch.load would read it without these bounds)."""
    advice = "save the weights with torch.save(vae.state_dict(), PATH) (PyTorch ≥ 1.6) or as safetensors."
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise UserError(f"{path} is not a state dict saved by torch.save (a zip archive) or a safetensors file; "
                        f"{advice}") from None
    unpacked = sum(e.file_size for e in entries)
    if any(e.compress_type != zipfile.ZIP_STORED for e in entries) or unpacked > MAX_IMPORT_BYTES:
        raise UserError(f"{path} is not a state dict as torch.save writes one: its archive has compressed entries or "
                        f"unpacks to more than {MAX_IMPORT_BYTES // 2**20:,} MiB; {advice}")


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    """safetensors starts with an 8-byte little-endian header length, then a JSON object."""
    n = int.from_bytes(head[:8], "little")
    return len(head) == 9 and 2 <= n <= size - 8 and head[8:9] == b"{"


def to_project_layout(state) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict under this project's parameter names, and which layout it came in ("lab" or "project")."""
    if isinstance(state, Mapping):
        nested = [k for k in NESTED_KEYS if isinstance(state.get(k), Mapping)]
        if nested and not any(isinstance(v, torch.Tensor) for v in state.values()):
            state = state[nested[0]]
    if not isinstance(state, Mapping) or not state:
        raise UserError(f"the file holds {type(state).__name__}, not a state dict (parameter names → tensors); "
                        "save it with torch.save(vae.state_dict(), PATH).")
    weights, layout = {}, "project"
    for key, value in state.items():
        if not isinstance(key, str):
            raise UserError(f"the state dict has a {type(key).__name__} key; its keys must be parameter names.")
        if not isinstance(value, torch.Tensor):
            raise UserError(f"entry {plain(key, 80)!r} of the state dict is a {type(value).__name__}, not a tensor.")
        name = key
        for prefix in WRAPPER_PREFIXES:
            name = name.removeprefix(prefix)
        for pattern, ours in LAB_NAMES:
            if pattern.match(name):
                name, layout = pattern.sub(ours, name), "lab"
                break
        if name in weights:
            raise UserError(f"two entries of the state dict are both {plain(name, 80)!r} once converted.")
        weights[name] = value
    return weights, layout


def infer_model_config(weights: dict[str, torch.Tensor]) -> ModelConfig:
    """The architecture the tensors describe: sizes read from the first and last layers' shapes, then checked."""
    first, last, decoder_first = "encoder.net.0.0.weight", "encoder.net.2.weight", "decoder.net.0.0.weight"
    for name in (first, last, decoder_first):
        if name not in weights or weights[name].dim() != 4:
            found = next(iter(weights))
            raise UserError(f"the state dict has no 4-D '{name}': it is not the lab's VAE (encode.disc…/decode.gen…) "
                            f"or this project's (encoder.net…/decoder.net…); its first key is {plain(found, 80)!r}.")
    encoder_hidden, channels = weights[first].shape[:2]
    z2 = weights[last].shape[0]
    z_dim, decoder_width = weights[decoder_first].shape[:2]  # ConvTranspose2d weights are (in, out, kH, kW)
    if z2 != 2 * z_dim or decoder_width % 4:
        raise UserError(f"'{last}' gives {z2} outputs and '{decoder_first}' {z_dim} inputs × {decoder_width} outputs: "
                        "the encoder must output 2 × z_dim (mean and std) and the decoder start at 4 × its hidden width.")
    if channels != 1:
        raise UserError(f"'{first}' takes {channels} image channels; the explorer's data sets are grey (1 channel).")
    try:
        return ModelConfig(z_dim=int(z_dim), encoder_hidden=int(encoder_hidden), decoder_hidden=int(decoder_width) // 4,
                           image_channels=int(channels))
    except ValueError as err:
        raise UserError(f"the state dict describes a model beyond the supported sizes: {err}.") from None


def check_weights(weights: dict[str, torch.Tensor], model: ModelConfig) -> dict[str, torch.Tensor]:
    """Every name and shape the architecture needs, nothing else, all finite once in our dtypes (float32)."""
    with torch.device("meta"):  # the shapes only: nothing allocated for sizes the file declares
        expected = VAE(model).state_dict()
    for name, want in expected.items():
        if name not in weights:
            raise UserError(f"the state dict lacks '{name}' that a {_sizes(model)} model needs.")
        got = weights[name]
        if tuple(got.shape) != tuple(want.shape):
            raise UserError(f"'{name}' has shape {tuple(got.shape)}, but a {_sizes(model)} model needs {tuple(want.shape)}.")
        if want.is_floating_point() and not got.is_floating_point():
            raise UserError(f"'{name}' holds {got.dtype} values; weights must be floating point.")
    unexpected = sorted(set(weights) - set(expected))
    if unexpected:
        raise UserError(f"{plain(unexpected[0], 80)!r} is not a parameter of the lab's VAE ({len(unexpected)} "
                        "unexpected in all): the model has layers this explorer does not know.")
    converted = {name: weights[name].detach().to("cpu", want.dtype).contiguous() for name, want in expected.items()}
    for name, tensor in converted.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise UserError(f"'{name}' contains NaN or infinite values (in float32): the model diverged; import an "
                            "earlier one.")
        if name.endswith("running_var") and (tensor < 0).any():
            raise UserError(f"'{name}' holds negative variances: the file is damaged.")
    return converted


def _sizes(model: ModelConfig) -> str:
    return f"z_dim {model.z_dim}, encoder {model.encoder_hidden}, decoder {model.decoder_hidden}"


def prepare_import(state, source: dict) -> Imported:
    """Checked weights in our layout with the architecture they describe, from a state dict of either layout."""
    weights, layout = to_project_layout(state)
    model = infer_model_config(weights)
    return Imported(check_weights(weights, model), model, {**source, "layout": layout})


def import_file(path: str | Path) -> Imported:
    """`prepare_import` for a file on disk; `imported_from` records its name and hash."""
    state, digest = read_state_dict_file(path)
    return prepare_import(state, {"file": Path(path).name, "sha256": digest})


def imported_run(imported: Imported, test_split: ImageSplit, dataset: str, data_dir: str | None, finish: FinishConfig,
                 argv: list[str], reconstruction: str = "bce", beta: float = 1.0) -> RunConfig:
    """The run config an imported model is saved with: its architecture and source; no timeline (its training was
    not watched); the training settings are the lab's, which this project's defaults are, but for the two its
    numbers depend on: the likelihood it was trained with (every score and bound uses it) and β."""
    info = dataset_info(dataset)
    data = {"dataset": info.key, "class_names": list(info.class_names), "data_dir": data_dir,
            "train_images": None, "test_images": len(test_split.images)}
    return RunConfig(model=imported.model, train=TrainConfig(reconstruction=reconstruction, beta=beta),
                     record=RecordConfig(timeline=False, probe_levers=False), finish=finish, data=data,
                     versions=versions(), argv=argv, imported_from=imported.source)


def save_imported(imported: Imported, run: RunConfig, test_split: ImageSplit, out: str | Path, overwrite: bool = False,
                  log: Callable[[str], None] = print, on_first_save: Callable[[Path], None] | None = None) -> Path:
    """Write the checkpoint folder: first with its test metrics and PCA map (it opens then), then again with what
    `run.finish` asks for (t-SNE, UMAP, IWAE, scores and ood.json), its state saying so meanwhile
    (training/run_state.py). Call it holding the folder's writer lock. Returns the folder."""
    out = Path(out)
    check_output_folder(out, resume=False, overwrite=overwrite)
    write_run_state(out, "training")  # until the first save is whole, whatever an earlier folder here said
    try:
        with torch.random.fork_rng():  # the caller's (a notebook's) random state is left as it was
            return _save_imported(imported, run, test_split, out, log, on_first_save)
    except BaseException as err:  # a first save that was whole still opens; the state says the rest did not come
        write_run_state(out, "stopped" if isinstance(err, KeyboardInterrupt) else "failed", str(err)[:400])
        raise


def _save_imported(imported, run, test_split, out, log, on_first_save) -> Path:
    started = time.perf_counter()
    model = VAE(run.model)
    model.load_state_dict(imported.weights)
    use_fast_deconvs(model)  # the many passes of the metrics and scores: the same function, faster on a CPU
    torch.manual_seed(run.train.seed)  # the one z per test image of the −ELBO
    test = evaluate(model, test_split, run.train, torch.device("cpu"))
    atlas = build_atlas(model, test_split.images, test_split.labels, with_tsne=False, seed=run.train.seed)
    metrics = metrics_content([], test, atlas["means"])
    grid = reconstruction_grid(model, test_split.images[:SAMPLE_GRID_DIGITS], torch.device("cpu"))
    exporter = ckpt.OnnxExporter()
    folder = ckpt.save_checkpoint(out, model, run, metrics, atlas, samples=grid, onnx_exporter=exporter)
    log(f"saved {folder} with its test metrics and PCA map in {time.perf_counter() - started:.1f} s "
        f"(test −ELBO {test['recon'] + test['kl']:.2f})")
    more = run.finish != replace(NOTHING, maps_after_save=run.finish.maps_after_save)
    write_run_state(folder, "finishing" if more else "done")
    if on_first_save is not None:
        on_first_save(folder)
    if more:
        ood = finishing_step(model, test_split, run, run.finish, atlas, metrics, run.data.get("data_dir"), log=log)
        ckpt.save_checkpoint(out, model, run, metrics, atlas, samples=grid, onnx_exporter=exporter, ood=ood)
        write_run_state(folder, "done")
        log(f"added the maps and scores in {time.perf_counter() - started:.1f} s in all")
    return folder
