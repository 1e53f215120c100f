import json
import os
import pickle
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from training import checkpoint as ckpt
from training.checkpoint import load_checkpoint, recover_interrupted_save, save_checkpoint
from training.errors import UserError


@pytest.fixture
def copy_of(trained_checkpoint, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(trained_checkpoint, target)
    return target


def test_round_trip_gives_bit_exact_outputs(trained_checkpoint, tmp_path):
    first = load_checkpoint(trained_checkpoint)
    save_checkpoint(tmp_path / "again", first.model, first.config, first.metrics, first.atlas)
    second = load_checkpoint(tmp_path / "again")
    x = torch.rand(7, 1, 28, 28)
    with torch.inference_mode():
        assert torch.equal(first.model.encode(x).mean, second.model.encode(x).mean)
        z = torch.randn(7, first.config.model.z_dim)
        assert torch.equal(first.model.decode(z), second.model.decode(z))
    assert second.config == first.config and second.metrics == first.metrics


def test_checkpoint_folder_holds_the_documented_files(trained_checkpoint):
    names = {p.name for p in trained_checkpoint.iterdir()}
    assert {ckpt.WEIGHTS, ckpt.CONFIG, ckpt.METRICS, ckpt.ATLAS, ckpt.SAMPLES, ckpt.TRAIN_STATE} <= names
    loaded = load_checkpoint(trained_checkpoint)
    assert set(loaded.atlas) >= {"means", "stds", "labels", "pca", "tsne"}
    assert len(loaded.metrics["final"]["kl_per_dim"]) == loaded.config.model.z_dim
    assert not any(k.startswith("_orig_mod") for k in load_file(str(trained_checkpoint / ckpt.WEIGHTS)))


def test_a_save_killed_between_the_two_renames_keeps_the_previous_checkpoint(copy_of):
    previous = copy_of.with_name(f".{copy_of.name}.previous")
    os.replace(copy_of, previous)  # the state a kill leaves between "final → previous" and "partial → final"
    (copy_of.parent / f".{copy_of.name}.partial-abc").mkdir()
    loaded = load_checkpoint(copy_of)  # readers read the previous checkpoint and change nothing
    assert loaded.path == copy_of and previous.is_dir() and not copy_of.exists()
    recover_interrupted_save(copy_of)  # the next writer puts it back and drops the partial folder
    assert copy_of.is_dir() and not previous.exists()
    assert not list(copy_of.parent.glob(".copy.partial-*"))
    assert load_checkpoint(copy_of).config == loaded.config


def test_a_save_killed_while_removing_the_old_folder_does_not_block_the_next_save(copy_of):
    """A kill after "partial → final" but during the old folder's removal leaves a half-removed `.previous` beside a
    whole checkpoint; the next save used to fail on it (rename onto a non-empty folder: "Directory not empty")."""
    previous = copy_of.with_name(f".{copy_of.name}.previous")
    shutil.copytree(copy_of, previous)
    (previous / ckpt.WEIGHTS).unlink()  # half removed
    loaded = load_checkpoint(copy_of)
    save_checkpoint(copy_of, loaded.model, loaded.config, dict(loaded.metrics, note="after the kill"), loaded.atlas)
    assert load_checkpoint(copy_of).metrics["note"] == "after the kill" and not previous.exists()


def test_save_replaces_the_folder_and_leaves_no_temporary_files(copy_of):
    loaded = load_checkpoint(copy_of)
    metrics = dict(loaded.metrics, note="second save")
    save_checkpoint(copy_of, loaded.model, loaded.config, metrics, loaded.atlas)
    assert load_checkpoint(copy_of).metrics["note"] == "second save"
    assert sorted(p.name for p in copy_of.parent.iterdir()) == ["copy"]


def _rewrite_weights(folder, change):
    weights = load_file(str(folder / ckpt.WEIGHTS))
    change(weights)
    save_file(weights, str(folder / ckpt.WEIGHTS))


def _set(mapping, key, value):
    mapping[key] = value


BAD_CHECKPOINTS = {
    "truncated weights": (lambda f: (f / ckpt.WEIGHTS).write_bytes((f / ckpt.WEIGHTS).read_bytes()[:1000]),
                          r"model\.safetensors is not a readable safetensors file"),
    "pickle instead of safetensors": (lambda f: (f / ckpt.WEIGHTS).write_bytes(pickle.dumps({"a": 1})),
                                      r"model\.safetensors is not a readable safetensors file"),
    "config of another model": (lambda f: _edit_json(f / ckpt.CONFIG, lambda c: c["model"].update(z_dim=9)),
                                r"model\.safetensors: '.*' has shape .* config and weights come from different models"),
    "unknown config version": (lambda f: _edit_json(f / ckpt.CONFIG, lambda c: c.update(version=99)),
                               r"config\.json: invalid configuration \(unknown config version 99"),
    "config is not json": (lambda f: (f / ckpt.CONFIG).write_text("{not json"), r"config\.json is not valid JSON"),
    "missing atlas": (lambda f: (f / ckpt.ATLAS).unlink(), r"atlas\.safetensors is missing"),
    "missing metrics": (lambda f: (f / ckpt.METRICS).unlink(), r"metrics\.json is missing"),
    "wrong dtype": (lambda f: _rewrite_weights(f, lambda w: _set(w, "decoder.net.3.weight", w["decoder.net.3.weight"].double())),
                    r"'decoder\.net\.3\.weight' has dtype torch\.float64, expected torch\.float32"),
    "NaN weights": (lambda f: _rewrite_weights(f, lambda w: w["encoder.net.2.weight"].fill_(float("nan"))),
                    r"'encoder\.net\.2\.weight' contains NaN"),
    "missing tensor": (lambda f: _rewrite_weights(f, lambda w: w.pop("encoder.net.2.bias")), r"missing \['encoder\.net\.2\.bias'\]"),
    "atlas of another size": (lambda f: save_file({**load_file(str(f / ckpt.ATLAS)), "means": torch.zeros(3, 2)}, str(f / ckpt.ATLAS)),
                              r"atlas\.safetensors: 'means' has shape \(3, 2\)"),
}


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
def test_bad_checkpoints_get_one_clear_message_naming_the_file(copy_of, case):
    damage, message = BAD_CHECKPOINTS[case]
    damage(copy_of)
    with pytest.raises(UserError, match=message) as info:
        load_checkpoint(copy_of)
    assert str(copy_of) in str(info.value)


def test_missing_folder_and_file_instead_of_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        load_checkpoint(tmp_path / "file")


def test_a_config_asking_for_a_huge_model_is_refused_before_allocating(copy_of):
    import json

    config = json.loads((copy_of / ckpt.CONFIG).read_text())
    config["model"]["z_dim"] = 10**9
    (copy_of / ckpt.CONFIG).write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"config\.json: invalid configuration \(model\.z_dim is 1000000000; at most 1024"):
        load_checkpoint(copy_of)


def test_saving_through_a_symlink_writes_into_the_folder_it_points_to(copy_of):
    link = copy_of.with_name("link")
    link.symlink_to(copy_of, target_is_directory=True)
    loaded = load_checkpoint(link)
    save_checkpoint(link, loaded.model, loaded.config, dict(loaded.metrics, note="through the link"), loaded.atlas)
    assert link.is_symlink() and link.resolve() == copy_of  # the link is not swapped for a folder of its own
    assert load_checkpoint(copy_of).metrics["note"] == "through the link"
    assert sorted(p.name for p in copy_of.parent.iterdir()) == ["copy", "link"]
