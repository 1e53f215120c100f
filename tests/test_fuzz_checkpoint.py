"""A checkpoint folder is untrusted input (soon downloaded by repo id): mutate a real one in every way a stranger or a
broken disk could, and require that loading — and opening it in the app — either works with the same model or
raises the project's UserError with a sentence naming the file; never another exception, never unbounded memory."""
import json
import contextlib
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from explorer import checkpoint_library, atlas_maps, test_sets
from explorer.app import lay_out, page_views
from training.checkpoint import load_checkpoint
from training.errors import UserError

MEMORY_BOUND = 64 * 2**20  # Python-level peak per load (tracemalloc); the tiny checkpoint itself is ≈ 0.3 MB
RSS_BOUND = 256 * 2**20  # growth of the whole process over all examples (torch allocates outside tracemalloc)
JSON_FILES = ("config.json", "metrics.json")
BINARY_FILES = ("model.safetensors", "atlas.safetensors", "encoder.onnx", "decoder.onnx")
HOSTILE_VALUES = [0, -1, 10**9, 10**30, "1e309", "-1e309", "NaN", "x", "", [], [[[]]], {}, {"a": {"b": None}}, None, True,
                  2.5, [1e9] * 3]

json_edit = st.tuples(st.sampled_from(JSON_FILES), st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", max_size=12) |
                                                            st.integers(0, 40), min_size=0, max_size=3),
                      st.sampled_from(["set", "delete", "add"]), st.sampled_from(HOSTILE_VALUES))
binary_edit = st.tuples(st.sampled_from(BINARY_FILES), st.sampled_from(["truncate", "flip", "header", "append", "empty"]),
                        st.floats(0, 1), st.integers(1, 255))


def _raw_json(value) -> str:
    """JSON text, with the non-standard literals a hostile file may hold written as such (1e309, NaN)."""
    if value in ("1e309", "-1e309", "NaN"):
        return value
    return json.dumps(value)


def mutate_json(folder: Path, edit) -> None:
    name, path, op, value = edit
    tree = json.loads((folder / name).read_text())
    node, keys = tree, list(path)
    # walk as far as the path leads (names pick dict keys by position when they do not exist)
    while len(keys) > 1 and isinstance(node, (dict, list)) and node:
        key = keys.pop(0)
        node = node[list(node)[hash(key) % len(node)]] if isinstance(node, dict) else node[int(key) % len(node) if isinstance(key, int) else 0]
    target = keys[0] if keys else None
    marker = "\u0000HOSTILE\u0000"
    if isinstance(node, dict):
        key = (list(node)[hash(target) % len(node)] if node and op != "add" else f"extra_{target}") if target is not None else None
        if key is None:
            tree = marker
        elif op == "delete":
            node.pop(key, None)
        else:
            node[key] = marker
    elif isinstance(node, list) and node:
        index = (target if isinstance(target, int) else 0) % len(node)
        if op == "delete":
            node.pop(index)
        else:
            node[index] = marker
    else:
        tree = marker
    (folder / name).write_text(json.dumps(tree).replace(json.dumps(marker), _raw_json(value)))


def mutate_binary(folder: Path, edit) -> None:
    name, op, where, byte = edit
    data = bytearray((folder / name).read_bytes())
    at = int(where * (len(data) - 1))
    if op == "truncate":
        data = data[:at]
    elif op == "flip":
        data[at] ^= byte
    elif op == "header":  # a header that declares far more than the file holds
        data[:8] = (2**40 + at).to_bytes(8, "little") if name.endswith(".safetensors") else data[:8]
        if not name.endswith(".safetensors"):
            data[at:at + 4] = b"\xff\xff\xff\x7f"
    elif op == "append":
        data += bytes([byte]) * 1000
    else:
        data = bytearray()
    (folder / name).write_bytes(bytes(data))


def _probe(model) -> np.ndarray:
    with torch.inference_mode():
        return model.decode(torch.linspace(-2, 2, 3 * model.cfg.z_dim).reshape(3, -1)).numpy()


def check_folder(folder: Path, original_probe: np.ndarray, views) -> None:
    """Load (and open in the app's page): same model, or a UserError naming a file; bounded Python memory."""
    tracemalloc.start()
    try:
        ck = load_checkpoint(folder)
        assert np.allclose(_probe(ck.model), original_probe, atol=1e-3)
        views.opened(folder.name)
        views.tab("map").latent_map(folder.name, atlas_maps.map_methods(ck.atlas)[0])
    except UserError as err:
        assert any(name in str(err) for name in (*JSON_FILES, *BINARY_FILES, str(folder))), str(err)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"


@pytest.fixture(scope="module")
def original(trained_checkpoint):
    return _probe(load_checkpoint(trained_checkpoint).model)


@pytest.fixture(scope="module")
def page(trained_checkpoint, tmp_path_factory):
    """The app's page over a folder that holds the original checkpoint; each example adds its mutated copy as "ck"."""
    root = tmp_path_factory.mktemp("fuzzed")
    shutil.copytree(trained_checkpoint, root / "original")
    views = page_views(checkpoint_library.CheckpointLibrary(root), test_sets.TestSets.of(test_sets.TestImages(None, "none")))
    lay_out(views)
    return views


@pytest.fixture
def mutated(trained_checkpoint, page):
    """A fresh copy of the checkpoint in the page's folder (mutate it, then check it), removed afterwards."""
    @contextlib.contextmanager
    def copy():
        folder = shutil.copytree(trained_checkpoint, page.ctx.library.root / "ck")
        try:
            yield folder
        finally:
            shutil.rmtree(folder)
            page.ctx.library.names()  # the library forgets it: the next example is a new checkpoint
    return copy


@pytest.fixture(scope="module")
def rss_budget():
    process = psutil.Process()
    start = process.memory_info().rss
    yield
    assert process.memory_info().rss - start < RSS_BOUND


@given(edit=json_edit)
@example(edit=("config.json", ["model", "z_dim"], "set", 10**9))  # once a raw allocator error
@example(edit=("metrics.json", [], "set", []))
@example(edit=("config.json", ["train", "beta"], "set", "1e309"))
def test_mutated_json_files(mutated, page, original, rss_budget, edit):
    with mutated() as folder:
        mutate_json(folder, edit)
        check_folder(folder, original, page)


@given(edit=binary_edit)
@example(edit=("model.safetensors", "header", 0.5, 1))
@example(edit=("atlas.safetensors", "flip", 0.001, 255))
@example(edit=("model.safetensors", "flip", 0.8074120900348771, 64))  # found by the fuzz profile: the ONNX probe missed it
def test_mutated_binary_files(mutated, page, original, rss_budget, edit):
    with mutated() as folder:
        mutate_binary(folder, edit)
        check_folder(folder, original, page)
