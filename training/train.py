"""The training loop: train(...) one epoch at a time, evaluate(...) on the test set, checkpoint every epoch."""
from __future__ import annotations

import errno
import math
import platform
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from . import checkpoint as ckpt
from .atlas import build_atlas
from .config import RunConfig, TrainConfig
from .data import ImageSplit, shuffled_batches, to_model_input, to_uint8
from .deconv import use_fast_deconvs
from .errors import UserError
from .evaluation import latent_metrics
from .finish import NOTHING, finishing_step, split_around_save
from .grid import image_grid
from .levers import LEVERS, LeverProbe, describe, lever_options
from .live import LiveProgress
from .loss import LossTerms, elbo_terms, kl_per_dim
from .model import VAE
from .timeline import Recorder, Timeline, load_timeline

SAMPLE_GRID_DIGITS = 32
CHECKPOINT_BYTES_ESTIMATE = 32 * 2**20


def pick_device(name: str = "auto") -> torch.device:
    """'auto' → cuda, then mps, then cpu; anything else must name a device this machine has."""
    if name != "auto":
        try:
            device = torch.device(name)
        except RuntimeError:
            raise UserError(f"--device {name[:40]!r} is not a device: use auto, cpu, cuda, cuda:N or mps.") from None
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
            "mps": bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available(),
        }
        if not available.get(device.type, False):
            raise UserError(f"--device {name[:40]!r} is not available on this machine; use --device auto or cpu.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        torchvision = version("torchvision")
    except PackageNotFoundError:
        torchvision = None
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision}


def forward_loss(model: VAE, x: torch.Tensor, beta: float, kind: str) -> LossTerms:
    logits, posterior = model(x)
    return elbo_terms(logits, x, posterior, beta, kind)


class Stepper:
    """One optimisation step with the configured speed levers (channels_last, bf16 autocast, GEMM deconvolution,
    torch.compile); `set_levers` switches them between steps (the lever probe)."""

    def __init__(self, model: VAE, optimizer: torch.optim.Optimizer, cfg: TrainConfig, device: torch.device):
        self.model, self.optimizer, self.cfg, self.device = model, optimizer, cfg, device
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.loss_fn = torch.compile(forward_loss) if cfg.compile else forward_loss

    @property
    def levers(self) -> dict:
        return {name: getattr(self.cfg, name) for name in LEVERS}

    def set_levers(self, levers: dict) -> None:
        """Same parameters and optimizer state from the next step on, in another precision, kernel or layout."""
        if levers == self.levers:
            return
        self.cfg = replace(self.cfg, **levers)
        use_fast_deconvs(self.model, self.cfg.gemm_deconv)
        memory_format = torch.channels_last if self.cfg.channels_last else torch.contiguous_format
        if memory_format != self.memory_format:
            self.model.to(memory_format=memory_format)  # in place: the optimizer keeps the same Parameter objects
            match_state_layout(self.optimizer)
            self.memory_format = memory_format

    def autocast(self):
        if not self.cfg.bf16:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def __call__(self, images_u8: torch.Tensor) -> LossTerms:
        x = to_model_input(images_u8, self.device).contiguous(memory_format=self.memory_format)
        with self.autocast():
            terms = self.loss_fn(self.model, x, self.cfg.beta, self.cfg.reconstruction)
        self.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        self.optimizer.step()
        return LossTerms(*(t.detach() for t in terms))


