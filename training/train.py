"""The training loop: train(...) one epoch at a time, evaluate(...) on the test set, checkpoint every epoch."""
from __future__ import annotations

import errno
import math
import platform
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
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
from .levers import LEVERS, LeverProbe, ProbeObserver, lever_options
from .live import LiveProgress
from .loss import LossTerms, elbo_terms, kl_per_dim, latent_for_decoder
from .model import VAE
from .observers import LoopState, Observer, end, notify
from .run_state import RunStateFile
from .stop_file import StopFile
from .timeline import Recorder

SAMPLE_GRID_DIGITS = 32
WAIT_EVERY = 20  # on a GPU, the loop waits for (and checks the losses of) one step in this many
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


def forward_loss(model: VAE, x: torch.Tensor, beta: float, kind: str, sampling: str = "rsample") -> LossTerms:
    """The training loss of a batch: q(z|x), the decoder on z drawn as `sampling` says (training/loss.py), the ELBO."""
    posterior = model.encode(x)
    logits = model.decoder.logits(latent_for_decoder(posterior, sampling))
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

    def __call__(self, images_u8: torch.Tensor) -> torch.Tensor:
        x = to_model_input(images_u8, self.device).contiguous(memory_format=self.memory_format)
        with self.autocast():
            terms = self.loss_fn(self.model, x, self.cfg.beta, self.cfg.reconstruction, self.cfg.sampling)
        self.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        self.optimizer.step()
        return torch.stack([t.detach().float() for t in terms])  # total, recon, KL: one tensor, read once


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


def training_step(s: LoopState, images_u8: torch.Tensor, observers: list[Observer]) -> torch.Tensor:
    """One optimisation step between its observers' hooks; returns its loss terms (on the device).

    On a CPU every step is waited for and its losses checked. On a GPU the loop does not wait: steps queue up on the
    device, and only every `WAIT_EVERY`-th step (or one an observer asks for: the probe times its steps) is waited
    for and checked, so that a loss that stopped being finite is still caught within a few steps."""
    s.batch = len(images_u8)
    s.wait = s.stepper.device.type != "cuda" or s.step % WAIT_EVERY == 0
    notify(observers, "step_starts", s)
    started = time.perf_counter()
    s.terms = s.stepper(images_u8)
    if s.wait:
        refuse_non_finite(s.losses, s.epoch)  # reading them waits for the step, also on a GPU
    s.seconds = time.perf_counter() - started
    s.step += 1
    notify(observers, "step_done", s)
    return s.terms


def refuse_non_finite(losses: list[float], epoch: int) -> None:
    if not all(math.isfinite(v) for v in losses):
        raise UserError(
            f"The loss became {losses[0]} in epoch {epoch + 1}: training stopped and the last saved checkpoint "
            "was kept. Try a lower --lr or --beta, or --no-bf16."
        )


def timed_step(step: Stepper, images_u8: torch.Tensor, probe: LeverProbe | None = None) -> list[float]:
    """One training step outside a run (tests, the speed benchmark), with the levers `probe` asks for while it is
    deciding; returns the loss terms."""
    observers = [ProbeObserver(probe, str(step.device))] if probe is not None else []
    return training_step(LoopState(None, step.model, step), images_u8, observers).tolist()


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
    stop_file: str | None = None  # the run stops as on Ctrl-C when this file appears (training/stop_file.py)


def train(run: RunConfig, train_split: ImageSplit, test_split: ImageSplit, out: str | Path,
          how: Invocation = Invocation()) -> dict:
    """Train `run` into the folder `out`, evaluating and saving after every epoch; returns metrics.json's content.

    Every choice is the run's (config.json records it): `run.record` says what watches it as it goes (the timeline,
    the live progress the Train tab reads, the speed-lever probe: `run_observers`), `run.finish` what is computed
    after the last epoch. The command (`python -m training`) holds the folder's writer lock around this
    (training/writer_lock.py).
    """
    out, device = Path(out), torch.device(how.device)
    check_output_folder(out, how.resume, how.overwrite)
    observers = run_observers(run, out, train_split, test_split, device, how)
    try:
        metrics = _train(run, train_split, test_split, out, device, how, observers)
    except KeyboardInterrupt:
        with further_interrupts_ignored():
            end(observers, "stopped", "stopped: the last saved epoch is kept")
        raise
    except (UserError, OSError, RuntimeError) as err:
        end(observers, "failed", str(err)[:400])
        raise
    end(observers, "done")
    return metrics


