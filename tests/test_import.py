"""`python -m training import`: a model trained by the lab's own code becomes a checkpoint, exactly."""
import pickle
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from benchmarks.lab_loop import VAE as LabVAE, lab_step, make_lab
from explorer import inference
from tests.helpers import write_tiny_mnist
from training.__main__ import main
from training.checkpoint import load_checkpoint
from training.data import load_split, to_model_input
from training.errors import UserError
from training.importing import import_file

QUICK = ["--no-tsne", "--no-umap", "--no-scores", "--no-download"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_tiny_mnist(tmp_path_factory.mktemp("data"), n_train=256, n_test=48)


@pytest.fixture(scope="module")
def lab_model(data_dir):
    """The lab's model after one epoch of the lab's own loop (its classes, BCELoss, Adam 0.002) on 256 images."""
    torch.manual_seed(0)
    vae, opt = make_lab()
    train = load_split(data_dir, train=True)
    for batch in to_model_input(train.images, "cpu").split(64):
        lab_step(vae, opt, batch)
    return vae.eval()


@pytest.fixture(scope="module")
def saved_lab_model(lab_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("notebook") / "vae.pt"
    torch.save(lab_model.state_dict(), path)  # as a notebook user saves it
    return path


def test_a_lab_model_imports_exactly_and_opens_with_everything(saved_lab_model, lab_model, data_dir, tmp_path, capsys):
    out = tmp_path / "my-lab-vae"
    assert main(["import", str(saved_lab_model), "--out", str(out), "--data-dir", str(data_dir), "--no-umap",
                 "--no-download"]) == 0
    assert "lab layout, z_dim 32" in capsys.readouterr().out
    ck = load_checkpoint(out)  # the one validating loader: weights, config, atlas, ONNX graphs checked
    assert ck.config.imported_from["layout"] == "lab" and ck.config.imported_from["file"] == "vae.pt"
    assert len(ck.config.imported_from["sha256"]) == 64 and not ck.config.record.timeline
    assert not (out / "timeline.json").exists() and (out / "ood.json").is_file()
    assert {"pca", "tsne", "score_elbo", "score_nll"} <= set(ck.atlas) and "iwae" not in ck.metrics["final"]  # asked for
    test = load_split(data_dir, train=False)
    assert len(ck.atlas["labels"]) == len(test.images) and ck.metrics["history"] == []
    # the explorer's reconstructions are the lab model's own eval-mode outputs, from the posterior mean
    images = test.images.numpy()
    with torch.no_grad():
        mean, _ = lab_model.encode(to_model_input(test.images, "cpu"))
        expected = lab_model.decode(mean).numpy()[:, 0]
    with torch.no_grad():
        x = to_model_input(test.images, "cpu")
        ours = ck.model.decode(ck.model.encode(x).mean).numpy()[:, 0]
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    means, _ = inference.encode(ck.model, images)  # what the views encode with
    np.testing.assert_allclose(means, mean.numpy(), atol=1e-5)
    shown = inference.reconstruct(ck.model, images).astype(int)  # what the views show: grey levels
    assert np.abs(shown - np.round(expected * 255)).max() <= 1


def test_our_layout_and_safetensors_import_too(lab_model, data_dir, tmp_path):
    from benchmarks.lab_loop import to_project_state_dict

    path = tmp_path / "ours.safetensors"
    save_file({k: v.contiguous() for k, v in to_project_state_dict(lab_model.state_dict()).items()}, str(path))
    assert main(["import", str(path), "--out", str(tmp_path / "ours"), "--data-dir", str(data_dir), *QUICK]) == 0
    ck = load_checkpoint(tmp_path / "ours")
    assert ck.config.imported_from["layout"] == "project" and "tsne" not in ck.atlas
    # a model trained with MSE is measured with its own likelihood: each pixel a Gaussian of variance ½
    assert main(["import", str(path), "--out", str(tmp_path / "mse"), "--recon", "mse", "--data-dir", str(data_dir),
                 *QUICK]) == 0
    mse = load_checkpoint(tmp_path / "mse")
    assert mse.config.train.reconstruction == "mse" and ck.config.train.reconstruction == "bce"
    x = to_model_input(load_split(data_dir, train=False).images, "cpu")
    with torch.no_grad():
        mean = torch.sigmoid(mse.model.decoder.logits(mse.model.encode(x).mean))
    gaussian = -torch.distributions.Normal(mean, 0.5 ** 0.5).log_prob(x).flatten(1).sum(1)
    recon = mse.metrics["final"]["test"]["recon"]  # one sampled z per image: within a nat or two of the mean's
    assert abs(recon - float(gaussian.mean())) < 0.05 * abs(float(gaussian.mean())) + 5
    assert abs(recon - ck.metrics["final"]["test"]["recon"]) > 50  # not BCE's number
    wrapped = tmp_path / "wrapped.pt"  # torch.compile's prefix inside a {"state_dict": …} dictionary
    torch.save({"state_dict": {f"_orig_mod.{k}": v for k, v in lab_model.state_dict().items()}}, wrapped)
    assert import_file(wrapped).model.z_dim == 32


def test_other_sizes_are_read_from_the_shapes(tmp_path):
    vae = LabVAE(z_dim=2)
    torch.save(vae.state_dict(), tmp_path / "z2.pt")
    assert import_file(tmp_path / "z2.pt").model.z_dim == 2


def refusal(path, tmp_path, data_dir, capsys) -> str:
    out = tmp_path / "refused"
    assert main(["import", str(path), "--out", str(out), "--data-dir", str(data_dir), *QUICK]) == 2
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".refused")]
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_bad_files_are_refused_in_one_sentence_with_nothing_written(lab_model, data_dir, tmp_path, capsys):
    state = lab_model.state_dict()
    whole = tmp_path / "whole.pt"
    torch.save(lab_model, whole)  # the whole module: unpickling it would run code
    assert "not a state dict that can be read safely" in refusal(whole, tmp_path, data_dir, capsys)

    class Sneaky:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    sneaky = tmp_path / "sneaky.pt"
    sneaky.write_bytes(pickle.dumps({"encode.disc.0.0.weight": Sneaky()}))
    assert "not a state dict" in refusal(sneaky, tmp_path, data_dir, capsys)
    assert "pickled code ran" not in capsys.readouterr().out

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a model" * 100)
    assert "not a state dict" in refusal(garbage, tmp_path, data_dir, capsys)

    bomb = tmp_path / "bomb.pt"  # 200 MB of zeros deflated into a few hundred KB: never unpacked
    torch.save({"encode.disc.0.0.weight": torch.zeros(50_000_000)}, tmp_path / "big.pt")
    with zipfile.ZipFile(tmp_path / "big.pt") as stored, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as packed:
        for entry in stored.infolist():
            packed.writestr(entry.filename, stored.read(entry))
    (tmp_path / "big.pt").unlink()
    assert bomb.stat().st_size < 2**20 and "has compressed entries" in refusal(bomb, tmp_path, data_dir, capsys)

    missing = tmp_path / "missing.pt"
    torch.save({k: v for k, v in state.items() if not k.startswith("decode.gen.2.1.")}, missing)
    assert "lacks 'decoder.net.2.1.weight'" in refusal(missing, tmp_path, data_dir, capsys)

    extra = tmp_path / "extra.pt"
    torch.save({**state, "decode.head.weight": torch.zeros(3)}, extra)
    assert "'decode.head.weight' is not a parameter" in refusal(extra, tmp_path, data_dir, capsys)

    other = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(3, 3)}, other)
    assert "its first key is 'fc.weight'" in refusal(other, tmp_path, data_dir, capsys)

    reshaped = tmp_path / "reshaped.pt"
    torch.save({**state, "decode.gen.1.0.weight": torch.zeros(256, 128, 3, 3)}, reshaped)
    assert "'decoder.net.1.0.weight' has shape (256, 128, 3, 3)" in refusal(reshaped, tmp_path, data_dir, capsys)

    nan = tmp_path / "nan.pt"
    torch.save({**state, "encode.disc.1.0.bias": torch.full((32,), float("nan"))}, nan)
    assert "NaN or infinite" in refusal(nan, tmp_path, data_dir, capsys)

    huge = tmp_path / "huge.pt"  # declares a z_dim past the limit: refused from the shapes, nothing allocated
    torch.save({"encode.disc.0.0.weight": torch.zeros(16, 1, 4, 4), "encode.disc.2.weight": torch.zeros(4096, 1, 1, 1),
                "decode.gen.0.0.weight": torch.zeros(2048, 4, 1, 1)}, huge)
    assert "beyond the supported sizes" in refusal(huge, tmp_path, data_dir, capsys)

    assert "is not a file" in refusal(tmp_path / "nowhere.pt", tmp_path, data_dir, capsys)
    with pytest.raises(UserError, match="not a state dict"):
        import_file(garbage)


@pytest.mark.parametrize("name", ["", ".", "../elsewhere", "a/b", "My VAE"])
def test_explore_refuses_a_name_that_is_not_a_plain_folder_name_before_anything(lab_model, name, tmp_path):
    from explorer import explore

    with pytest.raises(UserError, match="name= must be"):
        explore(lab_model, name=name, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []
