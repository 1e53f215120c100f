"""Every rule the page computes in JavaScript against its Python twin, on a shipped checkpoint, in one blank Chromium
page (no Gradio app): a drawing's score (explorer/web/scores.js ↔ training/scores.py), the ★'s place on the map and a
point's neighbours (atlas.js ↔ explorer/atlas_maps.py, explorer/neighbours.py), traversal and manifold codes
(latent_views.js ↔ explorer/latent_views.py) and the gallery's ranking (scores.js ↔ explorer/likelihood.py).
The page gets its files from the disk through Playwright's router, under a made-up origin."""
import mimetypes

import numpy as np
import pytest
import torch

from explorer import atlas_maps, latent_views, likelihood, neighbours, web_assets
from tests.helpers import SHARED_CHROMIUM, synthetic_digits
from tests.test_browser import ROOT
from tests import test_browser
from training.checkpoint import load_checkpoint
from training.scores import score_images

pytestmark = test_browser.pytestmark  # a browser test, skipped where Chromium is missing
ORIGIN = "http://parity.test/"
WEB_FILES = ("safetensors.js", "random.js", "model.js", "atlas.js", "scores.js", "latent_views.js")
CHECKPOINTS = ROOT / "checkpoints"


def _serve_from_disk(route):
    """parity.test/web/… → explorer/web/…, parity.test/checkpoints/… → checkpoints/…, the blank page itself."""
    path = route.request.url[len(ORIGIN):].split("?")[0]
    if path == "":
        return route.fulfill(body="<!doctype html><html><body></body></html>", content_type="text/html")
    top, _, rest = path.partition("/")
    file = {"web": web_assets.WEB, "checkpoints": CHECKPOINTS}[top] / rest
    kind = "application/wasm" if file.suffix == ".wasm" else mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    route.fulfill(body=file.read_bytes(), content_type="text/javascript" if file.suffix in (".js", ".mjs") else kind)


def _runtime(name: str) -> dict:
    """The runtime config the page would get for a shipped checkpoint, its URLs under parity.test."""
    ck = load_checkpoint(CHECKPOINTS / name, check_onnx=False)
    ort = f"web/{web_assets.ORT_DIR.relative_to(web_assets.WEB)}/"
    return {**web_assets.page_rules(ck.config.model.z_dim), "name": name, "z_dim": ck.config.model.z_dim,
            "encoder": f"checkpoints/{name}/encoder.onnx", "decoder": f"checkpoints/{name}/decoder.onnx",
            "atlas": f"checkpoints/{name}/atlas.safetensors", "ort_base": ORIGIN + ort}


@pytest.fixture(scope="module")
def page():
    """One blank page with onnxruntime-web and the page's pure modules; `window.loaded[name]` opens a checkpoint. In
    the Chromium the browser modules share (tests/helpers.py, SharedChromium)."""
    page = SHARED_CHROMIUM.browser().new_page()
    page.route(ORIGIN + "**", _serve_from_disk)
    page.goto(ORIGIN)
    page.add_script_tag(url=f"web/{web_assets.ORT_DIR.relative_to(web_assets.WEB)}/ort.wasm.min.js")
    for name in WEB_FILES:
        page.add_script_tag(url=f"web/{name}")
    page.evaluate("""() => { window.loaded = {}; window.openCheckpoint = async (config) => {
        window.loaded[config.name] = window.loaded[config.name] || await (async () => {
          const [model, atlas] = await Promise.all([vae.loadModel(config), vae.loadAtlas(config)]);
          return { model, atlas, config };
        })();
        return true; }; }""")
    yield page
    page.close()


def _open(page, name: str) -> dict:
    config = _runtime(name)
    page.evaluate("(config) => window.openCheckpoint(config)", config)
    return config


