"""The training timeline: its schedule, maps that move instead of jumping, a run's weights untouched by it, --resume
continuing it exactly, and a damaged or mismatched timeline refused with a sentence while the checkpoint opens."""
import json
from dataclasses import replace
import math
import shutil

import pytest
import torch

from explorer import checkpoint_library, test_sets
from explorer.app import page_views
from tests.conftest import QUIET, small_run
from training.config import RecordConfig
from training.checkpoint import load_checkpoint
from training.errors import UserError
from training.timeline import (TIMELINE_DECODERS, TIMELINE_JSON, TIMELINE_TENSORS, align, decoder_epochs, load_timeline,
                               snapshot_steps)
from training.train import train



def test_the_schedule_sees_the_first_epoch_and_every_epoch_end():
    assert snapshot_steps(59, 3) == [0, 5, 10, 20, 40, 59, 80, 118, 160, 177]
    assert snapshot_steps(1, 1) == [0, 1]
    assert decoder_epochs(30) == {1, 2, 4, 8, 16, 30} and decoder_epochs(1) == {1}


def test_a_turned_and_mirrored_map_is_aligned_back_onto_its_neighbour():
    previous = torch.randn(500, 2)
    angle = 2.0
    turn = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    mirrored = (previous @ turn) * torch.tensor([1.0, -1.0]) + 3.0  # rotated, reflected and shifted
    aligned = align(previous, mirrored)
    assert torch.allclose(aligned, previous - previous.mean(0), atol=1e-4)
    assert (mirrored - previous).norm(dim=1).median() > 1.0  # it had moved far before


@pytest.fixture(scope="module")
def runs(tmp_path_factory, train_split, test_split):
    """The same run three ways: with a timeline, without, and stopped after 2 epochs then resumed to 3."""
    root = tmp_path_factory.mktemp("timeline")
    train(small_run(epochs=3), train_split, test_split, root / "with", QUIET)
    train(small_run(epochs=3, record=RecordConfig(timeline=False)), train_split, test_split, root / "without", QUIET)
    train(small_run(epochs=2), train_split, test_split, root / "resumed", QUIET)
    train(small_run(epochs=3), train_split, test_split, root / "resumed", replace(QUIET, resume=True))
    return root


def test_the_timeline_does_not_change_the_run(runs):
    a, b = load_checkpoint(runs / "with").model.state_dict(), load_checkpoint(runs / "without").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (runs / "without" / TIMELINE_JSON).exists()


def test_a_run_records_its_snapshots_and_resume_continues_them_exactly(runs, test_split):
    steps_per_epoch = math.ceil(256 / 64)
    straight = load_timeline(runs / "with", 4, len(test_split.labels))
    assert [e["step"] for e in straight.entries] == snapshot_steps(steps_per_epoch, 3)
    assert straight.entries[0]["train"] is None and straight.entries[-1]["epoch"] == 3.0
    assert len(straight.labels) == len(test_split.labels)  # 120 test images: fewer than 200 per class, all of them
    assert [e["decoder"] for e in straight.entries].count(True) == len(decoder_epochs(3))
    resumed = load_timeline(runs / "resumed", 4, len(test_split.labels))
    assert [e["step"] for e in resumed.entries] == [e["step"] for e in straight.entries]
    for k in ("coords", "recon", "prior"):
        assert all(torch.equal(x, y) for x, y in zip(straight.tensors[k], resumed.tensors[k])), k


def test_the_loss_recorded_at_the_end_is_the_models_test_loss(runs, test_split):
    timeline = load_timeline(runs / "with", 4, len(test_split.labels))
    final = load_checkpoint(runs / "with").metrics["final"]["test"]
    last = timeline.entries[-1]["test"]
    assert abs(last["recon"] + last["kl"] - (final["recon"] + final["kl"])) < 0.05 * final["recon"]  # one z sample each


def damage(folder, how):
    if how == "truncated":
        data = (folder / TIMELINE_TENSORS).read_bytes()
        (folder / TIMELINE_TENSORS).write_bytes(data[: len(data) // 2])
    elif how == "other z_dim":
        raw = json.loads((folder / TIMELINE_JSON).read_text())
        raw["snapshots"][3]["kl_per_dim"] = [0.1] * 7
        (folder / TIMELINE_JSON).write_text(json.dumps(raw))
    elif how == "steps out of order":
        raw = json.loads((folder / TIMELINE_JSON).read_text())
        raw["snapshots"][1]["step"], raw["snapshots"][2]["step"] = raw["snapshots"][2]["step"], raw["snapshots"][1]["step"]
        (folder / TIMELINE_JSON).write_text(json.dumps(raw))
    elif how == "one file missing":
        (folder / TIMELINE_JSON).unlink()
    elif how == "foreign decoders":
        shutil.copy(folder / TIMELINE_TENSORS, folder / TIMELINE_DECODERS)


@pytest.mark.parametrize("how", ["truncated", "other z_dim", "steps out of order", "one file missing", "foreign decoders"])
def test_a_damaged_timeline_is_refused_and_the_checkpoint_still_opens(runs, tmp_path, test_split, how):
    folder = tmp_path / "damaged"
    shutil.copytree(runs / "with", folder)
    damage(folder, how)
    with pytest.raises(UserError, match="timeline is unusable .*the rest of the checkpoint opens"):
        load_timeline(folder, 4, len(test_split.labels))
    load_checkpoint(folder)  # the checkpoint itself is fine
    views = page_views(checkpoint_library.CheckpointLibrary(tmp_path), test_sets.TestSets.of(test_sets.TestImages(test_split)))
    assert "unusable" in views.ctx.timeline_problem("damaged")
    assert json.loads(views.runtime("damaged").split('data-config="')[1].split('"')[0].replace("&quot;", '"'))["timeline"] is None


def test_a_kept_decoder_runs_in_onnxruntime_as_the_model_did_then(runs, test_split):
    """The last snapshot's float16 decoder, in the checkpoint's own decoder graph, decodes as the final model does."""
    import numpy as np
    import onnxruntime

    from training.timeline import decoder_onnx

    folder = runs / "with"
    timeline = load_timeline(folder, 4, len(test_split.labels))
    last = len(timeline.entries) - 1
    session = onnxruntime.InferenceSession(decoder_onnx(folder / "decoder.onnx", timeline, last))
    z = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    model = load_checkpoint(folder).model
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(z)).numpy()
    got = session.run(None, {"z": z})[0]
    assert np.abs(got - expected).max() < 1e-2  # float16 weights: pixel probabilities within 1 %
    with pytest.raises(UserError, match="kept no decoder"):
        decoder_onnx(folder / "decoder.onnx", timeline, 0)  # the initial weights: no decoder kept
