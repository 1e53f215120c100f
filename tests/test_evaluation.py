import json
import shutil

import numpy as np
import pytest

from training.__main__ import main
from training.checkpoint import load_checkpoint
from training.evaluation import active_units, dimensions_by_information, iwae_on_subset, mean_variance_per_dim


def test_active_units_are_the_dimensions_whose_mean_varies_over_the_data_by_more_than_0_01():
    rng = np.random.default_rng(0)
    spreads = np.array([0.0, 0.05, 0.2, 1.0])  # variances 0, 0.0025, 0.04, 1
    means = rng.standard_normal((20_000, 4)) * spreads + np.array([3.0, -1.0, 0.0, 0.5])  # offsets do not count
    assert mean_variance_per_dim(means) == pytest.approx(spreads**2, abs=3e-3)
    assert active_units(means).tolist() == [False, False, True, True]


def test_display_order_puts_active_dimensions_first_by_decreasing_kl():
    kl = [0.5, 3.0, 0.001, 2.0, 3.0]
    active = [True, True, False, False, True]
    assert dimensions_by_information(kl, active) == [1, 4, 0, 3, 2]


def test_more_importance_samples_give_a_tighter_bound(trained_checkpoint, test_split):
    model = load_checkpoint(trained_checkpoint).model
    one = iwae_on_subset(model, test_split, k=1, n_images=120)["nll"]
    many = iwae_on_subset(model, test_split, k=200, n_images=120)["nll"]
    assert many < one


def test_evaluate_command_rewrites_only_the_metrics(trained_checkpoint, tmp_path, monkeypatch, capsys):
    import training.train as train_module
    from tests.helpers import synthetic_digits

    folder = shutil.copytree(trained_checkpoint, tmp_path / "ck")
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["final"] = {"test": {}, "active_dims": 3, "inactive_kl_nats": 0.01, "train_seconds": 12.5}  # an older file
    (folder / "metrics.json").write_text(json.dumps(metrics))
    weights = (folder / "model.safetensors").read_bytes()
    monkeypatch.setattr(train_module, "load_split", lambda *a, **k: synthetic_digits(120, seed=2), raising=False)
    monkeypatch.setattr("training.data.load_split", lambda *a, **k: synthetic_digits(120, seed=2))
    assert main(["evaluate", str(folder), "--no-iwae"]) == 0
    final = json.loads((folder / "metrics.json").read_text())["final"]
    atlas_means = load_checkpoint(folder).atlas["means"]
    assert final["active_units"] == int(active_units(atlas_means).sum()) and "active_dims" not in final
    assert final["train_seconds"] == 12.5 and len(final["kl_per_dim"]) == atlas_means.shape[1]
    assert (folder / "model.safetensors").read_bytes() == weights
    assert "active units" in capsys.readouterr().out
