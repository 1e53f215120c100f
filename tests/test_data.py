import pytest
import torch

from tests.helpers import write_tiny_mnist
from training.data import load_split, shuffled_batches, to_model_input, to_uint8
from training.datasets import DATASETS, class_names, dataset_info
from training.errors import UserError


def test_reads_mnist_through_torchvision_from_idx_files(tmp_path):
    root = write_tiny_mnist(tmp_path, n_train=64, n_test=32)
    train = load_split(root, train=True)
    test = load_split(root, train=False)
    assert train.images.shape == (64, 28, 28) and train.images.dtype == torch.uint8
    assert test.labels.shape == (32,) and test.labels.dtype == torch.int64
    assert train.images.max() == 255 and 0 <= int(train.labels.min()) <= int(train.labels.max()) <= 9


def test_missing_data_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(UserError, match=rf"not found under {tmp_path}.*--data-dir|not found under {tmp_path}.*--download"):
        load_split(tmp_path, train=True, download=False)


def test_truncated_idx_file_is_reported_as_corrupt(tmp_path):
    root = write_tiny_mnist(tmp_path)
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(UserError, match="corrupt"):
        load_split(root, train=True)


def test_model_input_is_float_in_unit_range_with_a_channel():
    x = to_model_input(torch.tensor([[[0, 255]]], dtype=torch.uint8))
    assert x.shape == (1, 1, 1, 2) and x.dtype == torch.float32
    assert x.flatten().tolist() == [0.0, 1.0]


def test_uint8_images_are_the_way_back_from_model_input_rounded_and_clipped():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    assert torch.equal(to_uint8(to_model_input(images)), images)
    out_of_range = torch.tensor([-0.5, 0.0, 0.4 / 255, 0.6 / 255, 1.0, 1.5]).repeat(131)[:784].reshape(1, 1, 28, 28)
    assert to_uint8(out_of_range).flatten()[:6].tolist() == [0, 0, 0, 1, 255, 255]


def test_batches_cover_every_image_once_and_repeat_for_the_same_epoch():
    batches = list(shuffled_batches(100, 32, seed=3, epoch=1))
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    assert sorted(torch.cat(batches).tolist()) == list(range(100))
    again = torch.cat(list(shuffled_batches(100, 32, seed=3, epoch=1)))
    other_epoch = torch.cat(list(shuffled_batches(100, 32, seed=3, epoch=2)))
    assert torch.equal(torch.cat(batches), again) and not torch.equal(again, other_epoch)


@pytest.mark.parametrize("key", ["mnist", "fashion-mnist", "kmnist"])
def test_each_data_set_reads_through_its_torchvision_class_and_folder(tmp_path, key):
    info = DATASETS[key]
    root = write_tiny_mnist(tmp_path, n_train=40, n_test=20, folder=info.torchvision_class)
    split = load_split(root, train=False, dataset=key)
    assert split.images.shape == (20, 28, 28) and len(split.labels) == 20
    other = next(k for k in DATASETS if k != key)
    with pytest.raises(UserError, match=rf"{DATASETS[other].title} test set not found.*{DATASETS[other].torchvision_class}/raw"):
        load_split(root, train=False, download=False, dataset=other)


def test_data_sets_are_named_by_key_or_title_and_carry_their_class_names():
    assert dataset_info("FashionMNIST") is dataset_info("Fashion-MNIST") is DATASETS["fashion-mnist"]
    assert dataset_info("MNIST").class_names[3] == "3"
    assert DATASETS["fashion-mnist"].class_names[9] == "Ankle boot"
    with pytest.raises(UserError, match="Unknown data set 'cifar10'"):
        dataset_info("cifar10")


def test_class_names_come_from_the_config_then_the_data_set_then_the_digits():
    fashion = list(DATASETS["fashion-mnist"].class_names)
    assert class_names({"dataset": "fashion-mnist"}) == fashion
    assert class_names({"dataset": "MNIST"}) == [str(d) for d in range(10)]
    assert class_names({"dataset": "synthetic"}) == [str(d) for d in range(10)]
    assert class_names({"class_names": ["a"] * 10}) == ["a"] * 10
    assert class_names({"dataset": "kmnist", "class_names": ["x" * 500] * 10}) == list(DATASETS["kmnist"].class_names)
    assert class_names("junk") == [str(d) for d in range(10)]


def test_idx_files_read_directly_equal_what_torchvision_reads(tmp_path):
    from torchvision import datasets

    root = write_tiny_mnist(tmp_path, n_train=40, n_test=20)
    ours = load_split(root, train=False)
    theirs = datasets.MNIST(str(root), train=False, download=False)
    assert torch.equal(ours.images, theirs.data) and torch.equal(ours.labels, theirs.targets)