def match_state_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give each parameter's optimizer moments the parameter's memory layout.

    Fused Adam pairs elements by memory position: moments kept contiguous for a channels_last parameter (after a
    resume or a lever switch) would silently be applied to the wrong weights.
    """
    for group in optimizer.param_groups:
        for param in group["params"]:
            entry = optimizer.state.get(param, {})
            for key, value in entry.items():
                if value.shape == param.shape and value.stride() != param.stride():
                    entry[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def timed_step(step: Stepper, images_u8: torch.Tensor, probe: LeverProbe | None) -> list[float]:
    """One training step, with the levers the probe asks for while it is deciding; returns the loss terms."""
    if probe is None or probe.done:
        return [t.item() for t in step(images_u8)]
    step.set_levers(probe.next_levers())
    started = time.perf_counter()
    values = [t.item() for t in step(images_u8)]  # .item() waits for the step, also on a GPU
    probe.record(time.perf_counter() - started, len(images_u8))
    if probe.done:
        step.set_levers(probe.chosen)
    return values


def make_model_and_optimizer(run: RunConfig, device: torch.device) -> tuple[VAE, torch.optim.Optimizer]:
    torch.manual_seed(run.train.seed)
    model = use_fast_deconvs(VAE(run.model).to(device), run.train.gemm_deconv)  # the lab's model, our kernel
    if run.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    fused = device.type in ("cuda", "cpu")
    optimizer = torch.optim.Adam(model.parameters(), lr=run.train.lr, fused=fused)
    return model, optimizer


@torch.inference_mode()
def evaluate(model: VAE, split: ImageSplit, cfg: TrainConfig, device: torch.device, batch_size: int = 2000,
             autocast: Callable = nullcontext) -> dict:
    """Test-set negative ELBO per image (one z sample per image) with its terms and the KL of each latent dim.

    A training run passes its step's autocast: in bf16 the test set takes 0.9 s instead of 2.1 s on a Zen 4 CPU, and
    the −ELBO moves by ≤ 0.02 nats (measured on two checkpoints with the same z samples).
    """
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64)
    kl_dims = torch.zeros(model.cfg.z_dim, dtype=torch.float64)
    for chunk in split.images.split(batch_size):
        x = to_model_input(chunk, device)
        with autocast():
            logits, posterior = model(x)
        terms = elbo_terms(logits, x, posterior, cfg.beta, cfg.reconstruction)  # the loss runs in float32
        sums += torch.tensor([t.item() for t in terms], dtype=torch.float64) * len(chunk)
        kl_dims += kl_per_dim(posterior).double().sum(0).cpu()
    n = len(split.images)
    total, recon, kl = (sums / n).tolist()
    model.train()
    return {"total": total, "recon": recon, "kl": kl, "kl_per_dim": (kl_dims / n).tolist()}


@torch.inference_mode()
def reconstruction_grid(model: VAE, images_u8: torch.Tensor, device: torch.device, columns: int = 16) -> np.ndarray:
    """True digits (top half) above their reconstructions from the posterior mean (bottom half), as one uint8 picture
    (H, W) with 2-pixel mid-grey gutters (torchvision's make_grid layout, without importing torchvision: that import
    cost ≈ 1 s of every run's first save)."""
    model.eval()
    x = to_model_input(images_u8, device)
    recon = model.decode(model.encode(x).mean)
    model.train()
    return image_grid(to_uint8(torch.cat([x, recon])).numpy(), columns, scale=1, gutter=128)  # 128: 0.5 as uint8


def check_output_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Fail before any training if the checkpoint could not be written or would silently replace another."""
    if out.parent.is_dir():
        ckpt.recover_interrupted_save(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder path for the checkpoint.")
    if resume and not (out / ckpt.TRAIN_STATE).is_file():
        raise UserError(f"--resume: {out} holds no {ckpt.TRAIN_STATE} to continue from; train it without --resume.")
    if not resume and not overwrite and (out / ckpt.CONFIG).exists():
        raise UserError(f"{out} already holds a checkpoint: pass --resume to continue it, --overwrite to replace it, or another --out.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out.parent / f".{out.name}.write-test", "wb") as probe:
            probe.write(b"0" * 4096)
        (out.parent / f".{out.name}.write-test").unlink()
    except OSError as err:
        raise UserError(f"Cannot write the checkpoint to {out} ({err.strerror}); choose a writable --out.") from None
    free = shutil.disk_usage(out.parent).free
    if free < CHECKPOINT_BYTES_ESTIMATE:
        raise UserError(f"Only {free // 2**20} MiB free under {out.parent}; a checkpoint needs about {CHECKPOINT_BYTES_ESTIMATE // 2**20} MiB.")


def _train_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors = {f"optim.{pid}.{key}": value.cpu() for pid, entry in state["state"].items() for key, value in entry.items()}
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    return tensors, {"param_groups": state["param_groups"]}


def _restore_train_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    match_state_layout(optimizer)  # saved moments are contiguous
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)


def _resume(out: Path, run: RunConfig, device: torch.device) -> tuple[RunConfig, VAE, torch.optim.Optimizer, list]:
    saved = ckpt.load_checkpoint(out, device)
    if saved.config.model != run.model:
        raise UserError(f"--resume: {out} was trained with {saved.config.model}, not {run.model}; drop the model flags.")
    run = replace(run, train=replace(saved.config.train, epochs=run.train.epochs), probe=saved.config.probe)
    model, optimizer = make_model_and_optimizer(run, device)
    model.load_state_dict(saved.model.state_dict())
    tensors, meta = ckpt.load_train_state(out)
    _restore_train_state(optimizer, tensors, meta)
    return run, model, optimizer, list(saved.metrics.get("history", []))


@dataclass(frozen=True)
class Invocation:
    """How this process runs a run; none of it changes what is trained, so config.json does not record it."""

    device: str | torch.device = "cpu"
    resume: bool = False  # continue the folder's run from its last saved epoch
    overwrite: bool = False  # replace a checkpoint already in the folder
    dry_run: bool = False  # one batch, one save: checks the whole path quickly
    progress: bool = True  # tqdm bars
    log: Callable[[str], None] = print


def train(run: RunConfig, train_split: ImageSplit, test_split: ImageSplit, out: str | Path,
          how: Invocation = Invocation()) -> dict:
    """Train `run` into the folder `out`, evaluating and saving after every epoch; returns metrics.json's content.

    Every choice is the run's (config.json records it): `run.record` says what is recorded as it goes (the timeline,
    the live progress the Train tab reads, the speed-lever probe), `run.finish` what is computed after the last
    epoch. The command (`python -m training`) holds the folder's writer lock around this (training/writer_lock.py).
    """
    out, device = Path(out), torch.device(how.device)
    check_output_folder(out, how.resume, how.overwrite)
    steps_per_epoch = 1 if how.dry_run else -(-len(train_split.images) // run.train.batch_size)
    done = len(ckpt.read_json(out / ckpt.METRICS).get("history", [])) if how.resume else 0
    live = run.record.live
    progress_file = LiveProgress(live, steps_per_epoch, run.train.epochs, done) if live is not None else None
    try:
        metrics = _train(run, train_split, test_split, out, device, how, progress_file)
    except KeyboardInterrupt:
        if progress_file is not None:
            progress_file.set_state("stopped", "stopped: the last saved epoch is kept")
        raise
    except (UserError, OSError, RuntimeError) as err:
        if progress_file is not None:
            progress_file.set_state("failed", str(err)[:400])
        raise
    if progress_file is not None:
        progress_file.set_state("done")
    return metrics


def lever_probe(run: RunConfig, device: torch.device) -> LeverProbe | None:
    """The speed levers to try on a new run's first steps (those its command line did not fix), when it asks."""
    if not run.record.probe_levers or run.train.compile or run.probe:
        return None
    forced = {name: getattr(run.train, name) for name in run.record.forced_levers}
    return LeverProbe(lever_options(device.type, bf16_supported(device), forced), forced=forced)


