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

from tests.helpers import cache_onnx_graphs, write_tiny_mnist
from training.checkpoint import METRICS, TRAIN_STATE, load_checkpoint, read_json
from training.config import ModelConfig
from training.errors import UserError
from training.run_state import run_state

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 5


def command(data: Path, out: Path, resume: bool) -> list[str]:
    # one thread: this tiny model trains faster on one than on two, and two processes share the 2 cores; scores
    # (like t-SNE and IWAE) only extend the finishing step, which this test is not about
    return [sys.executable, "-m", "training", "--data-dir", str(data), "--no-download", "--out", str(out),
            "--epochs", str(EPOCHS), "--batch-size", "64", "--z-dim", "4", "--encoder-hidden", "4",
            "--decoder-hidden", "8", "--seed", "0", "--no-bf16", "--no-tsne", "--no-iwae", "--no-scores",
            "--no-progress", "--threads", "1",
            "--no-probe"] + (["--resume"] if resume else [])  # bit-exact comparison: levers must not depend on a timing


def saved_history(out: Path) -> list[dict]:
    """The epochs of the last whole save (each save swaps in a whole folder): metrics.json alone, so that watching
    costs the trainer nothing (a full load checks the ONNX graphs: 0.1–0.2 s of a core, every poll)."""
    try:
        return read_json(out / METRICS)["history"]
    except (UserError, OSError):  # nothing saved yet, or a save swapping folders right now
        return []


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path):
    data = write_tiny_mnist(tmp_path / "mnist", n_train=1500, n_test=200)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    cache_onnx_graphs(ModelConfig(z_dim=4, encoder_hidden=4, decoder_hidden=8))  # no run here is a machine's first
    # the uninterrupted run on the other core, while this one is killed and resumed
    reference = subprocess.Popen(command(data, straight, resume=False), cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)

    rng = random.Random(0)
    kills = 0
    for _ in range(2):  # up to two kills, each at a random moment after some checkpoint exists
        resume = (killed / TRAIN_STATE).is_file()
        before = len(saved_history(killed))
        proc = subprocess.Popen(command(data, killed, resume), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while proc.poll() is None and len(history := saved_history(killed)) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        # somewhere inside the next epoch, its evaluation or its save: up to 1.5 × the last epoch's training time
        time.sleep(rng.uniform(0.0, 1.5 * history[-1]["seconds"] if history else 0.4))
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
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    a, b = load_checkpoint(straight), load_checkpoint(killed)
    assert [h["epoch"] for h in b.metrics["history"]] == list(range(1, EPOCHS + 1))
    for name, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[name]), name
    assert a.metrics["final"]["test"] == b.metrics["final"]["test"]
    # no partial or previous folders left behind; the writer lock's file stays (an unheld lock is harmless), and so
    # does the run's state (training/run_state.py), which says it is done
    assert sorted(p.name for p in tmp_path.glob(".killed.*")) == [".killed.lock", ".killed.state.json"]
    assert run_state(killed).state == "done"
