"""Deploying to a Space: the exact file list from a clean clone, the upload (against tests/fake_hub.py), and the
README's front matter checked against the Spaces configuration reference."""
import subprocess

import pytest

from explorer.space import space_files
from tests.fake_hub import FakeHub, serve
from tests.helpers import free_port
from tests.test_browser import ROOT


@pytest.fixture(scope="module")
def clean_clone(tmp_path_factory):
    clone = tmp_path_factory.mktemp("clone") / "vae-explorer"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    return clone


def test_the_space_gets_the_app_its_requirements_and_checkpoints_and_nothing_ignored(clean_clone):
    files = space_files(clean_clone)
    for needed in ("app.py", "requirements.txt", "README.md", "explorer/app.py", "explorer/web/explorer.js",
                   "explorer/web/vendor/onnxruntime-web-1.30.0/ort-wasm-simd-threaded.wasm", "training/model.py",
                   "checkpoints/default/model.safetensors", "checkpoints/default/decoder.onnx", "checkpoints/default/atlas.safetensors"):
        assert needed in files, needed
    assert not [f for f in files if f.startswith(("tests/", "benchmarks/", ".venv/", "data/")) or "train_state" in f]
    ignored = subprocess.run(["git", "-C", str(clean_clone), "check-ignore", "--no-index", "--stdin"], input="\n".join(files),
                             capture_output=True, text=True).stdout.split()
    assert ignored == []
    # the eight shipped checkpoints (≈ 110 MB with their timelines) and the WebAssembly runtime (14 MB): a guard
    # against sending anything large by accident, far below what a Space repository holds
    assert sum((clean_clone / f).stat().st_size for f in files) < 160 * 2**20


def test_deploy_creates_a_gradio_space_and_uploads_exactly_those_files(clean_clone):
    from explorer.space import deploy_space

    hub = FakeHub()
    server = serve(hub, free_port())
    try:
        deploy_space("alice/vae", root=clean_clone, endpoint=f"http://127.0.0.1:{server.server_address[1]}", token="hf_test")
    finally:
        server.shutdown()
    created = hub.repos["alice/vae"]["create"]
    # ZeroGPU by default: the hardware a free account can host (README's front matter suggests the same)
    assert created["type"] == "space" and created["sdk"] == "gradio" and created["hardware"] == "zero-a10g"
    uploaded = hub.files("alice/vae")
    assert sorted(uploaded) == space_files(clean_clone)
    assert uploaded["checkpoints/default/model.safetensors"] == (clean_clone / "checkpoints/default/model.safetensors").read_bytes()


@pytest.mark.parametrize("account, owner, hardware, refused", [
    ({"name": "alice", "isPro": False}, "alice", "cpu-basic", "A free Hugging Face account cannot host"),
    ({"name": "alice", "isPro": False}, "alice", "zero-a10g", None),
    ({"name": "alice", "isPro": True}, "alice", "cpu-basic", None),
    ({"name": "alice", "isPro": False}, "alice", "a100-large", "--hardware must be one of"),
])
def test_deploy_refuses_in_one_sentence_what_the_hub_would_refuse(clean_clone, account, owner, hardware, refused):
    from explorer.space import deploy_space
    from training.errors import UserError

    hub = FakeHub({"type": "user", "orgs": [], **account})
    server = serve(hub, free_port())
    try:
        deploy = lambda: deploy_space(f"{owner}/vae", root=clean_clone, hardware=hardware, token="hf_test",  # noqa: E731
                                      endpoint=f"http://127.0.0.1:{server.server_address[1]}")
        if refused:
            with pytest.raises(UserError, match=refused) as err:
                deploy()
            assert "\n" not in str(err.value) and f"{owner}/vae" not in hub.repos  # nothing created, nothing sent
        else:
            deploy()
            assert hub.repos[f"{owner}/vae"]["create"]["hardware"] == hardware
    finally:
        server.shutdown()


def test_the_readme_front_matter_is_a_valid_space_configuration():
    import gradio
    from huggingface_hub import metadata_load

    meta = metadata_load(ROOT / "README.md")
    allowed = {"title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "python_version", "app_file", "app_port",
               "base_path", "fullWidth", "header", "short_description", "models", "datasets", "tags", "thumbnail",
               "pinned", "hf_oauth", "disable_embedding", "startup_duration_timeout", "custom_headers", "preload_from_hub",
               "suggested_hardware", "suggested_storage", "license"}
    assert set(meta) <= allowed, set(meta) - allowed
    colours = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__
    assert meta["colorFrom"] in colours and meta["colorTo"] in colours
    assert (ROOT / meta["app_file"]).is_file() and len(meta["short_description"]) <= 60
    # ZeroGPU: the hardware a free account can host, on a Python it supports (3.10.13 or 3.12.12)
    assert meta["suggested_hardware"] == "zero-a10g" and meta["python_version"] in ("3.10.13", "3.12.12")
