"""Training runs started from the app: each is `python -m training` in a subprocess (a crash or an out-of-memory
cannot take the app down; Stop is SIGINT, which keeps the last saved epoch), writing a checkpoint folder under the
runs folder and its live progress under `_live/NAME/` (training/live.py) for the page. Whether a run's checkpoint
opens and why a run failed, the app reads from the state its trainer keeps beside the folder (training/run_state.py).
One run trains at a time; the others wait in a queue. Caps (epochs, runs kept, disk, threads, abandoned runs) come
from `TrainLimits`.

`TrainingRuns` owns the processes; a supervisor thread of its own starts, reaps and stops them, so that a child is
never tied to one of the server's short-lived worker threads. Tests drive `tick()` by hand with their own clock."""
from __future__ import annotations

import contextvars
import ctypes
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from training.config import MAX_MODEL_SIZES, RECONSTRUCTION_LOSSES, SAMPLING
from training.datasets import DATASETS
from training.errors import UserError
from training.live import read_progress
from training.numbers import number, seed_value, whole_number
from training.run_state import run_state, state_path

from .lessons import PREFIX as LESSON_PREFIX
from .visitors import VisitorIds

ROOT = Path(__file__).resolve().parent.parent
LIVE = "_live"  # under the runs folder; a run's name cannot start with "_"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
MAX_BETA = 100.0
RUN_BYTES_ESTIMATE = 24 * 2**20  # one run's folder: weights, ONNX, atlas with t-SNE, timeline with its decoders
STOP_GRACE_S = 15.0  # after SIGINT, a run that has not exited is killed
ENDED = ("done", "stopped", "failed")
PAGE = "_page"  # under the runs folder: the files made for the page from a run (zip, timeline decoders)
HISTORY = 200  # ended runs remembered (what a visitor's status shows after their run); live runs are held apart
RECENTLY_USED_S = 600.0  # a run opened or downloaded this recently is never pruned
MAX_USERS_REMEMBERED = 1000  # addresses whose latest opened run is protected from pruning
MAX_TICK_GAP_S = 2.0  # the most one supervisor tick counts towards a run being unwatched
NO_ROOM = ("Every kept run is in use (queued, training, or opened in the last 10 minutes) and no more fit in the "
           "{runs} runs / {mb:,} MB kept here; try again in a few minutes.")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainLimits:
    """What visitors may start. Locally generous; on a shared Space conservative (see `for_environment`)."""

    enabled: bool = True
    max_epochs: int = 30
    max_runs: int = 20  # runs kept in the runs folder; the oldest are removed first
    disk_budget_mb: int = 4000
    threads: int | None = None  # torch threads of a run (None: one per core)
    abandon_after_s: float | None = None  # a run whose visitor has not looked for this long is stopped and removed
    max_queue: int = 20
    concurrency: int = 1  # trainer processes at once
    max_per_client: int | None = None  # queued-or-running runs per network address (None: no cap but one per visitor)
    behind_proxy: bool = False  # the client's address is X-Forwarded-For's first (a Space's proxy sets it)
    gpu: bool = False  # runs train on ZeroGPU, on the GPU time of the visitor who starts them (explorer/zerogpu.py)

    @classmethod
    def for_environment(cls, environ=os.environ, cpu_count: int | None = None) -> "TrainLimits":
        """On a Hugging Face Space (it sets SPACE_ID): 5 epochs (≈ 1.5 min of MNIST on 2 cores), 3 runs kept, 300 MB,
        one core left to the explorer's server, a run left alone for 2 minutes is stopped and removed, and one run
        queued or training per visitor's address."""
        if not environ.get("SPACE_ID"):
            return cls()
        from .zerogpu import on_zero_gpu

        if on_zero_gpu(environ):
            return cls.on_zero_gpu()
        cores = cpu_count or os.cpu_count() or 1
        return cls(max_epochs=5, max_runs=3, disk_budget_mb=300, threads=max(1, cores - 1), abandon_after_s=120.0,
                   max_queue=10, max_per_client=1, behind_proxy=True)

    @classmethod
    def on_zero_gpu(cls) -> "TrainLimits":
        """On ZeroGPU each run trains in a GPU worker of its own, on its visitor's GPU quota (explorer/zerogpu.py):
        the epochs whose run fits a visitor's daily quota without logging in (10), 3 runs training at once (the app's
        process only reads their files), and the Space's caps on disk, runs kept and abandoned runs."""
        from .zerogpu import MAX_EPOCHS

        return cls(max_epochs=MAX_EPOCHS, max_runs=4, disk_budget_mb=300, threads=None, abandon_after_s=120.0,
                   max_queue=10, concurrency=3, max_per_client=1, behind_proxy=True, gpu=True)

    def describe(self) -> str:
        abandon = (f"; a run nobody watches for {self.abandon_after_s:.0f} s is stopped and removed"
                   if self.abandon_after_s else "")
        threads = f"{self.threads} CPU thread{'s' if self.threads != 1 else ''}" if self.threads else "every core"
        if self.gpu:
            from .zerogpu import GpuTime

            threads = (f"a ZeroGPU GPU, on your own daily GPU time (a run of {self.max_epochs} epochs asks for "
                       f"{GpuTime().duration_s(self.max_epochs)} s at most)")
        at_once = "one run at a time" if self.concurrency == 1 else f"{self.concurrency} runs at a time"
        per_client = "; one run per visitor's address" if self.max_per_client == 1 else ""
        return (f"Up to {self.max_epochs} epochs a run, {at_once} (others wait in a queue) on {threads}; the "
                f"{self.max_runs} newest runs are kept (at most {self.disk_budget_mb:,} MB; runs in use are never "
                f"removed){abandon}{per_client}.")