def test_a_drawing_gets_the_servers_score_in_the_page(page):
    """The page's −ELBO of an image (ONNX encoder and decoder, the server's noise) equals score_images' for one image
    (torch, logits): what the Reconstructions tab says of a drawing on either path."""
    _open(page, "default")
    model = load_checkpoint(CHECKPOINTS / "default", check_onnx=False).model
    images = synthetic_digits(4, seed=5).images.numpy()  # (4, 28, 28) uint8
    blank_ink = np.zeros((28, 28), np.uint8)
    blank_ink[4:24, 12:16] = 255  # a bar, unlike the training digits: saturated pixels the model is sure about
    for image, kind in [*((image, "bce") for image in images), (blank_ink, "bce"), (images[0], "mse"), (blank_ink, "mse")]:
        want = score_images(model, torch.from_numpy(image)[None], kind=kind)  # an MSE model: the Gaussian likelihood
        got = page.evaluate("""async ([pixels, kind]) => {
            const { model, atlas, config } = window.loaded.default;
            const input = Float32Array.from(pixels, (v) => v / 255);
            const { mean, std } = await model.encode(input, 1);
            return vae.scoreImage(model, input, mean, std, config.score_noise, { ...config, likelihood: kind });
        }""", [image.ravel().tolist(), kind])
        for key, name in (("score_recon", "recon"), ("score_kl", "kl"), ("score_elbo", "elbo")):
            assert got[name] == pytest.approx(float(want[key][0]), rel=2e-4, abs=2e-3), (key, kind, got, want)


@pytest.mark.parametrize("name", ["default", "mnist-z2"])
def test_a_new_encoding_lands_where_the_server_places_it_on_every_map(page, name):
    _open(page, name)
    atlas = load_checkpoint(CHECKPOINTS / name, check_onnx=False).atlas
    means = atlas["means"].numpy()
    rng = np.random.default_rng(1)
    codes = [means[7], (means[7] + means[8]) / 2, rng.standard_normal(means.shape[1]).astype(np.float32)]
    for method in atlas_maps.map_methods(atlas):
        got = page.evaluate("([name, codes, method]) => codes.map((z) => window.loaded[name].atlas.placeOnMap(Float32Array.from(z), method))",
                            [name, [c.tolist() for c in codes], method])
        want = [atlas_maps.place_on_map(atlas, c, method) for c in codes]
        assert np.allclose(got, want, atol=1e-4), method


def test_traversal_and_manifold_codes_are_the_servers(page):
    rules = web_assets.page_rules(5)
    base = np.linspace(-1, 1, 5, dtype=np.float32)
    for columns, dims in ((11, [3, 0, 4]), (2, [1]), (15, [0, 1, 2, 3, 4])):
        got = page.evaluate("([base, dims, columns, range]) => Array.from(vae.traversalCodes(Float32Array.from(base), dims, vae.traversalValues(columns, range)))",
                            [base.tolist(), dims, columns, rules["traversal_range"]])
        want = latent_views.traversal_codes(base, dims, latent_views.traversal_values(columns))
        assert np.allclose(np.reshape(got, want.shape), want, atol=1e-6)
    got = page.evaluate("(range) => Array.from(vae.manifoldCodes(20, range))", rules["traversal_range"])
    assert np.allclose(np.reshape(got, (-1, 2)), latent_views.manifold_codes(2, 20), atol=1e-6)


def test_a_points_neighbours_are_the_servers(page):
    """Latent and map neighbours of test images (map_instrument's rule, now atlas.neighbours) against neighbours.py."""
    _open(page, "default")
    atlas = load_checkpoint(CHECKPOINTS / "default", check_onnx=False).atlas
    method = "t-SNE"
    coords = atlas_maps.map_coordinates(atlas, method)
    for i in (0, 123, 4567, 9999):
        got = page.evaluate("([i, method, k]) => { const a = window.loaded.default.atlas; return a.neighbours(a.mean(i), i, method, k); }",
                            [i, method, neighbours.K])
        want = neighbours.neighbours(atlas["means"].numpy(), coords, i)
        assert got["latent"] == want["latent"] and got["onMap"] == want["map"] and got["both"] == want["both"], i


def test_the_gallery_ranks_the_test_images_like_the_server(page):
    _open(page, "default")
    atlas = load_checkpoint(CHECKPOINTS / "default", check_onnx=False).atlas
    for key, which, label in (("score_elbo", "hardest", None), ("score_kl", "easiest", 3), ("score_nll", "hardest", 9)):
        got = page.evaluate("""([key, which, label, n]) => { const a = window.loaded.default.atlas;
            return vae.ranked(a.scores[key], a.labels, which, label, n); }""", [key, which, label, likelihood.GALLERY_SIZE])
        assert got == likelihood.ranked(atlas, key, which, label).tolist(), (key, which, label)
    values = atlas["score_elbo"].numpy()
    for value in (float(np.median(values)), float(values.max()) + 1):
        got = page.evaluate("(v) => vae.percentileOf(window.loaded.default.atlas.scores.score_elbo, v)", value)
        assert round(got, 1) == likelihood.percentile(atlas, "score_elbo", value)
