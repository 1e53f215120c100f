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
    assert created["type"] == "space" and created["sdk"] == "gradio" and created["hardware"] == "cpu-basic"
    uploaded = hub.files("alice/vae")
    assert sorted(uploaded) == space_files(clean_clone)
    assert uploaded["checkpoints/default/model.safetensors"] == (clean_clone / "checkpoints/default/model.safetensors").read_bytes()


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
