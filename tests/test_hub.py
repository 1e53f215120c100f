"""Checkpoints on the Hub, against a local server that speaks the Hub's endpoints (tests/fake_hub.py): nothing here
reaches the real Hugging Face Hub."""
import shutil
from pathlib import Path

import pytest

from tests.fake_hub import FakeHub, serve
from tests.helpers import free_port
from training.checkpoint import load_checkpoint
from training.errors import UserError
from training.hub import PUBLISHED_FILES, download_checkpoint, model_card, parse_hub_spec, push_checkpoint


@pytest.fixture()
def hub():
    fake = FakeHub()
    server = serve(fake, free_port())
    fake.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()


@pytest.fixture()
def published(trained_checkpoint, tmp_path):
    """The tiny checkpoint as if trained on MNIST (a card needs a known data set), with a train_state not to publish."""
    import json

    folder = shutil.copytree(trained_checkpoint, tmp_path / "tiny-mnist")
    config = json.loads((folder / "config.json").read_text())
    config["data"] = {"dataset": "mnist"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_model_card_has_hub_metadata_and_the_checkpoint_metrics(published):
    from huggingface_hub import ModelCard

    ck = load_checkpoint(published)
    card = ModelCard(model_card(ck, "alice/tiny"))  # parses the YAML front matter
    data = card.data.to_dict()
    assert data["license"] == "mit" and data["library_name"] == "pytorch" and "vae" in data["tags"]
    assert data["datasets"] == ["ylecun/mnist"]
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    test = ck.metrics["final"]["test"]
    assert metrics["neg-elbo"] == pytest.approx(test["recon"] + test["kl"], abs=1e-3)
    assert metrics["kl"] == pytest.approx(test["kl"], abs=1e-3)
    assert metrics["neg-log-likelihood"] == pytest.approx(ck.metrics["final"]["iwae"]["nll"], abs=1e-3)
    assert metrics["active-units"] == ck.metrics["final"]["active_units"]
    assert "python -m explorer --checkpoint hf://alice/tiny" in card.text


def test_push_then_pull_gives_the_same_bytes_and_then_works_offline(published, hub, tmp_path, monkeypatch):
    import huggingface_hub.constants

    url = push_checkpoint(published, "alice/tiny", endpoint=hub.endpoint, token="hf_test")
    assert "/alice/tiny/commit/" in url
    stored = hub.files("alice/tiny")
    assert set(stored) == {*PUBLISHED_FILES, "README.md"} - ({"samples.png"} - {p.name for p in published.iterdir()})
    assert "train_state.safetensors" not in stored
    snapshot = download_checkpoint("hf://alice/tiny", cache_dir=tmp_path / "cache", endpoint=hub.endpoint)
    for name in PUBLISHED_FILES:
        assert (snapshot / name).read_bytes() == (published / name).read_bytes(), name
    assert load_checkpoint(snapshot).config.model == load_checkpoint(published).config.model
    pinned = download_checkpoint(f"hf://alice/tiny@{url.rsplit('/', 1)[1]}", cache_dir=tmp_path / "cache", endpoint=hub.endpoint)
    assert pinned == snapshot
    before = len(hub.requests)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 sets
    assert download_checkpoint("hf://alice/tiny", cache_dir=tmp_path / "cache", endpoint=hub.endpoint) == snapshot
    assert len(hub.requests) == before  # served from the cache, no request


def test_missing_repos_revisions_and_offline_misses_are_one_clear_sentence(hub, tmp_path, monkeypatch, published):
    import huggingface_hub.constants

    with pytest.raises(UserError, match="no such model repo"):
        download_checkpoint("hf://alice/nothing", cache_dir=tmp_path, endpoint=hub.endpoint)
    push_checkpoint(published, "alice/tiny", endpoint=hub.endpoint, token="hf_test")
    with pytest.raises(UserError, match="has no revision 'v9'"):
        download_checkpoint("hf://alice/tiny@v9", cache_dir=tmp_path, endpoint=hub.endpoint)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="not in the local Hub cache"):
        download_checkpoint("hf://alice/tiny", cache_dir=tmp_path / "empty", endpoint=hub.endpoint)


@pytest.mark.parametrize("spec", ["hf://alice", "hf://../../etc/passwd", "hf://alice/../x", "hf://alice/b@..%2f",
                                  "hf://alice/b c", "hf://a/b@rev with space", "hf:///b", "alice/b", "hf://" + "a" * 200 + "/b"])
def test_bad_hub_names_are_refused_before_any_request(spec):
    with pytest.raises(UserError, match="not a Hub checkpoint"):
        parse_hub_spec(spec)


def test_hub_names_with_revisions_parse():
    assert parse_hub_spec("hf://alice/mnist-beta4") == ("alice/mnist-beta4", None)
    assert parse_hub_spec("hf://alice/mnist.v2@refs/pr/1") == ("alice/mnist.v2", "refs/pr/1")


def test_the_push_command_and_the_explorer_flag_use_the_configured_hub(published, hub, tmp_path, capsys):
    """$HF_ENDPOINT, $HF_HUB_CACHE and $HF_TOKEN reach huggingface_hub as a user sets them (it reads them at import)."""
    import json
    import os
    import subprocess
    import sys

    from tests.test_browser import ROOT
    from training.__main__ import main

    assert main(["push", str(published), "not a repo"]) == 2  # refused before any request: no Hub needed
    assert "not a Hub checkpoint" in capsys.readouterr().err
    # a fresh process, where huggingface_hub is imported under these variables: the push command's main(), then the
    # explorer's --checkpoint hf://… (one process for both: an interpreter and torch start once, not twice)
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": str(tmp_path / "hub-cache"), "HF_TOKEN": "hf_test"}
    script = ("import json, sys\n"
              "from training.__main__ import main\n"
              f"pushed = main(['push', {str(published)!r}, 'alice/cli'])\n"
              "from explorer.__main__ import build_parser, prepare\n"
              f"library, name, *_ = prepare(build_parser().parse_args(['--checkpoint', 'hf://alice/cli', '--checkpoints-dir', {str(tmp_path)!r}]))\n"
              "ck = library.get(name)\n"
              "print(json.dumps([pushed, name, str(ck.path), ck.path.parent.parent in library.folders()]))")
    child = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    *printed, result = child.stdout.strip().splitlines()
    assert "python -m explorer --checkpoint hf://alice/cli" in "\n".join(printed)
    pushed, name, path, served = json.loads(result)
    assert pushed == 0 and hub.files("alice/cli")  # pushed to $HF_ENDPOINT
    snapshot = Path(path)
    assert name == "alice/cli" and snapshot.parent.name == "snapshots" and served  # the cached repo (links → blobs/) is served
    assert snapshot.is_relative_to(tmp_path / "hub-cache")  # downloaded into $HF_HUB_CACHE
