"""Stop a run from outside its process: the trainer checks for a file before each step and, when it appears, stops
as Ctrl-C does (the last saved epoch is kept). The app's Stop on ZeroGPU, where the run trains in a GPU worker that
the platform forks and the app cannot signal (explorer/zerogpu.py)."""
from __future__ import annotations

from pathlib import Path

from .observers import Observer


class StopFile(Observer):
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def step_starts(self, s) -> None:
        if self.path.exists():  # one stat() a step: ≈ 2 µs against a step of milliseconds
            raise KeyboardInterrupt(f"{self.path} appeared")
