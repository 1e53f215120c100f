"""What watches a training run hooks into the loop of train(...) through one small interface, so that the loop reads
top to bottom: the lever probe (levers.py), the live progress files (live.py), the timeline (timeline.py) and the
run's state beside its checkpoint (run_state.py) each implement the hooks they need, in a module of their own."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .config import RunConfig
    from .model import VAE
    from .train import Stepper


@dataclass
class LoopState:
    """What the loop tells its observers: the run as it stands and the step or epoch it is at."""

    run: RunConfig  # an observer may replace it: the probe records its choice, which config.json then holds
    model: VAE
    stepper: Stepper
    epoch: int = 0  # the epoch being trained, from 0
    batch: int = 0  # images in the step about to run, or just run
    losses: list[float] = field(default_factory=list)  # the step's total, recon and KL, once it has run
    seconds: float = 0.0  # how long the step took (its losses were read, so a GPU had finished it)
    test: dict | None = None  # the epoch's test total, recon and KL, once it is saved
    timeline: object | None = None  # the run's Timeline, saved with each checkpoint (set by the timeline's observer)
    finishing: bool = False  # the epoch is saved and the run's maps and scores are added next (it already opens)


class Observer(Protocol):
    """The hooks, in the order the loop calls them; an observer implements those it needs (the others do nothing)."""

    def start(self, s: LoopState) -> None:
        """The model is built or resumed; no step has run yet."""

    def step_starts(self, s: LoopState) -> None:
        """A step of `s.batch` images is about to run."""

    def step_done(self, s: LoopState) -> None:
        """The step ran; `s.losses` are finite."""

    def epoch_trained(self, s: LoopState) -> None:
        """The epoch's steps are done; its evaluation and save follow."""

    def epoch_saved(self, s: LoopState) -> None:
        """The epoch's checkpoint is written."""

    def end(self, outcome: str, message: str = "") -> None:
        """The run is over: 'done', 'stopped' or 'failed' (then `message` says why)."""


def notify(observers: list[Observer], hook: str, s: LoopState) -> None:
    for observer in observers:
        getattr(observer, hook)(s)


def end(observers: list[Observer], outcome: str, message: str = "") -> None:
    for observer in observers:
        observer.end(outcome, message)
