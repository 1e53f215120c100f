"""encoder.onnx / decoder.onnx: written with every save, equal to torch, refused when missing, damaged or stale."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from safetensors.torch import load_file, save_file

from training.checkpoint import WEIGHTS, add_onnx_files, load_checkpoint
from training.errors import UserError
from training import onnx_export
from training.onnx_export import DECODER_ONNX, ENCODER_ONNX, OnnxExporter

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def copy_of(trained_checkpoint, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(trained_checkpoint, target)
    return target


def _session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_training_writes_onnx_that_matches_torch_on_any_batch_size(trained_checkpoint):
    ck = load_checkpoint(trained_checkpoint)
    encoder, decoder = _session(trained_checkpoint / ENCODER_ONNX), _session(trained_checkpoint / DECODER_ONNX)
    for batch in (1, 5, 33):  # dynamic batch axis
        x = torch.rand(batch, 1, 28, 28)
        z = torch.randn(batch, ck.config.model.z_dim)
        mean, std = encoder.run(None, {"image": x.numpy()})
        (pixels,) = decoder.run(None, {"z": z.numpy()})
        with torch.inference_mode():
            q = ck.model.encode(x)
            np.testing.assert_allclose(mean, q.mean.numpy(), atol=1e-4)
            np.testing.assert_allclose(std, q.stddev.numpy(), atol=1e-4)
            np.testing.assert_allclose(pixels, ck.model.decode(z).numpy(), atol=1e-4)


def test_refreshing_weights_gives_the_same_bytes_as_a_fresh_export(trained_checkpoint):
    model = load_checkpoint(trained_checkpoint).model
    exporter = OnnxExporter()
    exporter.export(model)  # builds the graph templates
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    assert exporter.export(model) == OnnxExporter().export(model)


def test_a_new_run_reuses_the_cached_graphs_without_exporting(trained_checkpoint, monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    model = load_checkpoint(trained_checkpoint).model
    first = OnnxExporter().export(model)  # exports, fills the cache
    assert len(list((tmp_path / "onnx-templates").glob("*.onnx"))) == 2

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the cache holds the graphs")

    monkeypatch.setattr(onnx_export, "_export_graph", no_export)
    assert OnnxExporter().export(model) == first


@pytest.mark.parametrize("damage", ["garbage", "other graph", "empty"])
def test_a_damaged_cached_graph_is_exported_anew(trained_checkpoint, onnx_template_cache, monkeypatch, tmp_path, damage):
    shutil.copytree(onnx_template_cache, tmp_path, dirs_exist_ok=True)  # the first export is a cache hit: one export a test
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    model = load_checkpoint(trained_checkpoint).model
    first = OnnxExporter().export(model)
    decoder, encoder = (onnx_export._template_path(model.cfg, name) for name in (DECODER_ONNX, ENCODER_ONNX))
    decoder.write_bytes({"garbage": b"\x08\x07junk" * 100, "other graph": encoder.read_bytes(), "empty": b""}[damage])
    assert OnnxExporter().export(model) == first
    assert decoder.read_bytes() != b"" and onnx_export._cached_template(decoder, "decoder", {
        k: v.numpy() for k, v in onnx_export.inference_copy(model).state_dict().items()}) is not None


def test_a_cached_graph_that_computes_something_else_is_not_used(trained_checkpoint, onnx_template_cache, monkeypatch,
                                                                tmp_path):
    import onnx

    shutil.copytree(onnx_template_cache, tmp_path, dirs_exist_ok=True)
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    model = load_checkpoint(trained_checkpoint).model
    first = OnnxExporter().export(model)
    path = onnx_export._template_path(model.cfg, DECODER_ONNX)
    graph = onnx.load_from_string(path.read_bytes())
    sigmoid = next(node for node in graph.graph.node if node.op_type == "Sigmoid")
    sigmoid.op_type = "Relu"  # same weights, same names, another function
    path.write_bytes(graph.SerializeToString())
    assert OnnxExporter().export(model) == first


def test_an_unwritable_cache_only_costs_the_export(trained_checkpoint, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(blocker))
    model = load_checkpoint(trained_checkpoint).model
    assert set(OnnxExporter().export(model)) == {ENCODER_ONNX, DECODER_ONNX}


def test_shipped_checkpoint_has_checked_onnx_files():
    folder = ROOT / "checkpoints" / "default"
    load_checkpoint(folder)  # raises if the ONNX files were missing or disagreed
    assert (folder / ENCODER_ONNX).stat().st_size > 1000 and not list(folder.glob("*.onnx.data"))


def test_missing_onnx_is_refused_with_the_command_that_fixes_it(copy_of):
    (copy_of / DECODER_ONNX).unlink()
    with pytest.raises(UserError, match=r"decoder\.onnx is missing.*export-onnx"):
        load_checkpoint(copy_of)


def test_truncated_onnx_is_refused(copy_of):
    data = (copy_of / ENCODER_ONNX).read_bytes()
    (copy_of / ENCODER_ONNX).write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"encoder\.onnx is not a readable ONNX model"):
        load_checkpoint(copy_of)


def test_onnx_from_other_weights_is_refused(copy_of):
    weights = load_file(str(copy_of / WEIGHTS))
    weights = {k: v + 0.05 if v.is_floating_point() and "running_var" not in k else v for k, v in weights.items()}
    save_file(weights, str(copy_of / WEIGHTS))
    with pytest.raises(UserError, match=r"encoder\.onnx: its weight .* differs from model\.safetensors"):
        load_checkpoint(copy_of)


def test_onnx_swapped_between_graphs_is_refused(copy_of):
    shutil.copy(copy_of / DECODER_ONNX, copy_of / ENCODER_ONNX)
    with pytest.raises(UserError, match=r"encoder\.onnx is not a readable ONNX model of this checkpoint \(input shape"):
        load_checkpoint(copy_of)


def test_export_command_repairs_a_stale_folder(copy_of):
    (copy_of / ENCODER_ONNX).write_bytes(b"junk")
    (copy_of / DECODER_ONNX).unlink()
    done = subprocess.run([sys.executable, "-m", "training", "export-onnx", str(copy_of)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    load_checkpoint(copy_of)
    assert not list(copy_of.glob(".*partial"))


def test_export_command_on_a_missing_folder_prints_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "training", "export-onnx", str(tmp_path / "nope")], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error:") and "Traceback" not in done.stderr


def test_add_onnx_files_is_idempotent(copy_of):
    before = (copy_of / DECODER_ONNX).read_bytes()
    add_onnx_files(copy_of)
    assert (copy_of / DECODER_ONNX).read_bytes() == before
