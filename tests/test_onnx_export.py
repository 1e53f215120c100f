"""encoder.onnx / decoder.onnx: written with every save, equal to torch, refused when missing, damaged or stale."""
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from safetensors.torch import load_file, save_file

from training.__main__ import main as training_main
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


@pytest.fixture
def exports(trained_checkpoint, onnx_template_cache, monkeypatch):
    """The graph export (2–3 s a graph) answered with the graph a real export of this architecture put into the
    session's cache (when trained_checkpoint was trained; test_a_new_run_reuses… checks that cache against a fresh
    export): what a test then sees is which graphs were exported anew, in order."""
    cfg = load_checkpoint(trained_checkpoint).config.model
    pristine = {input_name: (onnx_template_cache / "onnx-templates" / onnx_export._template_path(cfg, name).name).read_bytes()
                for name, (_, input_name, _) in onnx_export.GRAPHS.items()}
    exported = []

    def export_graph(module, example, input_name, output_names):
        exported.append(input_name)
        return onnx.load_from_string(pristine[input_name])

    monkeypatch.setattr(onnx_export, "_export_graph", export_graph)
    return exported


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
def test_a_damaged_cached_graph_is_exported_anew(trained_checkpoint, onnx_template_cache, monkeypatch, tmp_path, damage,
                                                 exports):
    shutil.copytree(onnx_template_cache, tmp_path, dirs_exist_ok=True)  # the first export is a cache hit
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    model = load_checkpoint(trained_checkpoint).model
    first = OnnxExporter().export(model)
    assert exports == []
    decoder, encoder = (onnx_export._template_path(model.cfg, name) for name in (DECODER_ONNX, ENCODER_ONNX))
    decoder.write_bytes({"garbage": b"\x08\x07junk" * 100, "other graph": encoder.read_bytes(), "empty": b""}[damage])
    assert OnnxExporter().export(model) == first
    assert exports == ["z"]  # the decoder's graph, and only it, was exported anew
    assert decoder.read_bytes() != b"" and onnx_export._cached_template(decoder, "decoder", {
        k: v.numpy() for k, v in onnx_export.inference_copy(model).state_dict().items()}) is not None


def test_a_cached_graph_that_computes_something_else_is_not_used(trained_checkpoint, onnx_template_cache, monkeypatch,
                                                                tmp_path, exports):
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
    assert exports == ["z"]  # exported anew, not taken from the cache


def test_an_unwritable_cache_only_costs_the_export(trained_checkpoint, monkeypatch, tmp_path, exports):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(blocker))
    model = load_checkpoint(trained_checkpoint).model
    files = OnnxExporter().export(model)
    assert exports == ["image", "z"] and set(files) == {ENCODER_ONNX, DECODER_ONNX}  # both exported, neither stored
    assert files == {name: (trained_checkpoint / name).read_bytes() for name in files}


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


def test_export_command_repairs_a_stale_folder(copy_of, capsys):
    (copy_of / ENCODER_ONNX).write_bytes(b"junk")
    (copy_of / DECODER_ONNX).unlink()
    assert training_main(["export-onnx", str(copy_of)]) == 0, capsys.readouterr().err  # `python -m training export-onnx`
    assert f"wrote and checked {copy_of}/encoder.onnx" in capsys.readouterr().out
    load_checkpoint(copy_of)
    assert not list(copy_of.glob(".*partial"))


def test_export_command_on_a_missing_folder_prints_one_line(tmp_path, capsys):
    assert training_main(["export-onnx", str(tmp_path / "nope")]) == 2  # raised nothing: no traceback
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err


def test_add_onnx_files_is_idempotent(copy_of):
    before = (copy_of / DECODER_ONNX).read_bytes()
    add_onnx_files(copy_of)
    assert (copy_of / DECODER_ONNX).read_bytes() == before


# ----------------------------------------------------------------------------- tensor data in another file
# A tensor may say that its bytes are in another file (data_location = EXTERNAL), which onnxruntime then opens. Ours
# never are, wherever in the model the tensor sits. onnx's checker alone lets one through when the file it names
# exists: these name the checkpoint's own config.json, run from inside the folder.

def _external_tensor(name: str = "secret", dtype: int = onnx.TensorProto.FLOAT):
    tensor = onnx.TensorProto(name=name, data_type=dtype, dims=[1])
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="config.json")
    return tensor


def _fine(name: str = "fine"):
    return onnx.helper.make_tensor(name, onnx.TensorProto.FLOAT, [1], [1.0])


def _sparse(values_outside: bool = False, indices_outside: bool = False):
    values = _external_tensor("v") if values_outside else onnx.helper.make_tensor("v", onnx.TensorProto.FLOAT, [1], [1.0])
    indices = _external_tensor("i", onnx.TensorProto.INT64) if indices_outside else onnx.helper.make_tensor("i", onnx.TensorProto.INT64, [1], [0])
    return onnx.helper.make_sparse_tensor(values, indices, [4])


