"""kill -9 a real `python -m training` process at random moments (twice); --resume must finish it exactly as an
uninterrupted run would, and every kill must leave a loadable checkpoint."""
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import write_tiny_mnist
from training.checkpoint import TRAIN_STATE, load_checkpoint
from training.errors import UserError
from training.run_state import run_state

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 5


def command(data: Path, out: Path, resume: bool) -> list[str]:
    return [sys.executable, "-m", "training", "--data-dir", str(data), "--no-download", "--out", str(out),
            "--epochs", str(EPOCHS), "--batch-size", "64", "--z-dim", "4", "--encoder-hidden", "4",
            "--decoder-hidden", "8", "--seed", "0", "--no-bf16", "--no-tsne", "--no-iwae", "--no-progress",
            "--no-probe"] + (["--resume"] if resume else [])  # bit-exact comparison: levers must not depend on a timing


def saved_epochs(out: Path) -> int:
    try:
        return len(load_checkpoint(out).metrics["history"])
    except (UserError, OSError):  # nothing saved yet, or a save swapping folders right now
        return 0


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path):
    data = write_tiny_mnist(tmp_path / "mnist", n_train=3000, n_test=200)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(command(data, straight, resume=False), cwd=ROOT, check=True, capture_output=True, timeout=300)

    rng = random.Random(0)
    kills = 0
    for _ in range(2):  # up to two kills, each at a random moment after some checkpoint exists
        resume = (killed / TRAIN_STATE).is_file()
        before = saved_epochs(killed)
        proc = subprocess.Popen(command(data, killed, resume), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while proc.poll() is None and saved_epochs(killed) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))  # somewhere inside the next epoch, its evaluation or its save
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        ck = load_checkpoint(killed)  # whatever the moment, the last complete checkpoint loads
        assert 1 <= len(ck.metrics["history"]) < EPOCHS
        assert run_state(killed).state == "vanished" and run_state(killed).opens  # its trainer said nothing: it opens
    assert kills >= 1, proc.stderr.read().decode()[-2000:]

    finish = subprocess.run(command(data, killed, resume=True), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert finish.returncode == 0, finish.stderr
    a, b = load_checkpoint(straight), load_checkpoint(killed)
    assert [h["epoch"] for h in b.metrics["history"]] == list(range(1, EPOCHS + 1))
    for name, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[name]), name
    assert a.metrics["final"]["test"] == b.metrics["final"]["test"]
    # no partial or previous folders left behind; the writer lock's file stays (an unheld lock is harmless), and so
    # does the run's state (training/run_state.py), which says it is done
    assert sorted(p.name for p in tmp_path.glob(".killed.*")) == [".killed.lock", ".killed.state.json"]
    assert run_state(killed).state == "done"
