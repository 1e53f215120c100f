"""One writer per checkpoint folder: two real trainers on one --out, a kill -9'd holder, and the lock itself."""
import errno
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import write_tiny_mnist
from training.checkpoint import load_checkpoint
from training.errors import UserError
from training.train import _save_failure_cause
from training.writer_lock import lock_path, writer_lock

ROOT = Path(__file__).resolve().parent.parent


def flags(data: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return ["--data-dir", str(data), "--no-download", "--out", str(out), "--epochs", str(epochs), "--batch-size", "64",
            "--z-dim", "4", "--encoder-hidden", "4", "--decoder-hidden", "8", "--no-tsne", "--no-iwae", "--no-scores",
            "--no-progress", "--no-probe", *extra]


def trainer(data: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    """A real `python -m training` on one thread (this tiny model trains faster on one than on two)."""
    return [sys.executable, "-m", "training", *flags(data, out, epochs, *extra), "--threads", "1"]


def wait_for_holder(out: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until the trainer has taken the lock (its pid is in the lock file)."""
    deadline = time.monotonic() + timeout
    while str(proc.pid) not in (lock_path(out).read_text() if lock_path(out).exists() else ""):
        assert proc.poll() is None and time.monotonic() < deadline, "the first trainer never took the lock"
        time.sleep(0.02)


def test_a_second_writer_is_refused_at_once_and_the_first_finishes(tmp_path):
    data = write_tiny_mnist(tmp_path / "data", n_train=1000, n_test=64)
    out = tmp_path / "run"
    first = subprocess.Popen(trainer(data, out, 4), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_holder(out, first)
    for flags in ((), ("--overwrite",), ("--resume",)):
        started = time.monotonic()
        second = subprocess.run(trainer(data, out, 1, *flags), cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"being written by another run (pid {first.pid}, started " in second.stderr
        assert second.stderr.count("\n") == 1  # one sentence, no traceback
        # refused before torch is imported, the data loaded or a model built (≈ 0.1 s here)
        assert time.monotonic() - started < 1.0
    _, err = first.communicate(timeout=240)
    assert first.returncode == 0, err
    assert len(load_checkpoint(out).metrics["history"]) == 4


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_lock_left_by_a_killed_run_does_not_block_the_next(tmp_path, capsys):
    from training.__main__ import main

    data = write_tiny_mnist(tmp_path / "data", n_train=64, n_test=32)  # one batch: the victim dies before it loads them
    out = tmp_path / "run"
    victim = subprocess.Popen(trainer(data, out, 50), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_holder(out, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert lock_path(out).exists()  # the file stays; the kernel released the lock with the process
    with writer_lock(out):  # taken at once
        pass
    # the next run (here in this process: only the victim had to be a process) takes the lock and writes its checkpoint
    assert main(flags(data, out, 1, "--overwrite")) == 0, capsys.readouterr().err
    assert len(load_checkpoint(out).metrics["history"]) == 1


def test_the_lock_is_exclusive_within_a_process_too_and_released_after(tmp_path):
    folder = tmp_path / "ck"
    with writer_lock(folder):
        with pytest.raises(UserError, match="being written by another run"):
            with writer_lock(folder):
                pass
    with writer_lock(folder):  # released when the block ended
        pass


def test_a_failed_save_names_its_real_cause(tmp_path):
    out = tmp_path / "ck"
    assert "disk is full" in _save_failure_cause(OSError(errno.ENOSPC, "No space left on device"), out)
    vanished = _save_failure_cause(OSError(errno.ENOENT, "No such file or directory"), out)
    assert "moved or deleted" in vanished and "disk" not in vanished
    assert "no longer writable" in _save_failure_cause(OSError(errno.EROFS, "Read-only file system"), out)


def test_a_symlinked_out_is_locked_and_saved_as_the_folder_it_points_to(tmp_path, capsys):
    from training.__main__ import main

    data = write_tiny_mnist(tmp_path / "data", n_train=64, n_test=32)
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    argv = flags(data, link, 1, "--dry-run", "--no-umap", "--timeline", "off")
    assert main(argv) == 0, capsys.readouterr().err
    assert link.is_symlink() and load_checkpoint(real).config.model.z_dim == 4  # saved inside, the link kept
    with writer_lock(real):  # another run writing the real folder: a run given the link must wait for it
        assert main([*argv, "--overwrite"]) == 2
    assert "being written by another run" in capsys.readouterr().err
    with writer_lock(link):  # and the other way round
        with pytest.raises(UserError, match="being written by another run"):
            with writer_lock(real):
                pass
