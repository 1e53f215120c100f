import json
from dataclasses import replace

import pytest
import torch

from tests.conftest import QUIET, small_run
from tests.helpers import write_tiny_mnist
from training.__main__ import main
from training.config import FinishConfig, RecordConfig, RunConfig
from training.checkpoint import load_checkpoint
from training.data import load_split
from training.errors import UserError
from training.run_state import run_state
from training import train as train_module
from training.train import evaluate, train



def test_loss_decreases_on_a_small_synthetic_set(train_split, test_split, tmp_path):
    run = small_run(epochs=4)
    metrics = train(run, train_split, test_split, tmp_path / "ck", QUIET)
    totals = [h["test"]["total"] for h in metrics["history"]]
    assert len(totals) == 4
    assert totals[-1] < 0.8 * totals[0]
    assert metrics["final"]["test"]["total"] == pytest.approx(metrics["final"]["test"]["recon"] + metrics["final"]["test"]["kl"])


@pytest.mark.parametrize("channels_last", [False, True])
def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(train_split, test_split, tmp_path, channels_last):
    train(small_run(epochs=3, channels_last=channels_last), train_split, test_split, tmp_path / "straight", QUIET)
    train(small_run(epochs=1, channels_last=channels_last), train_split, test_split, tmp_path / "resumed", QUIET)
    train(small_run(epochs=3, channels_last=channels_last), train_split, test_split, tmp_path / "resumed", replace(QUIET, resume=True))
    straight, resumed = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "resumed")
    assert [h["epoch"] for h in resumed.metrics["history"]] == [1, 2, 3]
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name


def test_an_existing_checkpoint_is_not_overwritten_without_asking(train_split, test_split, trained_checkpoint):
    before = (trained_checkpoint / "model.safetensors").read_bytes()
    with pytest.raises(UserError, match="already holds a checkpoint: pass --resume"):
        train(small_run(), train_split, test_split, trained_checkpoint, QUIET)
    assert (trained_checkpoint / "model.safetensors").read_bytes() == before


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(train_split, test_split, tmp_path, monkeypatch):
    out = tmp_path / "ck"
    train(small_run(epochs=1), train_split, test_split, out, QUIET)
    good = (out / "model.safetensors").read_bytes()

    def diverging_loss(*args):
        terms = train_module.forward_loss_unpatched(*args)
        return terms._replace(total=terms.total * float("nan"))

    monkeypatch.setattr(train_module, "forward_loss_unpatched", train_module.forward_loss, raising=False)
    monkeypatch.setattr(train_module, "forward_loss", diverging_loss)
    with pytest.raises(UserError, match=r"loss became nan in epoch 2.*last saved checkpoint was kept"):
        train(small_run(epochs=2), train_split, test_split, out, replace(QUIET, resume=True))
    assert (out / "model.safetensors").read_bytes() == good
    assert len(load_checkpoint(out).metrics["history"]) == 1


def test_evaluate_reports_kl_per_dimension(trained_checkpoint, test_split):
    loaded = load_checkpoint(trained_checkpoint)
    result = evaluate(loaded.model, test_split, loaded.config.train, torch.device("cpu"))
    assert len(result["kl_per_dim"]) == loaded.config.model.z_dim
    assert sum(result["kl_per_dim"]) == pytest.approx(result["kl"], rel=1e-4)