def _train(run: RunConfig, train_split: ImageSplit, test_split: ImageSplit, out: Path, device: torch.device,
           how: Invocation, live: LiveProgress | None) -> dict:
    """train(...) once the folder is checked: the epochs, each evaluated and saved."""
    resume, dry_run, log = how.resume, how.dry_run, how.log
    ood_data_dir = run.data.get("data_dir")  # where the other data sets of ood.json are looked for
    if run.train.bf16 and not bf16_supported(device):
        raise UserError(f"--bf16: this {device.type} device has no bfloat16 support; run without --bf16.")
    if resume:
        run, model, optimizer, history = _resume(out, run, device)
        log(f"resuming {out} after epoch {len(history)}")
    else:
        model, optimizer = make_model_and_optimizer(run, device)
        history = []
    probe = lever_probe(run, device) if not resume and not dry_run else None
    step = Stepper(model, optimizer, run.train, device)
    exporter = ckpt.OnnxExporter()  # exports the ONNX graphs at the first save, then only refreshes their weights
    metrics: dict = {"history": history}
    recorder = _timeline_recorder(out, run, model, train_split, test_split, device, len(history), resume, log,
                                  step.autocast, live.snapshot if live else None) if run.record.timeline else None
    for epoch in range(len(history), run.train.epochs):
        started = time.perf_counter()
        probing = probe if probe is not None and not run.probe else None
        if live is not None:
            live.begin_steps()
        train_terms = _train_one_epoch(step, train_split, run.train, epoch, dry_run, how.progress, probing, recorder, live)
        seconds = time.perf_counter() - started
        if live is not None:
            live.epoch_end()
        if probing is not None:
            run = replace(run, train=replace(run.train, **probing.chosen),
                          probe=probing.report(run.train.batch_size, str(device)))
            step.set_levers(probing.chosen)
            log(describe(run.probe))
        test = evaluate(model, test_split, run.train, device, batch_size=run.train.batch_size, autocast=step.autocast)
        n_images = min(len(train_split.images), run.train.batch_size) if dry_run else len(train_split.images)
        history.append({
            "epoch": epoch + 1,
            "train": train_terms,
            "test": {k: test[k] for k in ("total", "recon", "kl")},
            "seconds": round(seconds, 3),
            "images_per_s": round(n_images / seconds, 1),
        })
        last = dry_run or epoch + 1 == run.train.epochs
        atlas = build_atlas(model, test_split.images, test_split.labels, with_tsne=False, seed=run.train.seed)
        metrics = _metrics(history, test, atlas["means"])
        before, after = split_around_save(run.finish, last, dry_run)
        ood = finishing_step(model, test_split, run, before, atlas, metrics, ood_data_dir, step.autocast, log)
        _save(out, model, run, metrics, atlas, optimizer, test_split, device, exporter, recorder, ood)
        log(_epoch_line(history[-1]))
        if live is not None:
            live.saved(epoch + 1, history[-1]["test"])
        if after.tsne or after.umap or after.scores:  # the checkpoint already opens with its PCA map; now the slow parts
            if live is not None:
                live.set_state("t-SNE")
            started = time.perf_counter()
            ood = finishing_step(model, test_split, run, after, atlas, metrics, ood_data_dir, step.autocast, log)
            _save(out, model, run, metrics, atlas, optimizer, test_split, device, exporter, recorder, ood)
            log(f"scores and t-SNE map added in {time.perf_counter() - started:.1f} s")
        if dry_run:
            break
    if recorder is not None:
        log(f"timeline: {len(recorder.timeline.entries)} snapshots, {recorder.seconds:.1f} s of the run")
    return metrics