def _node(op: str = "Constant", inputs=(), output: str = "c", **attributes):
    domain = "" if op in ("Constant", "If", "Identity") else "local"  # a custom op: the checker has no schema for it
    return onnx.helper.make_node(op, list(inputs), [output], domain=domain, **attributes)


def _branch(nodes=(), initializer=()):
    """A subgraph with no inputs and one output, c."""
    out = onnx.helper.make_tensor_value_info("c", onnx.TensorProto.FLOAT, [1])
    return onnx.helper.make_graph(list(nodes) or [_node(value=_fine())], "branch", [], [out], initializer=list(initializer))


def _if(branch, cond: str = "cond"):
    flag = _node(output=cond, value=onnx.helper.make_tensor("b", onnx.TensorProto.BOOL, [], [True]))
    return [flag, _node("If", [cond], then_branch=branch, else_branch=_branch())]


def _model(nodes=(), initializer=(), sparse_initializer=(), functions=()):
    """An encoder-shaped model (image → mean, std) that also carries `nodes`, initializers and functions."""
    image = onnx.helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["batch", 1, 28, 28])
    outputs = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["batch", 1, 28, 28]) for n in ("mean", "std")]
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["image"], [n]) for n in ("mean", "std")] + list(nodes), "encoder", [image],
        outputs, initializer=list(initializer), sparse_initializer=list(sparse_initializer))
    opsets = [onnx.helper.make_opsetid("", 18), onnx.helper.make_opsetid("local", 1)]
    return onnx.helper.make_model(graph, functions=list(functions), opset_imports=opsets)


OUTSIDE = {
    "initializer": lambda: _model(initializer=[_external_tensor()]),
    "sparse initializer's values": lambda: _model(sparse_initializer=[_sparse(values_outside=True)]),
    "sparse initializer's indices": lambda: _model(sparse_initializer=[_sparse(indices_outside=True)]),
    "a Constant's value": lambda: _model([_node(value=_external_tensor())]),
    "a list of tensors": lambda: _model([_node("Custom", values=[_fine(), _external_tensor()])]),
    "a sparse Constant": lambda: _model([_node(sparse_value=_sparse(values_outside=True))]),
    "a list of sparse tensors": lambda: _model([_node("Custom", sparse=[_sparse(), _sparse(indices_outside=True)])]),
    "an If branch's initializer": lambda: _model(_if(_branch([_node("Identity", ["secret"])], [_external_tensor()]))),
    "a Constant in an If in an If": lambda: _model(_if(_branch(_if(_branch([_node(value=_external_tensor())]), "inner")))),
    "a list of graphs": lambda: _model([_node("Custom", bodies=[_branch(), _branch([_node(value=_external_tensor())])])]),
    "a function's Constant": lambda: _model(functions=[onnx.helper.make_function(
        "local", "f", [], ["c"], [_node(value=_external_tensor())], [onnx.helper.make_opsetid("", 18)])]),
}


@pytest.mark.parametrize("where", OUTSIDE)
def test_a_model_with_tensor_data_in_another_file_is_refused_wherever_it_sits(copy_of, monkeypatch, where):
    monkeypatch.chdir(copy_of)
    (copy_of / ENCODER_ONNX).write_bytes(OUTSIDE[where]().SerializeToString())
    with pytest.raises(UserError, match=r"encoder\.onnx is not a readable ONNX model .*\(tensor data in an external file\)"):
        load_checkpoint(copy_of)


def test_the_walk_finds_exactly_the_one_outside_tensor_where_onnx_checker_finds_none(copy_of, monkeypatch):
    monkeypatch.chdir(copy_of)
    for where, build in OUTSIDE.items():
        assert sum(onnx_export._is_external(t) for t in onnx_export._all_tensors(build())) == 1, where
    for where in ("a Constant's value", "an If branch's initializer", "a function's Constant"):
        onnx.checker.check_model(OUTSIDE[where]())  # passes: why the loader walks the model itself


def test_a_run_trained_with_the_fast_kernel_exports_the_plain_transposed_convolutions(trained_checkpoint):
    """The trainer swaps the GEMM deconvolution into its model (training/deconv.py); the browser's graph still holds
    four standard ConvTranspose nodes and nothing outside ONNX's own operator set."""
    assert load_checkpoint(trained_checkpoint).config.train.gemm_deconv
    graph = onnx.load(str(trained_checkpoint / DECODER_ONNX)).graph
    assert sum(node.op_type == "ConvTranspose" for node in graph.node) == 4
    assert all(node.domain in ("", "ai.onnx") for node in graph.node)
