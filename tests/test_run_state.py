"""A run's state beside its checkpoint folder (training/run_state.py): what opens and why a run failed, from files."""
import subprocess
import sys
from pathlib import Path

from tests.conftest import QUIET, small_run
from training.run_state import run_state, state_path, write_run_state
from training.train import train

ROOT = Path(__file__).resolve().parent.parent


def _checkpoint(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def test_a_folder_no_trainer_wrote_a_state_for_opens_when_it_holds_a_checkpoint(tmp_path):
    assert run_state(_checkpoint(tmp_path / "shipped")) == run_state(tmp_path / "shipped")
    assert run_state(tmp_path / "shipped").opens and run_state(tmp_path / "shipped").state == "none"
    assert not run_state(tmp_path / "missing").opens


def test_a_training_run_opens_once_its_last_epoch_is_saved_and_says_why_it_failed(tmp_path):
    folder = _checkpoint(tmp_path / "run")  # an earlier epoch is saved
    write_run_state(folder, "training")
    assert not run_state(folder).opens and run_state(folder).failed is None
    write_run_state(folder, "finishing")
    assert run_state(folder).opens
    write_run_state(folder, "failed", "The loss became nan in epoch 3.")
    assert run_state(folder).opens and run_state(folder).failed == "The loss became nan in epoch 3."
    write_run_state(tmp_path / "never-saved", "failed", "MNIST is missing.")
    assert not run_state(tmp_path / "never-saved").opens and run_state(tmp_path / "never-saved").failed == "MNIST is missing."


def test_a_trainer_killed_without_a_word_leaves_a_checkpoint_that_opens(tmp_path):
    folder = _checkpoint(tmp_path / "run")
    subprocess.run([sys.executable, "-c", "import sys; from training.run_state import write_run_state; "
                    "write_run_state(sys.argv[1], 'training')", str(folder)], cwd=ROOT, check=True)
    state = run_state(folder)  # the process that wrote "training" is gone
    assert state.state == "vanished" and state.opens and state.failed is None


def test_a_damaged_state_file_reads_as_no_state(tmp_path):
    folder = _checkpoint(tmp_path / "run")
    for text in ("{trunc", '{"state": "<script>", "message": "", "pid": 1}', '{"state": "failed", "pid": 1}', "[]"):
        state_path(folder).write_text(text)
        assert run_state(folder).state == "none" and run_state(folder).opens


def test_train_writes_the_state_beside_the_folder(train_split, test_split, tmp_path):
    train(small_run(), train_split, test_split, tmp_path / "ck", QUIET)
    assert state_path(tmp_path / "ck") == tmp_path / ".ck.state.json"
    assert run_state(tmp_path / "ck").state == "done" and run_state(tmp_path / "ck").opens