def _timeline_recorder(out: Path, run: RunConfig, model: VAE, train_split: ImageSplit, test_split: ImageSplit, device,
                       done_epochs: int, resume: bool, log: Callable[[str], None], autocast,
                       on_snapshot=None) -> Recorder | None:
    """The run's timeline: started with the run, or continued from the folder on --resume. A resumed run whose folder
    has no usable timeline goes on without one (its first snapshot would not be the initial weights)."""
    steps_per_epoch = -(-len(train_split.images) // run.train.batch_size)
    if not resume:
        timeline = Timeline.start(test_split.labels, run.model.z_dim)
    else:
        try:
            timeline = load_timeline(out, run.model.z_dim, len(test_split.labels))
        except UserError as err:
            log(f"{err} Continuing without a timeline.")
            return None
        if timeline is None:
            log(f"{out} has no timeline to continue (trained without one): continuing without a timeline.")
            return None
    recorder = Recorder(timeline, test_split.images, steps_per_epoch, run.train.epochs, device, run.train.reconstruction,
                        done_steps=done_epochs * steps_per_epoch, autocast=autocast, on_snapshot=on_snapshot)
    recorder.begin(model)
    return recorder


def _train_one_epoch(step: Stepper, split: ImageSplit, cfg: TrainConfig, epoch: int, dry_run: bool, progress: bool,
                     probe: LeverProbe | None = None, recorder: Recorder | None = None,
                     live: LiveProgress | None = None) -> dict:
    sums = torch.zeros(3, dtype=torch.float64)
    seen = 0
    batches = list(shuffled_batches(len(split.images), cfg.batch_size, cfg.seed, epoch))
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not progress, leave=False, file=sys.stderr)
    for idx in bar:
        values = timed_step(step, split.images[idx], probe if len(idx) == cfg.batch_size else None)
        if not all(math.isfinite(v) for v in values):
            raise UserError(
                f"The loss became {values[0]} in epoch {epoch + 1}: training stopped and the last saved checkpoint "
                "was kept. Try a lower --lr or --beta, or --no-bf16."
            )
        sums += torch.tensor(values, dtype=torch.float64) * len(idx)
        seen += len(idx)
        if live is not None:
            live.after_step(values, len(idx))
        if recorder is not None:
            recorder.after_step(step.model, values, len(idx))
        bar.set_postfix(loss=f"{values[0]:.1f}")
        if dry_run:
            break
    total, recon, kl = (sums / seen).tolist()
    return {"total": total, "recon": recon, "kl": kl}


