"""The checkpoints the app can open: every folder under a root and the Train tab's finished runs, loaded on first
use, re-read when saved anew, forgotten when gone."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from training.checkpoint import Checkpoint, load_checkpoint, read_config
from training.errors import UserError
from training.datasets import dataset_info
from training.timeline import TIMELINE_JSON

_MISSING = object()


@dataclass
class CheckpointLibrary:
    """Every checkpoint folder under a root (and the finished runs of the app's Train tab), each loaded on first use
    and kept — re-read when its folder was saved anew (a run that added its t-SNE map after it opened), forgotten
    when it is gone. What views derive from a checkpoint is memoised here (`memo`), so it goes with it."""

    root: Path
    device: str = "cpu"
    runs: object = None  # explorer.train_runs.TrainingRuns, or None
    _loaded: dict[str, Checkpoint] = field(default_factory=dict)
    _stamps: dict[str, tuple] = field(default_factory=dict)
    _memos: dict[str, dict] = field(default_factory=dict)
    _added: dict[str, Path] = field(default_factory=dict)  # folders from outside the root (`add`)
    _lock: threading.RLock = field(default_factory=threading.RLock)  # the server's worker threads share the library

    def _root_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "config.json").exists()]

    def names(self) -> list[str]:
        """The checkpoints on disk now; any loaded one that is gone (a removed run) is forgotten, so memory does not
        grow with every run a long-lived app has seen."""
        runs = self.runs.finished_names() if self.runs is not None else []
        with self._lock:
            added = dict(self._added)
        found = set(self._root_names()) | set(runs) | {n for n, p in added.items() if (p / "config.json").is_file()}
        with self._lock:
            for gone in [name for name in self._stamps if name not in found]:
                self.forget(gone)
        return sorted(found)

    def folder(self, name: str) -> Path:
        """Where a listed checkpoint lives: the root, or the runs folder (a run cannot take a root checkpoint's name)."""
        if name in self._added:
            return self._added[name]  # added from outside the root
        if (self.root / name / "config.json").is_file() or self.runs is None:
            return self.root / name
        return Path(self.runs.runs_dir) / name

    @staticmethod
    def stamp(folder: Path) -> tuple | None:
        try:  # a save swaps in a new folder: another inode, or a reused one with a new change time
            found = folder.stat()
            return found.st_ino, found.st_ctime_ns, (folder / "config.json").stat().st_mtime_ns
        except OSError:
            return None

    @classmethod
    def version(cls, folder: Path) -> str | None:
        """The save stamp as text (in the URLs and names of the files the page gets), None while being swapped in."""
        stamp = cls.stamp(folder)
        return "-".join(map(str, stamp)) if stamp else None

    def get(self, name: str) -> Checkpoint:
        """The checkpoint, loaded on first use (outside the lock: a load takes a while) and kept."""
        with self._lock:
            if name in self._stamps and self._stamps[name] != self.stamp(self.folder(name)):
                self.forget(name)  # saved anew, or removed
            found = self._loaded.get(name)
        if found is not None:
            return found
        if name not in self.names():
            raise UserError(f"No checkpoint named {name!r}; available: {self.names()}.")
        folder = self.folder(name)
        stamp = self.stamp(folder)
        found = load_checkpoint(folder, self.device)
        with self._lock:
            self._loaded[name], self._stamps[name] = found, stamp
        return found

    def memo(self, name: str, key: str, compute):
        """`compute()` once per save of checkpoint `name` (dimensions, timeline, …); dropped when it is forgotten."""
        self.get(name)  # forgets the old memos when the folder was saved anew
        with self._lock:
            found = self._memos.get(name, {}).get(key, _MISSING)
        if found is _MISSING:
            found = compute()
            with self._lock:
                self._memos.setdefault(name, {})[key] = found
        return found

    def forget(self, name: str) -> None:
        with self._lock:
            self._loaded.pop(name, None)
            self._stamps.pop(name, None)
            self._memos.pop(name, None)

    def add(self, checkpoint: Checkpoint, name: str | None = None) -> str:
        """Register a checkpoint loaded from outside the root (`--checkpoint path`, `hf://OWNER/NAME`, a notebook's
        model): listed like the root's, and re-read when its folder is saved anew."""
        name = name or checkpoint.path.name
        with self._lock:
            self._added[name] = checkpoint.path
            self._loaded[name] = checkpoint
            self._stamps[name] = self.stamp(checkpoint.path)
            self._memos.pop(name, None)
        return name

    def folders(self) -> list[Path]:
        """The root and every checkpoint loaded from outside it: the folders the page may fetch files from.

        A Hub snapshot's files are links into the cached repo's blobs/, so for those the cached repo folder is served.
        """
        folders = [self.root] + ([Path(self.runs.runs_dir)] if self.runs is not None else [])
        with self._lock:
            outside = [ck.path for ck in self._loaded.values()] + list(self._added.values())
        for path in outside:
            folders.append(path.parent.parent if path.parent.name == "snapshots" else path)
        return folders

    def _config(self, name: str):
        """A checkpoint's config without loading its weights (UserError if unreadable)."""
        loaded = self._loaded.get(name)
        return loaded.config if loaded is not None else read_config(self.folder(name))

    def dataset_of(self, name: str) -> str | None:
        """A checkpoint's data set key from its config.json alone; None if unknown or unreadable."""
        try:
            return dataset_info(self._config(name).data.get("dataset")).key
        except UserError:
            return None

    def z_dim_of(self, name: str) -> int | None:
        """A checkpoint's latent size from its config.json alone; None if unreadable."""
        try:
            return self._config(name).model.z_dim
        except UserError:
            return None

    def has_timeline(self, name: str) -> bool:
        """Whether a checkpoint's folder holds a timeline (checked when it is opened, not here)."""
        loaded = self._loaded.get(name)
        folder = loaded.path if loaded is not None else self.folder(name)
        return (folder / TIMELINE_JSON).is_file()
