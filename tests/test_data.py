import pytest
import torch

from tests.helpers import write_tiny_mnist
from training.data import load_mnist, shuffled_batches, to_model_input
from training.errors import UserError


def test_reads_mnist_through_torchvision_from_idx_files(tmp_path):
    root = write_tiny_mnist(tmp_path, n_train=64, n_test=32)
    train = load_mnist(root, train=True)
    test = load_mnist(root, train=False)
    assert train.images.shape == (64, 28, 28) and train.images.dtype == torch.uint8
    assert test.labels.shape == (32,) and test.labels.dtype == torch.int64
    assert train.images.max() == 255 and 0 <= int(train.labels.min()) <= int(train.labels.max()) <= 9


def test_missing_data_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(UserError, match=rf"not found under {tmp_path}.*--data-dir|not found under {tmp_path}.*--download"):
        load_mnist(tmp_path, train=True, download=False)


def test_truncated_idx_file_is_reported_as_corrupt(tmp_path):
    root = write_tiny_mnist(tmp_path)
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(UserError, match="corrupt"):
        load_mnist(root, train=True)


def test_model_input_is_float_in_unit_range_with_a_channel():
    x = to_model_input(torch.tensor([[[0, 255]]], dtype=torch.uint8))
    assert x.shape == (1, 1, 1, 2) and x.dtype == torch.float32
    assert x.flatten().tolist() == [0.0, 1.0]


def test_batches_cover_every_image_once_and_repeat_for_the_same_epoch():
    batches = list(shuffled_batches(100, 32, seed=3, epoch=1))
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    assert sorted(torch.cat(batches).tolist()) == list(range(100))
    again = torch.cat(list(shuffled_batches(100, 32, seed=3, epoch=1)))
    other_epoch = torch.cat(list(shuffled_batches(100, 32, seed=3, epoch=2)))
    assert torch.equal(torch.cat(batches), again) and not torch.equal(again, other_epoch)
