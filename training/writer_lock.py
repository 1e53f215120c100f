"""One writer per checkpoint folder: an OS lock on `.NAME.lock` beside the folder, held for the whole run.

Two trainers on one `--out` would swap the folder under each other (the second's start-up even deletes the first's
half-written save). The kernel drops a `flock` when its process dies, `kill -9` included, so a dead run leaves the
file but never a stale lock. The file says who holds it, so the refusal can name the other run.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path

from .errors import UserError


def real_folder(folder: str | Path) -> Path:
    """`folder` with every symlink followed: the lock and the checkpoint's folder swap must guard the same folder,
    whichever link or real path each run was given."""
    try:
        return Path(folder).resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise UserError(f"Cannot follow the links in {folder} ({err}); give a checkpoint folder without looping links.") from None


def lock_path(folder: str | Path) -> Path:
    folder = real_folder(folder)
    return folder.with_name(f".{folder.name}.lock")


def _holder(handle) -> str:
    """'pid 123, started 2026-12-01 19:30:05' from the lock file, or a plain phrase when it cannot be read."""
    try:
        handle.seek(0)
        info = json.loads(handle.read() or "{}")
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["started"])))
        return f"pid {int(info['pid'])}, started {started}"
    except (ValueError, KeyError, TypeError, OSError):
        return "a process that is starting"


@contextlib.contextmanager
def writer_lock(folder: str | Path):
    """Hold the folder's lock until the block ends; refuse at once (UserError) if another process holds it."""
    path = lock_path(folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
    except OSError as err:
        raise UserError(f"Cannot write the checkpoint to {folder} ({err.strerror}); choose a writable --out.") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{Path(folder)} is being written by another run ({_holder(handle)}); wait for it to "
                            "finish or stop it, or choose another --out.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "started": time.time()}))
        handle.flush()
        try:
            yield path
        finally:
            handle.seek(0)
            handle.truncate()  # released: the next run finds no holder to name