def test_cli_trains_from_idx_files_and_writes_a_loadable_checkpoint(tmp_path, capsys):
    """KMNIST is not reachable offline here: its real torchvision path runs on tiny IDX files in KMNIST/raw."""
    data = write_tiny_mnist(tmp_path / "data", n_train=128, n_test=32, folder="KMNIST")  # IWAE: 32 × k = 1000 passes
    out = tmp_path / "cli-ck"
    code = main(["--dataset", "kmnist", "--data-dir", str(data), "--no-download", "--out", str(out), "--epochs", "2", "--batch-size", "32",
                 "--z-dim", "4", "--encoder-hidden", "4", "--decoder-hidden", "8", "--no-tsne", "--no-progress", "--seed", "5",
                 "--no-channels-last"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "epoch   2 | train" in printed and "test" in printed
    loaded = load_checkpoint(out)
    assert loaded.config.model.z_dim == 4 and loaded.config.train.seed == 5
    assert loaded.config.data["train_images"] == 128 and "--epochs" in loaded.config.argv
    assert (out / "samples.png").stat().st_size > 100
    final = json.loads((out / "metrics.json").read_text())["final"]
    assert final["epochs"] == 2 and final["iwae"]["k"] == 1000 and final["iwae"]["images"] == 32
    assert final["iwae"]["nll"] <= final["test"]["total"] + 1.0  # the k=1000 bound is tighter than the ELBO
    assert loaded.config.data["dataset"] == "kmnist" and loaded.config.data["class_names"][0] == "o お"
    probe = loaded.config.probe  # the levers were timed here; the flag forced channels_last off
    assert probe["forced"] == {"channels_last": False} and not loaded.config.train.channels_last
    assert {k: getattr(loaded.config.train, k) for k in probe["chosen"]} == probe["chosen"] and probe["steps"] >= 1
    assert "levers: " in printed and "start-up" in printed
    assert torch.equal(loaded.atlas["labels"], load_split(data, train=False, dataset="kmnist").labels)
    # every choice of the run is in its config, not only in argv: what it recorded and what it computed at the end
    assert loaded.config.finish == FinishConfig(tsne=False, umap=False, iwae=True, scores=True)
    assert loaded.config.record == RecordConfig(timeline=True, probe_levers=True, forced_levers=("channels_last",))
    assert RunConfig.from_dict(json.loads(json.dumps(loaded.config.to_dict()))) == loaded.config  # round trip


@pytest.mark.parametrize("args, message", [
    (["--epochs", "-1"], "--epochs: must be a positive integer"),
    (["--z-dim", "0"], "--z-dim: must be a positive integer"),
    (["--lr", "nan"], "--lr: must be a positive number"),
    (["--data-dir", "/no/such/dir", "--no-download"], "does not exist"),
    (["--z-dim", "1000000000", "--dry-run"], "model.z_dim is 1000000000; at most 1024"),  # once a raw allocator error
    (["--decoder-hidden", "99999"], "model.decoder_hidden is 99999"),
    (["--batch-size", "10000000"], "batch_size 1–65536"),
])
def test_bad_arguments_exit_with_a_message_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as info:
        main(["--out", str(out), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_data_and_unwritable_output_fail_before_training(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "--no-download", "--out", str(tmp_path / "x")]) == 2
    assert "MNIST train set not found under" in capsys.readouterr().err
    data = write_tiny_mnist(tmp_path / "data")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["--data-dir", str(data), "--out", str(blocker / "ck"), "--no-progress"]) == 2
    assert "Cannot write the checkpoint" in capsys.readouterr().err


def test_a_nearly_full_disk_is_refused_before_training(train_split, test_split, tmp_path, monkeypatch):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(train_module.shutil, "disk_usage", lambda path: usage(10 * 2**30, 10 * 2**30, 2**20))
    with pytest.raises(UserError, match=r"Only 1 MiB free"):
        train(small_run(), train_split, test_split, tmp_path / "ck", QUIET)
    assert not (tmp_path / "ck").exists()


def test_a_disk_that_fills_up_mid_run_keeps_the_last_checkpoint(train_split, test_split, tmp_path, monkeypatch):
    import errno

    from training import checkpoint as checkpoint_module

    out = tmp_path / "ck"
    train(small_run(epochs=1), train_split, test_split, out, QUIET)
    good = (out / "model.safetensors").read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "save_file", no_space)
    with pytest.raises(UserError, match=r"epoch 2 .*No space left on device.*last saved checkpoint was kept"):
        train(small_run(epochs=2), train_split, test_split, out, replace(QUIET, resume=True))
    assert (out / "model.safetensors").read_bytes() == good
    # no half-written folder left behind; beside the checkpoint, the run's state says why it failed
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ck.state.json", "ck"]
    state = run_state(out)
    assert state.opens and "No space left on device" in state.failed
    assert len(load_checkpoint(out).metrics["history"]) == 1
