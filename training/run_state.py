"""Whether a run's checkpoint opens, and why its run failed: one small file beside the checkpoint folder
(`.NAME.state.json`, next to the writer lock's `.NAME.lock`) that the trainer replaces atomically whenever its run
changes state, and one function that reads it. The app decides from this, never from a log or a progress bar.

Beside the folder, not in it: every save swaps the whole folder in, and the state must outlive that and exist before
the first save. Only the process holding the folder's writer lock writes it."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .atomic import write_atomically
from .checkpoint import CONFIG
from .observers import Observer
from .writer_lock import real_folder

# what a trainer writes: training (no epoch of this run may be opened yet) → finishing (the last epoch is saved and
# opens; its maps and scores are being added) → done, or stopped / failed at any point
WRITTEN = ("training", "finishing", "done", "stopped", "failed")
LIVE = ("training", "finishing")  # a trainer is still at work, if its process lives


@dataclass(frozen=True)
class RunState:
    state: str  # one of WRITTEN; "vanished": its trainer died without a word (kill -9); "none": no trainer wrote one
    opens: bool  # the folder holds a whole checkpoint that its run will not replace with a later epoch
    failed: str | None = None  # the trainer's own sentence, when its run failed


def state_path(folder: str | Path) -> Path:
    folder = real_folder(folder)
    return folder.with_name(f".{folder.name}.state.json")


def write_run_state(folder: str | Path, state: str, message: str = "") -> None:
    """Replace the run's state file (call only while holding the folder's writer lock)."""
    if state not in WRITTEN:
        raise ValueError(f"a run's state is one of {WRITTEN}, not {state!r}")
    path = state_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps({"state": state, "message": str(message)[:400], "pid": os.getpid()}))


def run_state(folder: str | Path) -> RunState:
    """What the run of `folder` says about it. A folder no trainer wrote a state for (shipped, copied in, trained
    before this file existed) opens when it holds a checkpoint, as does one whose trainer died mid-run."""
    folder = Path(folder)
    saved = (folder / CONFIG).is_file()  # a save swaps in a whole folder
    written = _read(state_path(folder))
    if written is None:
        return RunState("none", saved)
    state, message = written["state"], written["message"]
    if state in LIVE and not _alive(written["pid"]):
        return RunState("vanished", saved)
    return RunState(state, saved and state != "training", message if state == "failed" else None)


def _read(path: Path) -> dict | None:
    """The state file, or None when there is none or it is not one (it is always replaced whole)."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not (isinstance(raw, dict) and raw.get("state") in WRITTEN and isinstance(raw.get("message"), str)
            and isinstance(raw.get("pid"), int)):
        return None
    return raw


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, dead but not yet reaped by its parent, does not)."""
    if pid <= 0:  # 0 and negatives name process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, ValueError):
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class RunStateFile(Observer):
    """The run's state file, kept by the loop (training/observers.py): training from the moment the trainer holds the
    folder, finishing once the last epoch is saved and more is added, then how the run ended."""

    def __init__(self, folder: str | Path):
        self.folder = folder
        write_run_state(folder, "training")

    def epoch_saved(self, s) -> None:
        if s.finishing:
            write_run_state(self.folder, "finishing")

    def end(self, outcome: str, message: str = "") -> None:
        write_run_state(self.folder, outcome, message)
