"""ZeroGPU, the GPU a free Hugging Face account can host a Space on: a share of a GPU lent only while a function
decorated with `@spaces.GPU` runs, in a worker process the platform forks from the app's for each call, charged to
the daily GPU quota of the visitor whose request made the call (the `X-IP-Token` header, read by `spaces` from
Gradio's request context).

So on ZeroGPU the Train tab's run trains in that worker: the visitor's Start hands the run its request context, and
the run calls `train_on_gpu` in it — the trainer's own command line (`training.__main__.main`) in-process, its
output into the run's log, Stop as a file the trainer checks before every step (the app cannot signal a process the
platform made). Everywhere else nothing here changes anything: `spaces` is imported first where it is installed (on
ZeroGPU it must patch torch before anything touches CUDA) and its decorator returns the function unchanged unless
`$SPACES_ZERO_GPU` is true; runs stay subprocesses (explorer/train_runs.py). One trainer, two launchers.

Import this module before torch: explorer/__main__.py does, and so `train_on_gpu` is registered before launch()."""
from __future__ import annotations

import contextvars
import math
import os
import subprocess
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

try:
    import spaces  # first: on ZeroGPU it patches torch so that the app's process never initialises CUDA
except ImportError:  # not installed (a plain local install without it): the decorator is not needed
    spaces = None

STOP_FILE = "stop"  # in the run's live folder
TRAINER = ["-m", "training"]  # what run_command runs after the interpreter's path


def on_zero_gpu(environ=os.environ) -> bool:
    """Whether this app runs on ZeroGPU hardware: the platform sets SPACES_ZERO_GPU (read as `spaces` reads it)."""
    return environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


@dataclass(frozen=True)
class GpuTime:
    """How long a run holds the GPU, asked of ZeroGPU before it starts (`duration`: a call that outlives it is ended
    by the platform, and a visitor whose quota left is smaller is refused). Start: the fork, CUDA's start, the data
    set read onto the GPU, the first ONNX export; each epoch: its ≈ 60 steps, the test pass, the atlas and the save;
    finish: the per-image scores and the other data sets' histograms. These are estimates until measured on the
    platform: `after_run` replaces the epoch's cost with what finished runs took, so that later runs ask for what the
    GPU really needs."""

    start_s: float = 20.0
    epoch_s: float = 4.0
    finish_s: float = 15.0
    margin: float = 1.5  # asked for more than expected: a run cut off by its duration loses its last epochs

    def duration_s(self, epochs: int) -> int:
        return math.ceil(self.margin * (self.start_s + epochs * self.epoch_s + self.finish_s))

    def most_epochs(self, quota_s: float, cap: int) -> int:
        """The most epochs (at most `cap`, at least 1) whose run fits in `quota_s` of GPU time."""
        fitting = [e for e in range(1, cap + 1) if self.duration_s(e) <= quota_s]
        return fitting[-1] if fitting else 1

    def after_run(self, epochs: int, seconds: float) -> "GpuTime":
        """The estimate after a run of `epochs` took `seconds` of wall time in the GPU worker."""
        measured = (seconds - self.start_s - self.finish_s) / max(epochs, 1)
        return GpuTime(self.start_s, max(1.0, measured), self.finish_s, self.margin)


# The daily ZeroGPU quota of a visitor who is not logged in (hub-docs spaces-zerogpu.md, read 2026-12-07: 2 minutes;
# a free account 3.5 min, PRO 25 min): a run of the most epochs the Train tab offers must fit in it.
UNAUTHENTICATED_QUOTA_S = 120
MAX_EPOCHS = GpuTime().most_epochs(UNAUTHENTICATED_QUOTA_S, cap=10)  # 10 (the lab's) at the estimate above


def run_in_this_process(argv: list[str], stop_file: str, log_file: str, duration_s: int) -> int:
    """The trainer's command (`python -m training ARGV`) in this process, its output appended to `log_file`; returns
    its exit status (130 when stopped). On ZeroGPU this process is the GPU worker (`train_on_gpu`)."""
    from training.__main__ import main

    with open(log_file, "a", buffering=1, encoding="utf-8") as log, redirect_stdout(log), redirect_stderr(log):
        return main([*argv, "--stop-file", stop_file])