@contextmanager
def further_interrupts_ignored():
    """While a stopped run writes how it ended, a second SIGINT must not cut that short: an app killed while it ran
    the trainer sends SIGINT (PR_SET_PDEATHSIG) once for each of its threads the trainer is handed to as they die, and
    one arriving during the first one's bookkeeping left the state file saying "stopped" and the live file "training".
    Only the main thread can set a signal handler; elsewhere (a ZeroGPU worker's thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_observers(run: RunConfig, out: Path, train_split: ImageSplit, test_split: ImageSplit, device: torch.device,
                  how: Invocation) -> list[Observer]:
    """What watches this run (training/observers.py): always its state beside the folder; then, as `run.record`
    asks, its live progress files, the lever probe and its timeline (whose snapshots the live files show too)."""
    steps_per_epoch = -(-len(train_split.images) // run.train.batch_size)
    done = len(ckpt.read_json(out / ckpt.METRICS).get("history", [])) if how.resume else 0
    observers: list[Observer] = [RunStateFile(out)]
    if how.stop_file is not None:
        observers.append(StopFile(how.stop_file))
    live = None
    if run.record.live is not None:
        live = LiveProgress(run.record.live, 1 if how.dry_run else steps_per_epoch, run.train.epochs, done)
        observers.append(live)
    probe = None if how.resume or how.dry_run else lever_probe(run, device)
    if probe is not None:
        observers.append(ProbeObserver(probe, str(device), how.log))
    if run.record.timeline:
        observers.append(Recorder(len(train_split.images), test_split, device, out if how.resume else None, done,
                                  how.log, live.snapshot if live else None))
    return observers


def lever_probe(run: RunConfig, device: torch.device) -> LeverProbe | None:
    """The speed levers to try on a new run's first steps (those its command line did not fix), when it asks."""
    if not run.record.probe_levers or run.train.compile or run.probe:
        return None
    forced = {name: getattr(run.train, name) for name in run.record.forced_levers}
    return LeverProbe(lever_options(device.type, bf16_supported(device), forced), forced=forced)


def _train(run: RunConfig, train_split: ImageSplit, test_split: ImageSplit, out: Path, device: torch.device,
           how: Invocation, observers: list[Observer]) -> dict:
    """train(...) once the folder is checked: the epochs, each evaluated and saved, the observers told as it goes."""
    if run.train.bf16 and not bf16_supported(device):
        raise UserError(f"--bf16: this {device.type} device has no bfloat16 support; run without --bf16.")
    if how.resume:
        run, model, optimizer, history = _resume(out, run, device)
        how.log(f"resuming {out} after epoch {len(history)}")
    else:
        (model, optimizer), history = make_model_and_optimizer(run, device), []
    if device.type == "cuda":  # the whole uint8 set (47 MB for MNIST) once, not a copy per batch
        train_split = replace(train_split, images=train_split.images.to(device))
    s = LoopState(run, model, Stepper(model, optimizer, run.train, device))
    saver = EpochSaver(out, optimizer, history, len(train_split.images), test_split, device, how)
    notify(observers, "start", s)
    for epoch in range(len(history), run.train.epochs):
        s.epoch, started = epoch, time.perf_counter()
        train_terms = _train_one_epoch(s, train_split, how.dry_run, how.progress, observers)
        seconds = time.perf_counter() - started
        notify(observers, "epoch_trained", s)  # the probe's choice is now the run's (s.run)
        test = evaluate(model, test_split, s.run.train, device, batch_size=s.run.train.batch_size,
                        autocast=s.stepper.autocast)
        saver.save(s, train_terms, test, seconds)  # with its map and metrics; the last epoch with what comes before it
        notify(observers, "epoch_saved", s)
        if s.finishing:  # the checkpoint already opens with its PCA map; now the slow parts
            saver.finish_after_save(s)
        if how.dry_run:
            break
    return saver.metrics


