"""What watches a training run hooks into the loop of train(...) through one small interface, so that the loop reads
top to bottom: the lever probe (levers.py), the live progress files (live.py), the timeline (timeline.py) and the
run's state beside its checkpoint (run_state.py) each implement the hooks they need, in a module of their own."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

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
    terms: torch.Tensor | None = None  # the step's total, recon and KL on its device, once it has run (maybe not yet
    #                                   computed on a GPU: reading them waits for the step)
    seconds: float = 0.0  # how long the step took (exact when `wait` was set: a GPU had finished it)
    step: int = 0  # steps run in this process
    wait: bool = True  # whether the loop waits for this step's result (every step on a CPU; an observer may ask)
    test: dict | None = None  # the epoch's test total, recon and KL, once it is saved
    timeline: object | None = None  # the run's Timeline, saved with each checkpoint (set by the timeline's observer)
    finishing: bool = False  # the epoch is saved and the run's maps and scores are added next (it already opens)

    @property
    def losses(self) -> list[float]:
        """The step's terms as numbers (on a GPU this waits for the step: observers read them only now and then)."""
        return self.terms.tolist()


class Observer(Protocol):
    """The hooks, in the order the loop calls them; an observer implements those it needs (the others do nothing)."""

    def start(self, s: LoopState) -> None:
        """The model is built or resumed; no step has run yet."""

    def step_starts(self, s: LoopState) -> None:
        """A step of `s.batch` images is about to run; set `s.wait` to have the loop wait for its result."""

    def step_done(self, s: LoopState) -> None:
        """The step ran (on a GPU it may still be running unless `s.wait`); its losses were finite when checked."""

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
