import numpy as np
import pytest

from explorer import latent_views
from explorer.compare import checked_selection, group_by_dataset, one_per_class, separation_note
from training.errors import UserError


def test_dimensions_are_shown_active_first_by_kl_with_activity_from_the_means():
    rng = np.random.default_rng(0)
    means = rng.standard_normal((500, 4)) * np.array([1.0, 0.01, 0.5, 2.0])  # dim 1 hardly moves: inactive
    metrics = {"final": {"kl_per_dim": [0.9, 0.0005, 1.7, 0.3]}}
    dims = latent_views.latent_dimensions(metrics, means)
    assert dims.active == [True, False, True, True]
    assert dims.order == [2, 0, 3, 1] and dims.informative == [2, 0, 3]


def test_traversal_rows_sweep_one_dimension_each_from_minus_3_to_3():
    base = np.array([0.5, -0.25, 1.0], dtype=np.float32)
    values = latent_views.traversal_values(5)
    assert values.tolist() == [-3.0, -1.5, 0.0, 1.5, 3.0]
    codes = latent_views.traversal_codes(base, [2, 0], values)
    assert codes.shape == (10, 3)
    assert codes[:5, 2].tolist() == values.tolist() and (codes[:5, :2] == base[:2]).all()  # row 0 sweeps z2
    assert codes[5:, 0].tolist() == values.tolist() and (codes[5:, 1:] == base[1:]).all()  # row 1 sweeps z0
    with pytest.raises(UserError, match="1–16 rows"):
        latent_views.traversal_codes(base, list(range(17)), values)
    with pytest.raises(UserError, match="Latent dimensions must be 0–2"):
        latent_views.traversal_codes(base, [3], values)
    with pytest.raises(UserError, match="2–15 columns"):
        latent_views.traversal_values(10**6)


def test_the_manifold_grid_covers_the_latent_square_top_row_up_and_only_for_a_2d_latent():
    codes = latent_views.manifold_codes(2, size=20)
    assert codes.shape == (400, 2)
    assert codes[0].tolist() == [-3.0, 3.0] and codes[19].tolist() == [3.0, 3.0] and codes[-1].tolist() == [3.0, -3.0]
    with pytest.raises(UserError, match="needs a 2-D latent; this checkpoint's has 32"):
        latent_views.manifold_codes(32)


class _Ck:
    def __init__(self, dataset):
        self.config = type("C", (), {"data": {"dataset": dataset}})()


def test_compare_needs_two_to_four_known_checkpoints_and_separates_data_sets():
    available = ["default", "mnist-beta4", "fashion-mnist", "mnist-z2", "other"]
    assert checked_selection(["default", "mnist-beta4", "default"], available) == ["default", "mnist-beta4"]
    for bad, message in ((["default"], "Pick 2–4"), (available, "Pick 2–4"), (["default", "<script>"], "Unknown checkpoint"),
                         ("default", "Pick the checkpoints"), ([1, 2], "Pick the checkpoints")):
        with pytest.raises(UserError, match=message):
            checked_selection(bad, available)
    groups = group_by_dataset({"default": _Ck("mnist"), "fashion-mnist": _Ck("fashion-mnist"), "mnist-beta4": _Ck("MNIST")})
    assert [(g.dataset, g.names) for g in groups] == [("MNIST", ["default", "mnist-beta4"]), ("Fashion-MNIST", ["fashion-mnist"])]
    assert "different data sets" in separation_note(groups) and separation_note(groups[:1]) == ""


def test_compare_shows_the_first_test_image_of_each_class():
    assert one_per_class(np.array([3, 1, 1, 0, 2, 3]), n_classes=4) == [3, 1, 4, 0]