def _train_one_epoch(s: LoopState, split: ImageSplit, dry_run: bool, progress: bool, observers: list[Observer]) -> dict:
    cfg = s.run.train
    sums = torch.zeros(3, dtype=torch.float64, device=split.images.device)  # summed on the device: nothing waits
    seen = 0
    batches = list(shuffled_batches(len(split.images), cfg.batch_size, cfg.seed, s.epoch))
    bar = tqdm(batches, desc=f"epoch {s.epoch + 1}/{cfg.epochs}", unit="batch", disable=not progress, leave=False,
               file=sys.stderr)
    for idx in bar:
        terms = training_step(s, split.images[idx.to(split.images.device)], observers)
        sums += terms.double() * len(idx)
        seen += len(idx)
        if s.wait and progress:
            bar.set_postfix(loss=f"{s.losses[0]:.1f}")
        if dry_run:
            break
    total, recon, kl = (sums / seen).tolist()
    refuse_non_finite([total], s.epoch)  # a step not waited for whose loss was not finite
    return {"total": total, "recon": recon, "kl": kl}


class EpochSaver:
    """The work after an epoch's evaluation: its line in the history, the test set's map and the metrics, the
    finishing step (training/finish.py) after the last epoch — before the save, or partly after it with
    `maps_after_save` — and the save, which exports the ONNX graphs once and then only refreshes their weights."""

    def __init__(self, out: Path, optimizer: torch.optim.Optimizer, history: list, train_images: int,
                 test_split: ImageSplit, device: torch.device, how: Invocation):
        self.out, self.optimizer, self.history, self.train_images = out, optimizer, history, train_images
        self.test_split, self.device, self.how = test_split, device, how
        self.exporter = ckpt.OnnxExporter()
        self.metrics: dict = {"history": history}
        self.atlas: dict = {}
        self.after = NOTHING

    def save(self, s: LoopState, train_terms: dict, test: dict, seconds: float) -> None:
        """Save epoch `s.epoch`; sets `s.test` and `s.finishing` (the maps and scores come after this save)."""
        run, dry_run = s.run, self.how.dry_run
        n_images = min(self.train_images, run.train.batch_size) if dry_run else self.train_images
        self.history.append({
            "epoch": s.epoch + 1,
            "train": train_terms,
            "test": {k: test[k] for k in ("total", "recon", "kl")},
            "seconds": round(seconds, 3),
            "images_per_s": round(n_images / seconds, 1),
        })
        last = dry_run or s.epoch + 1 == run.train.epochs
        self.atlas = build_atlas(s.model, self.test_split.images, self.test_split.labels, with_tsne=False,
                                 seed=run.train.seed)
        self.metrics = metrics_content(self.history, test, self.atlas["means"])
        before, self.after = split_around_save(run.finish, last, dry_run)
        self._finish_and_save(s, before)
        self.how.log(_epoch_line(self.history[-1]))
        s.test, s.finishing = self.history[-1]["test"], self.after.tsne or self.after.umap or self.after.scores

    def finish_after_save(self, s: LoopState) -> None:
        started = time.perf_counter()
        self._finish_and_save(s, self.after)
        self.how.log(f"scores and t-SNE map added in {time.perf_counter() - started:.1f} s")

    def _finish_and_save(self, s: LoopState, parts) -> None:
        ood = finishing_step(s.model, self.test_split, s.run, parts, self.atlas, self.metrics, s.run.data.get("data_dir"),
                             s.stepper.autocast, self.how.log)  # data_dir: where ood.json's other data sets are
        _save(self.out, s.model, s.run, self.metrics, self.atlas, self.optimizer, self.test_split, self.device,
              self.exporter, s.timeline, ood)


def metrics_content(history: list, test: dict, test_means: torch.Tensor) -> dict:
    """metrics.json's content: the epochs' history and the final test metrics (an imported model has no history)."""
    return {
        "history": history,
        "final": {
            "epochs": len(history),
            "test": {k: test[k] for k in ("total", "recon", "kl")},
            **latent_metrics(test_means, test["kl_per_dim"]),
            "train_seconds": round(sum(h["seconds"] for h in history), 2),
        },
    }


def _save(out, model, run, metrics, atlas, optimizer, test_split, device, exporter, timeline=None, ood=None) -> None:
    grid = reconstruction_grid(model, test_split.images[:SAMPLE_GRID_DIGITS], device)
    tensors, meta = _train_state(optimizer)
    model.train()
    try:
        ckpt.save_checkpoint(out, model, run, metrics, atlas, samples=grid, train_state=tensors, train_state_meta=meta,
                             onnx_exporter=exporter, timeline=timeline, ood=ood)
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
    final = {**ck.metrics.get("final", {}), **metrics_content(ck.metrics.get("history", []), test, ck.atlas["means"])["final"]}
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
