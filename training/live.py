"""What a run shows while it trains (`python -m training --live DIR`): progress.json — state, step, images/s, ETA and
the training loss of every step — rewritten at most every `every` seconds, and the timeline so far (timeline.json +
timeline.safetensors, no decoders) after each snapshot. A watcher (the explorer's Train tab) reads these files; the
checkpoint folder itself is written as always. Every file is replaced atomically (temporary file + rename)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from .atomic import atomic_files, write_atomically
from .observers import Observer
from .timeline import TIMELINE_JSON, TIMELINE_TENSORS

PROGRESS = "progress.json"
# starting → training ⇄ evaluating → t-SNE (with --tsne-after: the last epoch is saved, the checkpoint opens) → done;
# or failed / stopped. The process's exit status is the watcher's final word.
STATES = ("starting", "training", "evaluating", "t-SNE", "done", "failed", "stopped")


class LiveProgress(Observer):
    """The run's progress file; `clock` is injectable so that the ETA can be tested. In a training run it is one of
    the loop's observers (training/observers.py): the hooks at the end of the class call the methods above them."""

    def __init__(self, folder: str | Path, steps_per_epoch: int, epochs: int, done_epochs: int = 0, every: float = 0.5,
                 clock=time.perf_counter):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.steps_per_epoch, self.epochs, self.every, self.clock = steps_per_epoch, epochs, every, clock
        self.step = done_epochs * steps_per_epoch
        self.first_step = self.step
        self.started = clock()
        self.train: list[list[float]] = []  # [step, total, recon, kl] of every step
        self.unread: list[tuple[int, object]] = []  # steps whose losses are not in `train` yet
        self.test: list[list[float]] = []  # [epoch, total, recon, kl] of every epoch end
        self.images, self.step_seconds, self.epoch_end_seconds, self.epoch_ends = 0, 0.0, 0.0, 0
        self.state, self.message, self.snapshots, self.saved_epochs = "starting", "", 0, done_epochs
        self.last_write, self.step_started, self.epoch_end_started = -1e9, None, None
        self.write(force=True)

    @property
    def steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def begin_steps(self) -> None:
        """The clock of the training steps starts (after start-up, the timeline's first snapshot, an epoch end)."""
        self.step_started = self.clock()
        self.set_state("training")

    def after_step(self, values, n_images: int) -> None:
        """`values`: the step's total, recon and KL, as numbers or as a tensor that may still be computed on a GPU
        (read when the file is next written, all at once: the loop does not wait for each step)."""
        now = self.clock()
        if self.step_started is not None:
            self.step_seconds += now - self.step_started
        self.step_started = now
        self.step += 1
        self.images += n_images
        self.unread.append((self.step, values))
        self.write()

    def epoch_end(self) -> None:
        self.epoch_end_started = self.clock()
        self.step_started = None
        self.set_state("evaluating")

    def saved(self, epoch: int, test: dict) -> None:
        if self.epoch_end_started is not None:
            self.epoch_end_seconds += self.clock() - self.epoch_end_started
            self.epoch_ends += 1
        self.saved_epochs = epoch
        self.test.append([epoch, *(round(float(test[k]), 4) for k in ("total", "recon", "kl"))])
        self.write(force=True)

    def snapshot(self, timeline) -> None:
        """The timeline so far, for the page (its decoders stay in the checkpoint: a few MB each)."""
        # the tensors first: the JSON never names a snapshot they lack
        with atomic_files(self.folder, (TIMELINE_TENSORS, TIMELINE_JSON)) as tmp:
            timeline.save(tmp, decoders=False)
        self.snapshots = len(timeline.entries)
        self.write(force=True)

    def read_losses(self) -> None:
        """Move the unread steps' losses into `train` (one wait for a GPU, however many steps)."""
        if not self.unread:
            return
        import torch

        values = [v if isinstance(v, (list, tuple)) else None for _, v in self.unread]
        tensors = [v for _, v in self.unread if not isinstance(v, (list, tuple))]
        read = iter(torch.stack([t[:3] for t in tensors]).tolist() if tensors else [])
        for (step, _), numbers in zip(self.unread, values):
            self.train.append([step, *(round(float(v), 4) for v in (numbers or next(read))[:3])])
        self.unread = []

    def set_state(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        self.write(force=True)

    def eta_seconds(self) -> float | None:
        """Steps left at the measured step rate, plus the epoch ends left at their measured (or a guessed 2 s) cost."""
        done = self.step - self.first_step
        if done == 0:
            return None
        left = self.steps - self.step
        per_end = self.epoch_end_seconds / self.epoch_ends if self.epoch_ends else 2.0
        return left * self.step_seconds / done + (self.epochs - self.saved_epochs) * per_end

    def write(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self.last_write < self.every:
            return
        self.last_write = now
        self.read_losses()
        eta = self.eta_seconds()
        rate = self.images / self.step_seconds if self.step_seconds > 0 else None
        body = {
            "state": self.state, "message": self.message, "step": self.step, "steps": self.steps,
            "epoch": self.step / self.steps_per_epoch, "epochs": self.epochs, "saved_epochs": self.saved_epochs,
            "images_per_s": round(rate, 1) if rate else None, "eta_s": round(eta, 1) if eta is not None else None,
            "elapsed_s": round(now - self.started, 2), "snapshots": self.snapshots, "train": self.train, "test": self.test,
        }
        write_atomically(self.folder / PROGRESS, json.dumps(body, allow_nan=False).encode())

    # the loop's hooks (training/observers.py)

    def step_starts(self, s) -> None:
        if self.step_started is None:  # the epoch's first step: the clock of its steps starts now
            self.begin_steps()

    def step_done(self, s) -> None:
        self.after_step(s.terms, s.batch)

    def epoch_trained(self, s) -> None:
        self.epoch_end()

    def epoch_saved(self, s) -> None:
        self.saved(s.epoch + 1, s.test)
        if s.finishing:  # the checkpoint opens; the maps and scores are being added
            self.set_state("t-SNE")

    def end(self, outcome: str, message: str = "") -> None:
        self.set_state(outcome, message)


def record_failure(folder: str | Path, message: str) -> None:
    """Say in the run's progress file why it failed — also when it failed before its training loop had one (data
    missing, folder locked), for the page; what the app decides from a run's state it reads from training/run_state.py."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    body = read_progress(folder) or {"step": 0, "steps": 0, "epoch": 0.0, "epochs": 0, "saved_epochs": 0,
                                     "images_per_s": None, "eta_s": None, "elapsed_s": None, "snapshots": 0,
                                     "train": [], "test": []}
    body.update(state="failed", message=str(message)[:400])
    write_atomically(folder / PROGRESS, json.dumps(body, allow_nan=False))


def finished_progress(history: list[dict], steps_per_epoch: int, snapshots: list[dict]) -> dict:
    """What a finished run's progress.json says, rebuilt from its checkpoint: the epochs' test loss from metrics.json's
    history and, in place of every step's training loss (not kept), the timeline's snapshots' test-subset loss from
    step 0. The Train tab draws a shipped model's run this way before a visitor has one of their own."""
    terms = ("total", "recon", "kl")
    epochs = len(history)
    steps = steps_per_epoch * epochs
    train = [[int(s["step"]), *(round(float(s["test"][k]), 4) for k in terms)] for s in snapshots if s.get("test")]
    test = [[int(h["epoch"]), *(round(float(h["test"][k]), 4) for k in terms)] for h in history if h.get("test")]
    return {"state": "done", "message": "", "step": steps, "steps": steps, "epoch": float(epochs), "epochs": epochs,
            "saved_epochs": epochs, "images_per_s": None, "eta_s": None, "elapsed_s": None,
            "snapshots": len(snapshots), "train": train, "test": test}


def read_progress(folder: str | Path) -> dict | None:
    """A run's progress file, or None when it has none yet (or it is unreadable: it is rewritten within a second)."""
    try:
        raw = json.loads((Path(folder) / PROGRESS).read_text())
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) and raw.get("state") in STATES else None
