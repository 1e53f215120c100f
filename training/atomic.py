"""One way to replace a file that another process or a browser may be reading: write it under a unique temporary
name beside it, then rename it into place, so a reader sees the old file or the new one, never half of one, and two
writers never share a temporary file."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace(tmp: Path, path: Path) -> None:
    """Rename `tmp` over `path` with ordinary permissions (mkstemp, mkdtemp and safetensors make files private)."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


@contextmanager
def atomic_path(path: str | Path):
    """Yield a unique temporary path beside `path` for a library to write (safetensors, zipfile, Pillow); when the
    block ends without an error it gets ordinary permissions and replaces `path`; on an error it is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        _replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: str | Path, data: bytes | str) -> Path:
    """Replace `path` with `data` (text is written as UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)


@contextmanager
def atomic_files(folder: str | Path, names: tuple[str, ...]):
    """Yield a unique temporary folder inside `folder` for a writer that saves several files by fixed names (a
    timeline); when the block ends without an error each of `names` replaces its namesake in `folder`, one by one in
    the order given (so a file that names another can come last); the temporary folder is always removed."""
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))
    try:
        yield tmp
        for name in names:
            _replace(tmp / name, Path(folder) / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
