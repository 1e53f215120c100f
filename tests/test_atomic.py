"""One atomic write (training/atomic.py), used by every writer of a single file: a reader sees the old file or the
new one, never half of one; two writers never share a temporary name; nothing is left behind."""
import io
import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load as load_safetensors

from explorer.web_assets import write_test_sprite
from training.atomic import atomic_files, atomic_path, write_atomically
from training.checkpoint import write_atlas, write_metrics
from training.live import LiveProgress
from training.onnx_export import _store_template
from training.ood import write_ood
from training.timeline import TIMELINE_JSON, TIMELINE_TENSORS


@pytest.fixture
def umask_002():
    """A umask other than the usual 022, so that a hard-coded 0o644 shows."""
    previous = os.umask(0o002)
    yield 0o664
    os.umask(previous)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_failing_writer_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = write_atomically(tmp_path / "data.json", '{"old": true}')
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"new": tr')
            raise RuntimeError("the writer died half-way")
    assert target.read_text() == '{"old": true}' and _names(tmp_path) == ["data.json"]


def test_a_failing_multi_file_writer_replaces_none_of_them(tmp_path):
    (tmp_path / "a").write_text("old a")
    with pytest.raises(RuntimeError):
        with atomic_files(tmp_path, ("a", "b")) as tmp:
            (tmp / "a").write_text("new a")
            raise RuntimeError("b was never written")
    assert (tmp_path / "a").read_text() == "old a" and _names(tmp_path) == ["a"]


def test_the_result_has_ordinary_permissions_not_a_temporary_files(tmp_path, umask_002):
    path = write_atomically(tmp_path / "x.bin", b"123")
    assert stat.S_IMODE(path.stat().st_mode) == umask_002  # mkstemp alone gives 0o600


def test_two_threads_writing_one_path_never_tear_it_nor_collide(tmp_path):
    path = write_atomically(tmp_path / "f.bin", b"a" * 65536)
    payloads = [b"a" * 65536, b"b" * 32768]
    _hammer(lambda i: write_atomically(path, payloads[i % 2]), path, lambda data: data in payloads, rounds=300)
    assert _names(tmp_path) == ["f.bin"]


class FakeTimeline:
    """What LiveProgress.snapshot needs of a timeline: entries, and save() writing the two files by fixed names."""

    entries = [{"step": 0}]

    def __init__(self, n: int):
        self.n = n

    def save(self, folder: Path, decoders: bool = True) -> None:
        (folder / TIMELINE_TENSORS).write_bytes(b"t" * self.n)
        (folder / TIMELINE_JSON).write_text(json.dumps({"n": self.n}))


class FakeProto:
    def __init__(self, data: bytes):
        self.data = data

    def SerializeToString(self) -> bytes:
        return self.data


def _png_is_whole(data: bytes) -> bool:
    try:
        Image.open(io.BytesIO(data)).load()
    except (OSError, SyntaxError):
        return False
    return True


def _safetensors_is_whole(data: bytes) -> bool:
    try:
        return load_safetensors(data)["x"].shape == (1000,)
    except Exception:
        return False


def _json_is_whole(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


DIGITS = np.random.default_rng(0).integers(0, 256, (300, 28, 28), dtype=np.uint8)
# name → (write number i into folder, the file it writes, whether bytes read from it are a whole file)
WRITERS = {
    "progress.json": (lambda folder, i: LiveProgress(folder, steps_per_epoch=10, epochs=1 + i % 3).write(force=True),
                      "progress.json", _json_is_whole),
    "live timeline": (lambda folder, i: LiveProgress(folder, 10, 1).snapshot(FakeTimeline(1000 + i % 2 * 9000)),
                      TIMELINE_TENSORS, lambda data: data in (b"t" * 1000, b"t" * 10000)),
    "metrics.json": (lambda folder, i: write_metrics(folder, {"i": i, "pad": "x" * (i % 2) * 50000}), "metrics.json",
                     _json_is_whole),
    "atlas": (lambda folder, i: write_atlas(folder, {"x": torch.full((1000,), float(i))}), "atlas.safetensors",
              _safetensors_is_whole),
    "ood.json": (lambda folder, i: write_ood(folder, {"i": i, "pad": "x" * (i % 2) * 50000}), "ood.json", _json_is_whole),
    "onnx template": (lambda folder, i: _store_template(folder / "t.onnx", FakeProto(bytes([65 + i % 2]) * 40000)),
                      "t.onnx", lambda data: data in (b"A" * 40000, b"B" * 40000)),
    "test sprite": (lambda folder, i: write_test_sprite(DIGITS[: 100 + i % 2 * 200], folder), "test-digits.png",
                    _png_is_whole),
}


def _hammer(write, path: Path, is_whole, rounds: int) -> None:
    """Two threads call write(i) `rounds` times each while a third reads `path`: no error, never a torn file."""
    errors, torn, done = [], [], threading.Event()

    def writer(offset):
        try:
            for i in range(rounds):
                write(2 * i + offset)
        except Exception as err:  # a shared temporary name: one writer renames the other's file away
            errors.append(err)

    def reader():
        while not done.is_set():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if not is_whole(data):
                torn.append(len(data))

    threads = [threading.Thread(target=writer, args=(k,)) for k in (0, 1)]
    watcher = threading.Thread(target=reader)
    for t in (*threads, watcher):
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert not errors and not torn, (errors[:1], torn[:3])


@pytest.mark.parametrize("name", WRITERS)
def test_every_single_file_writer_is_atomic_under_two_concurrent_writers(tmp_path, umask_002, name):
    write, file_name, is_whole = WRITERS[name]
    write(tmp_path, 0)  # the file exists before the readers start
    _hammer(lambda i: write(tmp_path, i), tmp_path / file_name, is_whole, rounds=40)
    assert not [n for n in _names(tmp_path) if n.startswith(".")], _names(tmp_path)
    assert stat.S_IMODE((tmp_path / file_name).stat().st_mode) == umask_002