@dataclass(frozen=True)
class RunRequest:
    dataset: str
    beta: float
    z_dim: int
    epochs: int
    seed: int
    name: str
    sampling: str = "rsample"  # the lab's lessons (training/loss.py latent_for_decoder)
    recon: str = "bce"


def default_name(dataset: str, beta: float, z_dim: int, epochs: int, taken, sampling: str = "rsample",
                 recon: str = "bce") -> str:
    """The settings as a name (`mnist-b1-z16-e3`, `…-e3-mean-mse` for a lesson's), numbered when it is taken."""
    lesson = ("" if sampling == "rsample" else f"-{sampling}") + ("" if recon == "bce" else f"-{recon}")
    base = f"{dataset}-b{beta:g}-z{z_dim}-e{epochs}{lesson}".replace(".", "p").lower()
    base = re.sub(r"[^a-z0-9-]", "-", base)[:36]
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    return name


def parse_request(dataset, beta, z_dim, epochs, seed, name, limits: TrainLimits, datasets_present, taken,
                  sampling="rsample", recon="bce") -> RunRequest:
    """The Train tab's form as a run, or a UserError of one sentence (nothing is written)."""
    if sampling not in SAMPLING or recon not in RECONSTRUCTION_LOSSES:
        raise UserError(f"Pick how the decoder's z is drawn ({', '.join(SAMPLING)}) and a reconstruction loss "
                        f"({', '.join(RECONSTRUCTION_LOSSES)}).")
    if dataset not in datasets_present:
        present = ", ".join(datasets_present) or "none"
        raise UserError(f"Pick a data set whose files are on this server ({present}).")
    beta = number(beta, "β", 0, MAX_BETA)
    z_dim = whole_number(z_dim, "z_dim", 1, min(MAX_MODEL_SIZES["z_dim"], 256))
    epochs = whole_number(epochs, "Epochs", 1, limits.max_epochs)
    seed = seed_value(seed)
    name = (name or "").strip() if isinstance(name, str) else None
    if name is None:
        raise UserError("The name must be text.")
    if not name:
        name = default_name(dataset, beta, z_dim, epochs, taken, sampling, recon)
    if not NAME_PATTERN.fullmatch(name):
        raise UserError("A run's name is 1–40 lower-case letters, digits and dashes, starting with a letter or digit.")
    if name.startswith(LESSON_PREFIX):
        raise UserError(f"Names starting with {LESSON_PREFIX} are kept for the lessons; choose another name.")
    if name in taken:
        raise UserError(f"There is already a checkpoint or run named {name}; choose another name.")
    return RunRequest(dataset, beta, z_dim, epochs, seed, name, sampling, recon)


