"""The training loop on a GPU (training/train.py): it does not wait for each step, yet a loss that stops being finite
is still caught, the probe still times whole steps, and the live files and the timeline get every step's losses.
The waiting rule is checked on the CPU with a stepper that says it is on CUDA; a real CUDA run where CUDA exists."""
import math

import pytest
import torch

from training import train as train_module
from training.config import ModelConfig, RunConfig, TrainConfig
from training.errors import UserError
from training.live import LiveProgress
from training.observers import LoopState


class QueuedStepper:
    """A stepper on "cuda" (as far as the loop can tell) whose losses are given, one tensor per step."""

    def __init__(self, losses):
        self.device, self.losses, self.cfg = torch.device("cuda"), iter(losses), TrainConfig(batch_size=8)

    def __call__(self, images):
        return torch.tensor(next(self.losses), dtype=torch.float32)


class Watcher:
    def __init__(self):
        self.waited = []

    def step_starts(self, s):
        if s.step == 3:
            s.wait = True  # as the probe does for the steps it times

    def step_done(self, s):
        self.waited.append(s.wait)


def steps(losses, observers):
    s = LoopState(RunConfig(), None, QueuedStepper(losses))
    for _ in losses:
        train_module.training_step(s, torch.zeros(8, 28, 28, dtype=torch.uint8), observers)
    return s


def test_on_a_gpu_the_loop_waits_only_every_few_steps_or_when_asked(tmp_path):
    watcher, live = Watcher(), LiveProgress(tmp_path, steps_per_epoch=45, epochs=1, every=1e9)
    steps([[1.0 * i, 0.5 * i, 0.5 * i] for i in range(45)], [watcher, live])
    every = train_module.WAIT_EVERY
    assert [i for i, w in enumerate(watcher.waited) if w] == [0, 3, every, 2 * every]
    live.write(force=True)  # every step's losses, read at once when the file is written
    assert [row[1] for row in live.train] == [float(i) for i in range(45)] and live.unread == []


def test_a_loss_that_stops_being_finite_between_waits_is_caught_at_the_next_wait():
    losses = [[1.0, 1.0, 0.0]] * 7 + [[math.nan, math.nan, 0.0]] * 30
    s = LoopState(RunConfig(), None, QueuedStepper(losses))
    with pytest.raises(UserError, match="The loss became nan"):
        for _ in losses:
            train_module.training_step(s, torch.zeros(8, 28, 28, dtype=torch.uint8), [])
    assert s.step == train_module.WAIT_EVERY  # caught at the first wait after the bad step, not at the epoch's end


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (runs on a machine with a GPU)")
def test_a_real_cuda_run_trains_with_its_data_on_the_device(tmp_path):
    from tests.helpers import write_tiny_mnist
    from training.data import load_split

    data = write_tiny_mnist(tmp_path / "data", n_train=2048, n_test=256)
    run = RunConfig(model=ModelConfig(z_dim=4), train=TrainConfig(epochs=2, batch_size=256, bf16=torch.cuda.is_bf16_supported()))
    metrics = train_module.train(run, load_split(data, True), load_split(data, False), tmp_path / "out",
                                 train_module.Invocation("cuda", progress=False))
    assert len(metrics["history"]) == 2 and all(math.isfinite(h["train"]["total"]) for h in metrics["history"])
    assert metrics["history"][1]["test"]["total"] < metrics["history"][0]["test"]["total"] + 50
