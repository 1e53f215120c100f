"""What watches a run hooks into its loop through one interface (training/observers.py)."""
import os
import signal

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


class InterruptedAgain(Observer):
    """Stops the run after its first saved epoch, then gets a second SIGINT while the run writes how it ended (what a
    killed app's threads send the trainer as they die one by one: PR_SET_PDEATHSIG)."""

    def epoch_saved(self, s):
        raise KeyboardInterrupt

    def end(self, outcome, message=""):
        os.kill(os.getpid(), signal.SIGINT)


def test_a_second_interrupt_while_a_stopped_run_ends_still_lets_every_observer_record_it(train_split, test_split,
                                                                                        tmp_path, monkeypatch):
    from training import train as train_module
    from training.live import read_progress
    from training.run_state import run_state

    real = train_module.run_observers
    def observers(*args):
        state_file, *others = real(*args)  # the state file first, as always; the live file after the second SIGINT
        return [state_file, InterruptedAgain(), *others]

    monkeypatch.setattr(train_module, "run_observers", observers)
    with pytest.raises(KeyboardInterrupt):
        train(small_run(epochs=3, record=RecordConfig(live=str(tmp_path / "live"))), train_split, test_split,
              tmp_path / "ck", QUIET)
    assert run_state(tmp_path / "ck").state == "stopped"
    assert read_progress(tmp_path / "live")["state"] == "stopped"  # the observer after the second SIGINT wrote too