def _metrics(history: list, test: dict, test_means: torch.Tensor) -> dict:
    return {
        "history": history,
        "final": {
            "epochs": len(history),
            "test": {k: test[k] for k in ("total", "recon", "kl")},
            **latent_metrics(test_means, test["kl_per_dim"]),
            "train_seconds": round(sum(h["seconds"] for h in history), 2),
        },
    }


def _save(out, model, run, metrics, atlas, optimizer, test_split, device, exporter, recorder=None, ood=None) -> None:
    grid = reconstruction_grid(model, test_split.images[:SAMPLE_GRID_DIGITS], device)
    tensors, meta = _train_state(optimizer)
    model.train()
    try:
        ckpt.save_checkpoint(out, model, run, metrics, atlas, samples=grid, train_state=tensors, train_state_meta=meta,
                             onnx_exporter=exporter, timeline=recorder.timeline if recorder else None, ood=ood)
    except OSError as err:  # the half-written copy is already removed; the last saved checkpoint is whole
        raise UserError(f"Could not write the checkpoint for epoch {len(metrics['history'])} to {out} "
                        f"({err.strerror or err}): {_save_failure_cause(err, out)} The last saved checkpoint was kept; "
                        "continue it with --resume.") from None


def _save_failure_cause(err: OSError, out: Path) -> str:
    """What to do about a failed save, from its cause: a full disk is not a folder that vanished or a read-only one."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full; free some space."
    if err.errno == errno.ENOENT:
        return f"a file or folder under {out.parent} was moved or deleted during the save, by another program."
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{out.parent} is no longer writable."
    return "the file system refused the write."


def _epoch_line(h: dict) -> str:
    tr, te = h["train"], h["test"]
    return (
        f"epoch {h['epoch']:3d} | train {tr['total']:7.2f} (recon {tr['recon']:6.2f} + KL {tr['kl']:5.2f}) | "
        f"test {te['total']:7.2f} (recon {te['recon']:6.2f} + KL {te['kl']:5.2f}) | "
        f"{h['seconds']:6.1f} s, {h['images_per_s']:7.0f} img/s"
    )


def reevaluate(folder: str | Path, data_dir: str | Path | None = None, iwae: bool = True, device: str = "cpu",
               scores: bool = True, log: Callable[[str], None] = print, umap: bool = True) -> dict:
    """Recompute a checkpoint's final test metrics with today's definitions and rewrite its metrics.json in place.

    For checkpoints saved before a metric existed (e.g. active units, IWAE, per-image scores): the weights are not
    touched; with `scores` the atlas gets the scores (the map's coordinates are kept) and the folder an ood.json;
    with `umap` a UMAP map.
    """
    from .data import load_split
    from .ood import write_ood

    ck = ckpt.load_checkpoint(folder, device)
    use_fast_deconvs(ck.model)  # the many passes of the metrics and scores: the same function, faster on a CPU
    data = ck.config.data
    data_dir = data_dir or data.get("data_dir", "data")
    test_split = load_split(data_dir, train=False, download=False, dataset=data.get("dataset"))
    torch.manual_seed(ck.config.train.seed)  # the one z per image: the same numbers every time it is re-evaluated
    test = evaluate(ck.model, test_split, ck.config.train, torch.device(device))
    final = {**ck.metrics.get("final", {}), **_metrics(ck.metrics.get("history", []), test, ck.atlas["means"])["final"]}
    final["train_seconds"] = ck.metrics.get("final", {}).get("train_seconds", final["train_seconds"])
    for stale in ("active_dims", "inactive_kl_nats"):  # the KL-threshold count that active units replaced
        final.pop(stale, None)
    metrics = {**ck.metrics, "final": final}
    atlas = dict(ck.atlas)  # its maps' coordinates are kept; t-SNE is not fitted again
    finishing_step(ck.model, test_split, ck.config, replace(NOTHING, iwae=iwae), atlas, metrics, log=log)  # as saved
    bf16 = bf16_supported(torch.device(device))
    autocast = (lambda: torch.autocast(torch.device(device).type, dtype=torch.bfloat16)) if bf16 else nullcontext
    parts = replace(NOTHING, umap=umap, scores=scores)  # the scores in bf16 where native: faster still
    ood = finishing_step(ck.model, test_split, ck.config, parts, atlas, metrics, data_dir, autocast, log)
    if ood is not None:
        write_ood(folder, ood)
    if scores or umap:
        ckpt.write_atlas(folder, atlas)
    ckpt.write_metrics(folder, metrics)
    return metrics["final"]
