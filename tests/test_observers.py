"""What watches a run hooks into its loop through one interface (training/observers.py)."""
import pytest
import torch

from tests.conftest import QUIET, small_run
from training.config import RecordConfig
from training.levers import ProbeObserver
from training.live import LiveProgress
from training.observers import Observer
from training.run_state import RunStateFile
from training.timeline import Recorder
from training.train import Invocation, run_observers, train

CPU = torch.device("cpu")


class Steps(Observer):
    """An observer that needs one hook: the others do nothing."""

    def __init__(self):
        self.losses = []

    def step_done(self, s):
        self.losses.append(s.losses[0])


def test_the_run_record_says_what_watches_it(train_split, test_split, tmp_path):
    record = RecordConfig(timeline=True, live=str(tmp_path / "live"), probe_levers=True)
    kinds = [type(o) for o in run_observers(small_run(record=record), tmp_path / "ck", train_split, test_split, CPU,
                                            Invocation())]
    assert kinds == [RunStateFile, LiveProgress, ProbeObserver, Recorder]
    quiet = RecordConfig(timeline=False, live=None, probe_levers=False)
    assert [type(o) for o in run_observers(small_run(record=quiet), tmp_path / "ck2", train_split, test_split, CPU,
                                           Invocation())] == [RunStateFile]


def test_an_observer_sees_every_step_of_the_loop(train_split, test_split, tmp_path, monkeypatch):
    from training import train as train_module

    steps = Steps()
    real = train_module.run_observers
    monkeypatch.setattr(train_module, "run_observers", lambda *args: real(*args) + [steps])
    metrics = train(small_run(epochs=2), train_split, test_split, tmp_path / "ck", QUIET)
    assert len(steps.losses) == 2 * len(train_split.images) // 64  # 4 steps of 64 images an epoch
    assert sum(steps.losses[:4]) / 4 == pytest.approx(metrics["history"][0]["train"]["total"])
