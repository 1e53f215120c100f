import numpy as np
import pytest
import torch

from explorer import inference, checkpoint_library, atlas_maps, test_sets
from training.checkpoint import load_checkpoint
from training.errors import UserError


@pytest.fixture(scope="module")
def ck(trained_checkpoint):
    return load_checkpoint(trained_checkpoint)


def test_encode_and_decode_shapes(ck, test_split):
    images = test_split.images[:5].numpy()
    means, stds = inference.encode(ck.model, images)
    assert means.shape == stds.shape == (5, ck.config.model.z_dim)
    decoded = inference.decode(ck.model, means)
    assert decoded.shape == (5, 28, 28) and decoded.dtype == np.uint8
    assert np.array_equal(inference.reconstruct(ck.model, images), decoded)


def test_encoding_matches_the_atlas_written_at_training_time(ck, test_split):
    means, _ = inference.encode(ck.model, test_split.images[:10].numpy())
    assert np.allclose(means, ck.atlas["means"][:10].numpy(), atol=1e-5)


def test_samples_differ_from_the_mean_decoding_and_from_each_other(ck, test_split):
    mean_img, samples, stds = inference.posterior_samples(ck.model, test_split.images[0].numpy(), n=4, seed=1)
    assert samples.shape == (4, 28, 28) and stds.shape == (ck.config.model.z_dim,)
    assert not np.array_equal(samples[0], samples[1])
    again = inference.posterior_samples(ck.model, test_split.images[0].numpy(), n=4, seed=1)[1]
    assert np.array_equal(samples, again)


def test_interpolation_starts_and_ends_at_the_two_reconstructions(ck, test_split):
    a, b = test_split.images[0].numpy(), test_split.images[1].numpy()
    strip = inference.interpolate(ck.model, a, b, steps=5)
    assert strip.shape == (5, 28, 28)
    ends = inference.reconstruct(ck.model, np.stack([a, b]))
    assert np.abs(strip[0].astype(int) - ends[0]).max() <= 1 and np.abs(strip[-1].astype(int) - ends[1]).max() <= 1


def test_prior_samples_are_seeded(ck):
    assert np.array_equal(inference.prior_samples(ck.model, 3, seed=4), inference.prior_samples(ck.model, 3, seed=4))
    assert not np.array_equal(inference.prior_samples(ck.model, 3, seed=4), inference.prior_samples(ck.model, 3, seed=5))


def test_a_known_encoding_lands_on_its_own_map_point(ck):
    mean = ck.atlas["means"][7].numpy()
    assert np.allclose(atlas_maps.place_on_map(ck.atlas, mean, "PCA"), ck.atlas["pca"][7].numpy(), atol=1e-4)
    rng = np.random.default_rng(0)
    atlas = {"means": torch.from_numpy(rng.normal(size=(50, 4))), "tsne": torch.from_numpy(rng.normal(size=(50, 2)) * 30)}
    assert np.allclose(atlas_maps.place_on_map(atlas, atlas["means"][7].numpy(), "t-SNE"), atlas["tsne"][7].numpy(), atol=0.01)
    between = atlas_maps.place_on_map(atlas, (atlas["means"][7].numpy() + atlas["means"][8].numpy()) / 2, "t-SNE")
    lo, hi = atlas["tsne"].numpy().min(0), atlas["tsne"].numpy().max(0)
    assert ((between >= lo) & (between <= hi)).all()


def test_map_methods_and_missing_tsne(ck):
    assert atlas_maps.map_methods(ck.atlas) == ["t-SNE", "PCA"]
    without = {k: v for k, v in ck.atlas.items() if k != "tsne"}
    assert atlas_maps.map_methods(without) == ["PCA"]
    with pytest.raises(UserError, match="no t-SNE map"):
        atlas_maps.map_coordinates(without, "t-SNE")


@pytest.mark.parametrize("raw, expected", [("5", 5), ("5:1712345", 5), (" 0 ", 0), (7, 7), (3.0, 3)])
def test_map_click_index_parsing(raw, expected):
    assert atlas_maps.parse_point_index(raw, 10) == expected


@pytest.mark.parametrize("raw", ["x", "10", "-1", "", None, float("nan"), 1e308, 2.5, True, "9" * 40])
def test_bad_map_clicks_are_rejected(raw):
    with pytest.raises(UserError, match="does not exist: pick 0–9"):
        atlas_maps.parse_point_index(raw, 10)


def test_each_data_set_gets_its_own_test_images_read_once(tmp_path):
    from tests.helpers import write_tiny_mnist

    write_tiny_mnist(tmp_path, n_test=20, folder="FashionMNIST")
    sets = test_sets.TestSets(tmp_path, download=False)
    fashion = sets.get("fashion-mnist")
    assert fashion.split is not None and len(fashion.split.labels) == 20 and sets.get("Fashion-MNIST") is fashion
    assert sets.get("mnist").split is None and "MNIST test set not found" in sets.get("mnist").message
    assert "not one the explorer knows" in sets.get("synthetic-blobs").message


def test_a_two_dimensional_latent_is_its_own_map():
    atlas = {"means": torch.tensor([[0.5, -1.0], [2.0, 0.0]]), "pca": torch.zeros(2, 2), "pca_components": torch.eye(2),
             "pca_center": torch.zeros(2)}
    assert atlas_maps.map_methods(atlas) == [atlas_maps.LATENT_PLANE, "PCA"]
    assert atlas_maps.map_coordinates(atlas, atlas_maps.LATENT_PLANE).tolist() == [[0.5, -1.0], [2.0, 0.0]]
    assert atlas_maps.place_on_map(atlas, np.array([1.5, 2.5]), atlas_maps.LATENT_PLANE).tolist() == [1.5, 2.5]
    wide = {**atlas, "means": torch.zeros(2, 3)}
    assert atlas_maps.LATENT_PLANE not in atlas_maps.map_methods(wide)


def test_library_lists_loads_once_and_explains_unknown_names(trained_checkpoint):
    library = checkpoint_library.CheckpointLibrary(trained_checkpoint.parent)
    assert library.names() == [trained_checkpoint.name]
    first = library.get(trained_checkpoint.name)
    assert library.get(trained_checkpoint.name) is first
    with pytest.raises(UserError, match="No checkpoint named 'nope'"):
        library.get("nope")


def test_missing_test_images_leave_a_message(tmp_path):
    images = test_sets.TestImages.load(tmp_path, download=False)
    assert images.split is None and "not found" in images.message
    with pytest.raises(UserError, match="not found"):
        images.require()


def test_pick_draws_only_the_requested_digit(test_split):
    images = test_sets.TestImages(test_split)
    labels = test_split.labels.numpy()
    picked = images.pick(labels, "3", 4, seed=0)
    assert (labels[picked] == 3).all() and len(set(picked)) == len(picked)