def run_command(request: RunRequest, runs_dir: Path, data_dir: Path, limits: TrainLimits, download: bool = False) -> list[str]:
    """The trainer's command line: PCA first and t-SNE after (the model opens sooner), no IWAE (≈ 3 min)."""
    command = [sys.executable, "-m", "training", "--dataset", request.dataset, "--data-dir", str(data_dir),
               "--download" if download else "--no-download", "--out", str(runs_dir / request.name), "--epochs", str(request.epochs),
               "--beta", repr(request.beta), "--z-dim", str(request.z_dim), "--seed", str(request.seed),
               "--sampling", request.sampling, "--recon", request.recon, "--no-iwae",
               "--no-umap", "--tsne-after", "--live", str(runs_dir / LIVE / request.name), "--no-progress"]
    return command + (["--threads", str(limits.threads)] if limits.threads else [])


def datasets_present(data_dir: Path) -> list[str]:
    """The data sets whose train and test files are in the data folder (nothing is downloaded from the app)."""
    from training.data import split_on_disk

    return [key for key in DATASETS if split_on_disk(data_dir, True, key) and split_on_disk(data_dir, False, key)]


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder` (a file removed while it is counted counts as 0)."""
    total = 0
    for f in folder.rglob("*"):
        try:
            total += f.stat().st_size if f.is_file() else 0
        except OSError:
            pass
    return total


@dataclass
class Run:
    request: RunRequest
    owner: str  # the visitor's signed id (explorer/visitors.py)
    client: str  # the network address caps are counted by
    state: str = "queued"  # queued → running → done / stopped / failed
    message: str = ""
    unwatched_s: float = 0.0  # time the server was answering and this run's visitor did not look
    process: subprocess.Popen | None = None  # or what another launcher returns with the same methods (zerogpu.py)
    stop_sent: float | None = None
    abandoned: bool = False
    context: contextvars.Context | None = None  # the visitor's request, for a launcher that charges them (ZeroGPU)

    @property
    def name(self) -> str:
        return self.request.name


def _child_setup() -> None:
    """In the trainer's process before it starts: a lower priority than the server, and SIGINT when the app dies
    (Linux; bound to the supervisor thread, which lives as long as the app).

    SIGINT is reset to its default first: an app started in the background by a script (`python -m explorer &`)
    inherits it ignored, Python then installs no KeyboardInterrupt handler, and Stop (SIGINT) or the app's death
    would not stop the trainer (found when the test suite itself ran in the background)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.nice(10)
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_subprocess(argv: list[str], live: Path, limits: TrainLimits, context=None) -> subprocess.Popen:
    """The launcher everywhere but ZeroGPU: the trainer in a process of its own, its output in the run's log."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if limits.threads:
        env["OMP_NUM_THREADS"] = str(limits.threads)
    with open(live / "log.txt", "wb") as log:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_child_setup)


@dataclass
class TrainingRuns:
    """The app's runs (see the module's doc). Capacity is held by the data structure, not by trimming a list:
    `running` holds every trainer process not yet reaped (never more than `limits.concurrency`), `queue` the waiting
    runs (never more than `limits.max_queue`, one per client), and `history` the ended ones (bounded; only ended
    runs ever fall off it), so no request can make a live run disappear."""

    runs_dir: Path
    data_dir: Path
    limits: TrainLimits = field(default_factory=TrainLimits)
    download: bool = False  # a run may download its data set (torchvision) when it is missing: then every one is offered
    clock: object = time.monotonic
    command: object = run_command  # (request, runs_dir, data_dir, limits, download) → argv; tests may use another
    launcher: object = start_subprocess  # (argv, live folder, limits, visitor's context) → a Popen-like handle
    busy: object = lambda: False  # whether the server is too loaded to answer: then nobody's run counts as unwatched
    visitors: VisitorIds = field(default_factory=VisitorIds)

    def __post_init__(self):
        self.runs_dir, self.data_dir = Path(self.runs_dir), Path(self.data_dir)
        self.running: list[Run] = []
        self.queue: list[Run] = []
        self.history: deque[Run] = deque(maxlen=HISTORY)
        self._lock = threading.RLock()
        self._stopped, self._wake = threading.Event(), threading.Event()
        self._thread = None
        self._last_tick: float | None = None
        self._progress: dict[str, tuple[float, dict | None]] = {}
        self._used: dict[str, tuple[str, float]] = {}  # client address → (the run it last opened or downloaded, when)
        self.tidy()

    # ------------------------------------------------------------------ the folder

    def datasets(self) -> list[str]:
        """The data sets a run may use: those on disk, or every one where runs may download theirs."""
        return list(DATASETS) if self.download else datasets_present(self.data_dir)

    def live_dir(self, name: str) -> Path:
        return self.runs_dir / LIVE / name

    def page_dir(self, name: str) -> Path:
        """Where files made for the page from a run (its zip, its timeline's decoders) live: inside the runs folder,
        so the disk budget counts them and removing the run removes them."""
        return self.runs_dir / PAGE / name

    def tidy(self) -> None:
        """After a restart (or a killed app): drop the live, page and state files of runs that left no checkpoint."""
        def orphan(name: str) -> bool:
            return not (self.runs_dir / name / "config.json").is_file() and name not in self.live_names()

        for side in (LIVE, PAGE):
            if (self.runs_dir / side).is_dir():
                for folder in (self.runs_dir / side).iterdir():
                    if orphan(folder.name):
                        shutil.rmtree(folder, ignore_errors=True)
        if self.runs_dir.is_dir():
            for state in self.runs_dir.glob(".*.state.json"):
                if orphan(state.name[1:-len(".state.json")]):
                    state.unlink(missing_ok=True)

    def live_names(self) -> set[str]:
        with self._lock:
            return {r.name for r in (*self.running, *self.queue)}

    def remembered_names(self) -> set[str]:
        """Names of live runs and of ended ones still in a visitor's status: a new run may not reuse them, or an
        old status would offer the new run's model as its own."""
        with self._lock:
            return self.live_names() | {r.name for r in self.history}

    def finished_names(self) -> list[str]:
        """Checkpoint folders in the runs folder that open, oldest first: those no trainer will replace with a later
        epoch (a running run's opens once its last epoch is saved, while its t-SNE is still being added)."""
        if not self.runs_dir.is_dir():
            return []
        found = []
        for p in self.runs_dir.iterdir():
            if NAME_PATTERN.fullmatch(p.name) and run_state(p).opens:
                try:
                    found.append(((p / "config.json").stat().st_mtime, p.name))
                except OSError:  # removed meanwhile
                    pass
        return [name for _, name in sorted(found)]

    def progress(self, name: str) -> dict | None:
        """A run's progress file, re-read only when it changed."""
        path = self.live_dir(name) / "progress.json"
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        cached = self._progress.get(name)
        if cached is None or cached[0] != mtime:
            cached = self._progress[name] = (mtime, read_progress(self.live_dir(name)))
        return cached[1]

    def remove(self, name: str) -> None:
        """Remove a run's checkpoint, live files and page files, and forget what was cached about it."""
        for folder in (self.runs_dir / name, self.live_dir(name), self.page_dir(name)):
            shutil.rmtree(folder, ignore_errors=True)
        state_path(self.runs_dir / name).unlink(missing_ok=True)
        self._progress.pop(name, None)

    def used(self, name: str, client: str) -> None:
        """A visitor opened or downloaded this run: it is not pruned for `RECENTLY_USED_S`. Each address protects
        only the run it used last, so one client cannot hold every kept run and block training for everyone."""
        with self._lock:
            if NAME_PATTERN.fullmatch(name) and (self.runs_dir / name).is_dir():
                self._used.pop(client, None)
                self._used[client] = (name, self.clock())
                while len(self._used) > MAX_USERS_REMEMBERED:
                    del self._used[next(iter(self._used))]  # the longest unused

    def in_use(self) -> set[str]:
        """Runs opened or downloaded in the last `RECENTLY_USED_S`, each by the address's latest use."""
        now = self.clock()
        with self._lock:
            return {name for name, when in list(self._used.values()) if now - when <= RECENTLY_USED_S}

    def _prunable(self) -> list[str]:
        """Finished runs nobody is using, oldest first: those that may be removed to make room."""
        keep = self.in_use() | self.live_names()
        return [n for n in self.finished_names() if n not in keep]

    def disk_bytes(self) -> int:
        """The runs folder with everything in it: checkpoints, live files and the page's files of each run."""
        return folder_bytes(self.runs_dir) if self.runs_dir.is_dir() else 0

    def _over_budget(self, kept: int) -> bool:
        return (kept >= self.limits.max_runs
                or self.disk_bytes() + RUN_BYTES_ESTIMATE > self.limits.disk_budget_mb * 2**20)

    def make_room(self) -> None:
        """Before a run starts: remove the oldest runs nobody is using until one more fits the count and disk caps;
        if that is not enough, refuse (nothing in use is ever removed)."""
        prunable = self._prunable()
        while prunable and self._over_budget(len(self.finished_names())):
            self.remove(prunable.pop(0))
        if self._over_budget(len(self.finished_names())):
            raise UserError(NO_ROOM.format(mb=self.limits.disk_budget_mb, runs=self.limits.max_runs))

    def _room_for_one_more(self) -> bool:
        """Whether a new run can be given room once the queue ahead of it has started, counting only what may be
        pruned (a quick check at Start; `make_room` decides when it launches)."""
        kept = set(self.finished_names()) - self.live_names()  # a run adding its t-SNE counts once, as running
        unprunable = len(kept - set(self._prunable()))
        return unprunable + len(self.running) + len(self.queue) + 1 <= self.limits.max_runs

    # ------------------------------------------------------------------ what visitors do

    def mine(self, owner: str | None) -> Run | None:
        """The visitor's live run, else their latest ended one (None for an id this server did not issue)."""
        owner = self.visitors.verify(owner)
        if owner is None:
            return None
        with self._lock:
            live = next((r for r in (*self.running, *self.queue) if r.owner == owner), None)
            return live or next((r for r in reversed(self.history) if r.owner == owner), None)

    def submit(self, owner: str | None, request: RunRequest, client: str = "local") -> tuple[str, Run]:
        """Queue a run for this visitor (one without a valid id gets a new one, kept in their browser); it starts
        when it is first. Refused in one sentence when the visitor or their address already has one, the queue is
        full, or nothing can be pruned to make room."""
        with self._lock:
            if not self.limits.enabled:
                raise UserError("Training is turned off on this server (--no-train).")
            owner = self.visitors.verify(owner) or self.visitors.issue()
            mine = self.mine(owner)
            if mine is not None and mine.state in ("queued", "running"):
                raise UserError(f"Your run {mine.name} is still {mine.state}; stop it first.")
            if self.limits.max_per_client is not None and sum(
                    r.client == client for r in (*self.running, *self.queue)) >= self.limits.max_per_client:
                raise UserError("A run from your network address is already queued or training; one at a time, "
                                "please — stop it or wait for it to end.")
            if request.name in self.remembered_names() or (self.runs_dir / request.name).exists():
                raise UserError(f"There is already a run named {request.name}; choose another name.")
            if len(self.queue) >= self.limits.max_queue:
                raise UserError(f"{self.limits.max_queue} runs are already waiting; try again in a few minutes.")
            if not self._room_for_one_more():
                raise UserError(NO_ROOM.format(mb=self.limits.disk_budget_mb, runs=self.limits.max_runs))
            run = Run(request, owner, client, context=contextvars.copy_context())
            self.queue.append(run)
            self._wake.set()  # the supervisor starts it (a child must not be tied to this short-lived server thread)
            return owner, run

    def stop(self, owner: str | None) -> str:
        """Stop the visitor's run (SIGINT: its last saved epoch is kept), or take it out of the queue."""
        with self._lock:
            run = self.mine(owner)
            if run is None or run.state not in ("queued", "running"):
                raise UserError("You have no run in progress to stop.")
            if run.state == "queued":
                self._end_queued(run, "left the queue")
                return f"{run.name} left the queue."
            self._signal(run)
            return f"Stopping {run.name}: the last saved epoch is kept."

    def seen(self, owner: str | None) -> None:
        """The visitor's page asked for its status: its run is not abandoned."""
        with self._lock:
            run = self.mine(owner)
            if run is not None:
                run.unwatched_s = 0.0

    def position(self, run: Run) -> int:
        """1 for the first waiting run."""
        with self._lock:
            return self.queue.index(run) + 1 if run in self.queue else 0

    def active(self) -> Run | None:
        """The run training now (the first, where several may)."""
        with self._lock:
            return self.running[0] if self.running else None

    # ------------------------------------------------------------------ the supervisor

    def _end_queued(self, run: Run, message: str) -> None:
        self.queue.remove(run)
        run.state, run.message = "stopped", message
        self._remember(run)

    def _remember(self, run: Run) -> None:
        """Keep an ended run for its visitor's status, the newest one per visitor — per address where addresses are
        capped (a Space), so one client's many runs cannot push everyone else's out of the bounded history."""
        same = (lambda r: r.client == run.client) if self.limits.max_per_client else (lambda r: r.owner == run.owner)
        for earlier in [r for r in self.history if same(r)]:
            self.history.remove(earlier)
        self.history.append(run)

    def _signal(self, run: Run) -> None:
        if run.process is not None and run.process.poll() is None and run.stop_sent is None:
            run.process.send_signal(signal.SIGINT)
            run.stop_sent = self.clock()

    def _launch(self, run: Run) -> None:
        self.make_room()
        live = self.live_dir(run.name)
        shutil.rmtree(live, ignore_errors=True)
        live.mkdir(parents=True)
        argv = self.command(run.request, self.runs_dir, self.data_dir, self.limits, self.download)
        run.process = self.launcher(argv, live, self.limits, run.context)
        run.state, run.context = "running", None  # the request it carried is not kept with the run

    def _reap(self, run: Run) -> bool:
        """Whether the run's process has ended (then its state says how); kills one that ignored Stop too long."""
        code = run.process.poll()
        if code is None:
            if run.stop_sent is not None and self.clock() - run.stop_sent > STOP_GRACE_S:
                run.process.kill()
            return False
        saved = (self.runs_dir / run.name / "config.json").is_file()
        if code == 0:
            run.state, run.message = "done", ""
        elif run.abandoned:
            run.state = "stopped"
        elif code in (130, -signal.SIGINT) or run.stop_sent is not None:
            run.state = "stopped"
            run.message = "stopped; the last saved epoch is kept" if saved else "stopped before its first epoch was saved"
        else:
            run.state, run.message = "failed", self._failure(run, code)
        if run.abandoned or not saved:  # nothing of it to open (its message is kept)
            self.remove(run.name)
        return True

    def _failure(self, run: Run, code: int) -> str:
        """Why a run failed: the sentence its trainer wrote into its state, else what ended its process (a trainer
        killed outright writes nothing)."""
        said = run_state(self.runs_dir / run.name).failed or getattr(run.process, "failure", None)
        if said:
            return said[:400]
        if code == -signal.SIGKILL:
            return "the training process was killed (out of memory?)"
        return f"the training process exited with status {code}"

    def _watch(self, now: float) -> None:
        """Count the time since the last tick as unwatched for every live run — but only time the server was
        answering: a late tick (the process stalled) counts as at most `MAX_TICK_GAP_S`, a busy server not at all."""
        elapsed = 0.0 if self._last_tick is None else min(max(now - self._last_tick, 0.0), MAX_TICK_GAP_S)
        self._last_tick = now
        if self.busy():
            return
        for run in (*self.running, *self.queue):
            run.unwatched_s += elapsed

    def tick(self) -> None:
        """Reap ended runs, stop abandoned ones, start queued ones while fewer than `concurrency` processes live."""
        with self._lock:
            self._watch(self.clock())
            after = self.limits.abandon_after_s
            for run in [r for r in self.queue if after is not None and r.unwatched_s > after]:
                self._end_queued(run, "removed from the queue: nobody was watching")
            for run in list(self.running):
                if after is not None and run.unwatched_s > after and not run.abandoned:
                    run.abandoned, run.message = True, "stopped and removed: nobody was watching"
                    self._signal(run)
                if self._reap(run):
                    self.running.remove(run)
                    self._remember(run)
            while self.queue and len(self.running) < self.limits.concurrency:
                waiting = self.queue.pop(0)
                try:
                    self._launch(waiting)
                    self.running.append(waiting)
                except UserError as err:
                    waiting.state, waiting.message = "failed", str(err)[:400]
                    self._remember(waiting)
                except Exception:  # noqa: BLE001 — the run ends with a sentence instead of vanishing
                    log.exception("could not start the run %s", waiting.name)
                    waiting.state, waiting.message = "failed", "the training process could not be started"
                    self._remember(waiting)

    def start_supervisor(self, every: float = 0.5) -> None:
        """A thread that ticks until shutdown; an exception in one tick is logged and the next tick runs (one bad
        moment must not stop every visitor's training for good)."""
        def loop():
            while not self._stopped.is_set():
                self._wake.wait(every)
                self._wake.clear()
                try:
                    self.tick()
                except Exception:  # noqa: BLE001 — logged, and the supervisor goes on
                    log.exception("the training supervisor's tick failed; it goes on")

        self._thread = threading.Thread(target=loop, name="training-runs", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop every run (tests; the app's own end sends SIGINT through PR_SET_PDEATHSIG)."""
        self._stopped.set()
        with self._lock:
            for run in list(self.queue):
                self._end_queued(run, "the app stopped")
            for run in self.running:
                self._signal(run)
        for run in list(self.running):
            try:
                run.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()
            with self._lock:
                if self._reap(run):
                    self.running.remove(run)
                    self._remember(run)


def describe_progress(progress: dict | None) -> str:
    """One line: where a run is (epoch, step, speed, time left), from its progress file."""
    if not progress:
        return "starting (loading torch and the data set)…"
    state = progress.get("state")
    line = f"epoch {progress['epoch']:.2f} of {progress['epochs']} · step {progress['step']:,} of {progress['steps']:,}"
    if progress.get("images_per_s"):
        line += f" · {progress['images_per_s']:,.0f} images/s"
    if state in ("training", "evaluating") and progress.get("eta_s") is not None:
        line += f" · about {progress['eta_s']:.0f} s left"
    return {"starting": "starting…", "evaluating": f"{line} · evaluating and saving the epoch",
            "t-SNE": f"{line} · saved (it opens); adding the t-SNE map",
            "done": f"{line} · done"}.get(state, line)