def _requested_duration(argv, stop_file, log_file, duration_s) -> int:
    return duration_s


# Decorated at import, so that the platform finds a GPU function before launch(); a no-op off ZeroGPU.
train_on_gpu = spaces.GPU(duration=_requested_duration)(run_in_this_process) if spaces else run_in_this_process


class WorkerRun:
    """A run whose trainer is called in a thread of the app, inside the visitor's request context (so ZeroGPU
    charges that visitor), with the methods of `subprocess.Popen` that TrainingRuns uses. Stop writes the stop
    file; a worker that ignores it is ended by the platform at its duration."""

    def __init__(self, entry, argv: list[str], live: Path, context: contextvars.Context | None, duration_s: int,
                 on_end=None, prepare=None):
        self.stop_file, self.returncode, self.failure = live / STOP_FILE, None, None
        self.on_end = on_end  # called with (exit status, seconds) when the call returns
        self.prepare = prepare  # run first, in this thread: work that needs no GPU (a data set's download)
        args = (entry, argv, str(self.stop_file), str(live / "log.txt"), duration_s)
        self._thread = threading.Thread(target=(context or contextvars.copy_context()).run, args=(self._call, *args),
                                        name="gpu-run", daemon=True)
        self._thread.start()

    def _call(self, entry, *args) -> None:
        started = time.monotonic()
        try:
            if self.prepare is not None:
                self.prepare()
                started = time.monotonic()
            code = int(entry(*args))
        except BaseException as err:  # noqa: BLE001 — ZeroGPU's refusals (quota, duration) and a worker that died
            said = getattr(err, "message", None) or str(err)  # gr.Error (what `spaces` raises) keeps its sentence there
            self.failure = " ".join(str(said).split())[:300] or type(err).__name__
            code = 1
        if self.on_end is not None:
            self.on_end(code, time.monotonic() - started)
        self.returncode = code

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else self.returncode

    def send_signal(self, _signal) -> None:
        self.stop_file.touch()

    def kill(self) -> None:
        self.stop_file.touch()  # the worker is the platform's process: it ends at its duration at the latest

    def wait(self, timeout: float | None = None) -> int:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise subprocess.TimeoutExpired("train_on_gpu", timeout)
        return self.returncode


def worker_args(argv: list[str]) -> list[str]:
    """The trainer's arguments for a GPU run, from the subprocess command line the app would run (run_command).
    t-SNE runs on the CPU (≈ 25 s) and would be charged to the visitor's GPU time: a GPU run keeps its PCA map."""
    args = argv[3:] if argv[1:3] == TRAINER else list(argv)
    return [a for a in args if a != "--tsne-after"] + ["--no-tsne"]


def download_data(args: list[str]) -> None:
    """The run's data set fetched by torchvision in the app's process, before the GPU is asked for: a download is
    not the visitor's GPU time."""
    from training.data import load_split

    flag = dict(zip(args, args[1:]))
    for train in (True, False):
        load_split(flag["--data-dir"], train=train, download=True, dataset=flag["--dataset"])


class GpuLauncher:
    """A launcher for TrainingRuns on ZeroGPU: each run's command in-process through `entry` (`train_on_gpu`), in
    the request context of the visitor who started it, asking for the run's estimated GPU time — an estimate each
    finished run corrects with what it took."""

    def __init__(self, entry=None, gpu_time: GpuTime = GpuTime()):
        self.entry, self.gpu_time = entry or train_on_gpu, gpu_time
        self._lock = threading.Lock()

    def __call__(self, argv: list[str], live: Path, limits, context) -> WorkerRun:
        args = worker_args(argv)
        epochs = int(args[args.index("--epochs") + 1])
        with self._lock:
            duration = self.gpu_time.duration_s(epochs)
        return WorkerRun(self.entry, args, live, context, duration, on_end=lambda code, s: self._measured(epochs, code, s),
                         prepare=(lambda: download_data(args)) if "--download" in args else None)

    def _measured(self, epochs: int, code: int, seconds: float) -> None:
        if code == 0:
            with self._lock:
                self.gpu_time = self.gpu_time.after_run(epochs, seconds)
