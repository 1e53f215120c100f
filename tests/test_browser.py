"""The real app in headless Chromium: the model runs in the page (sliders, drawing, map, strips) with no server request,
agrees with torch, and the server takes over when WebAssembly is missing."""
import os
from pathlib import Path

import pytest

from tests.helpers import CHROMIUM, SHARED_CHROMIUM, running_explorer, screenshot

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`python -m explorer` on the shipped checkpoint, with no MNIST reachable (the tabs that need none must work)."""
    no_data = tmp_path_factory.mktemp("no-mnist")
    with running_explorer(["--data-dir", str(no_data), "--no-download"], tmp_path_factory.mktemp("app") / "app.log", ROOT) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """The Chromium the browser modules share (tests/helpers.py, SharedChromium)."""
    return SHARED_CHROMIUM.browser()


@pytest.fixture(scope="module")
def page(app_url, browser):
    """One visitor whose page runs the model (waits until explorer.js says so, and for the plotly module it imports
    once idle, so that later requests are the tests' own)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(app_url)
    page.wait_for_function("document.body.classList.contains('vae-browser') && typeof window.Plotly === 'object'", timeout=60_000)
    yield page
    page.close()



def _canvas_pixels(page, canvas_id):
    return page.evaluate("(id) => { const c = document.getElementById(id); return c.toDataURL(); }", canvas_id)


def test_the_page_says_the_model_runs_in_the_browser(page):
    assert "runs in your browser" in page.locator(".vae-status").first.inner_text()


def test_a_slider_drag_redraws_the_canvas_with_no_request_to_the_server(page):
    page.get_by_role("tab", name="Latent sliders").click()
    page.wait_for_function("document.getElementById('slider-canvas')?.dataset.drawn", timeout=30_000)
    before = _canvas_pixels(page, "slider-canvas")
    frames = page.evaluate("vae.explorer.frames.sliders.count")
    sent = len(page.requests)
    track = page.locator("#slider-0 input[type=range]").bounding_box()
    y = track["y"] + track["height"] / 2
    page.mouse.move(track["x"] + track["width"] * 0.5, y)
    page.mouse.down()
    for step in range(1, 15):  # a real drag: Chromium fires an input event per move
        page.mouse.move(track["x"] + track["width"] * (0.5 + 0.03 * step), y)
    page.mouse.up()
    page.wait_for_function("(n) => vae.explorer.frames.sliders.count > n", arg=frames + 3, timeout=10_000)
    page.wait_for_timeout(300)
    assert _canvas_pixels(page, "slider-canvas") != before
    assert page.requests[sent:] == []
    assert "nearest to z" in page.locator("#nearest-caption").inner_text()
    screenshot(page, "sliders.png")


def test_onnxruntime_web_agrees_with_torch(page):
    """Same z and images → torch (the checkpoint's weights) and onnxruntime-web in Chromium within 1e-4."""
    import numpy as np
    import torch

    from training.checkpoint import load_checkpoint

    model = load_checkpoint(ROOT / "checkpoints" / "default").model
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, model.cfg.z_dim)).astype(np.float32)
    images = rng.random((2, 1, 28, 28), dtype=np.float32)
    got = page.evaluate("""async ([z, n, images, m]) => {
        const model = vae.explorer.model;
        const pixels = await model.decode(Float32Array.from(z), n);
        const q = await model.encode(Float32Array.from(images), m);
        return [Array.from(pixels), Array.from(q.mean), Array.from(q.std)];
    }""", [z.ravel().tolist(), 3, images.ravel().tolist(), 2])
    with torch.inference_mode():
        want_pixels = model.decode(torch.from_numpy(z)).numpy().ravel()
        q = model.encode(torch.from_numpy(images))
    assert np.abs(np.array(got[0]) - want_pixels).max() <= 1e-4
    assert np.abs(np.array(got[1]) - q.mean.numpy().ravel()).max() <= 1e-4
    assert np.abs(np.array(got[2]) - q.stddev.numpy().ravel()).max() <= 1e-4


def test_the_page_brings_a_drawing_to_mnist_form_like_the_server(page):
    """mnist_form.js against explorer/images.py's to_mnist, on the same grayscale drawing."""
    import numpy as np

    from explorer.images import to_mnist

    gray = np.zeros((252, 252), dtype=np.float32)
    yy, xx = np.mgrid[:252, :252]
    gray[(np.abs(xx - 126 - (yy - 126) * 0.2) < 10) & (yy > 40) & (yy < 210)] = 1.0  # a slanted "1"
    gray[(np.hypot(xx - 126, yy - 60) < 30) & (np.hypot(xx - 126, yy - 60) > 18)] = 0.8  # and a loop on top
    js = np.array(page.evaluate("(g) => Array.from(vae.toMnist(Float64Array.from(g), 252, 252))", gray.ravel().tolist()))
    py = to_mnist(gray).ravel().astype(int)
    assert np.abs(js - py).max() <= 2 and np.abs(js - py).mean() < 0.05


def _hold_model_files(page):
    """Hold the page's ONNX requests back, as a very slow connection would, until the returned function is called."""
    held = []

    def hold(route):
        if held is None:
            route.continue_()
        else:
            held.append(route)

    def release():
        nonlocal held
        waiting, held = held, None
        for route in waiting:
            route.continue_()

    page.route("**/*.onnx*", hold)
    return release


def _stable_box(page, locator):
    """The element's box once the page has stopped moving it: while the app fills in the checkpoint's summary and
    notices, the pad moves down, and a stroke aimed at where it was would miss it (seen on a busy machine)."""
    box = None
    for _ in range(50):
        locator.scroll_into_view_if_needed()
        again = locator.bounding_box()
        if again == box:
            return box
        box = again
        page.wait_for_timeout(100)
    return box


def _stroke_a_one(page):
    """A real mouse stroke on the drawing pad."""
    page.get_by_role("tab", name="Reconstructions").click()
    box = _stable_box(page, page.locator("#drawpad canvas"))
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + box["width"] * (0.5 - 0.01 * step), box["y"] + box["height"] * (0.15 + 0.065 * step))
    page.mouse.up()


def _draw_a_one(page):
    """A stroke, then wait for the page's reconstruction."""
    before = page.evaluate("vae.explorer.frames.drawing?.count || 0")
    _stroke_a_one(page)
    page.wait_for_function("(n) => (vae.explorer.frames.drawing?.count || 0) > n", arg=before, timeout=10_000)


def test_a_drawing_is_reconstructed_in_the_page_and_marked_on_the_map(page):
    sent = len(page.requests)
    _draw_a_one(page)
    assert "reconstruction" in page.locator("#draw-caption").inner_text()
    # scored in the page too: its −ELBO and where it falls among the test images (explorer/web/likelihood_view.js)
    page.wait_for_function("document.getElementById('draw-score')?.innerText.includes('more unusual than')", timeout=10_000)
    share = page.evaluate("vae.explorer.drawingScore.percentile")
    assert 0 <= share <= 100 and f"{share:.0f} % of the MNIST test images" in page.locator("#draw-score").inner_text()
    assert page.requests[sent:] == []
    screenshot(page, "drawing.png")
    page.get_by_role("tab", name="Latent map").click()
    page.wait_for_function("document.querySelector('#latent-map .vae-star')?.style.display === 'block'", timeout=60_000)
    # its 10 latent neighbours against its 10 map neighbours, as for a clicked point
    page.wait_for_function("document.getElementById('neighbour-caption')?.innerText.startsWith('Your drawing: of its 10 nearest')", timeout=10_000)


def test_the_likelihood_tab_ranks_and_the_map_is_coloured_by_a_score_in_the_page(page):
    page.get_by_role("tab", name="Likelihood").click()
    page.wait_for_function(HAS_PICTURE, arg="canvas#rank-canvas", timeout=10_000)
    page.wait_for_function(HAS_PICTURE, arg="canvas#ood-canvas", timeout=10_000)
    assert page.locator("#rank-caption").inner_text().startswith("The hardest 24 test images by −ELBO")
    assert "Fashion-MNIST test images a higher −log p(x)" in page.locator("#ood-finding").inner_text()
    hardest = page.evaluate("vae.explorer.galleryPicked")
    sent, before = len(page.requests), page.evaluate("vae.explorer.frames.gallery.count")
    page.locator("#rank-which label", has_text="easiest").click()
    page.wait_for_function("(n) => vae.explorer.frames.gallery.count > n", arg=before, timeout=10_000)
    easiest = page.evaluate("vae.explorer.galleryPicked")
    scores = page.evaluate("(ix) => ix.map((i) => vae.explorer.atlas.scores.score_elbo[i])", hardest + easiest)
    assert min(scores[:24]) > max(scores[24:]) and scores[24:] == sorted(scores[24:])
    screenshot(page, "likelihood.png")
    page.get_by_role("tab", name="Latent map").click()
    page.wait_for_function("() => (document.querySelector('#latent-map .js-plotly-plot')?._fullData || []).length >= 10", timeout=30_000)
    page.locator("#map-colour label", has_text="−ELBO").click()
    page.wait_for_function("document.querySelector('#latent-map .js-plotly-plot').dataset.colouredBy === 'score_elbo'", timeout=10_000)
    colours = page.evaluate("""() => { const p = document.querySelector('#latent-map .js-plotly-plot');
        const t = p._fullData[0]; return [t.customdata[0][0], t.marker.color[0], t.marker.showscale, t.hovertemplate, t.customdata[0][4]]; }""")
    assert "−ELBO %{customdata[2]:.1f}" in colours[3] and "−log p(x)" in colours[3]  # each image's scores on hover
    assert colours[4] == pytest.approx(page.evaluate("(i) => vae.explorer.atlas.scores.score_kl[i]", colours[0]))
    assert colours[1] == pytest.approx(page.evaluate("(i) => vae.explorer.atlas.scores.score_elbo[i]", colours[0])) and colours[2]
    assert page.requests[sent:] == []  # ranked and coloured in the page
    screenshot(page, "map-coloured.png")
    page.locator("#map-colour label", has_text="class").click()
    page.wait_for_function("document.querySelector('#latent-map .js-plotly-plot').dataset.colouredBy === 'class'", timeout=10_000)


def test_a_lasso_selection_shows_its_digits_and_mean_and_survives_a_projection_switch(page):
    import numpy as np

    from explorer.neighbours import neighbours
    from training.checkpoint import load_checkpoint

    page.get_by_role("tab", name="Latent map").click()
    page.get_by_text("t-SNE", exact=True).click()
    plot = "document.querySelector('#latent-map .js-plotly-plot')"
    page.wait_for_function(f"() => ({plot}?._fullData || []).length >= 10 && {plot}._fullLayout.title.text.includes('t-SNE')", timeout=30_000)
    page.evaluate(f"Plotly.relayout({plot}, {{dragmode: 'lasso'}})")  # the toolbar's lasso button does the same
    box = page.locator("#latent-map .nsewdrag").first.bounding_box()
    x, y = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.25
    page.mouse.move(x, y)
    page.mouse.down()
    for dx, dy in [(80, 0), (80, 60), (0, 60), (0, 0)]:
        page.mouse.move(x + dx, y + dy, steps=5)
    page.mouse.up()
    page.wait_for_function("(vae.explorer.frames.selection?.count || 0) > 0", timeout=10_000)
    selected = page.evaluate("vae.explorer.selection")
    caption = page.locator("#selection-caption").inner_text()
    assert caption.startswith(f"{len(selected)} selected (") and len(selected) > 5
    assert page.evaluate(HAS_PICTURE, "canvas#selection-mean-canvas") and page.evaluate(HAS_PICTURE, "canvas#selection-canvas")
    page.evaluate(f"Plotly.relayout({plot}, {{dragmode: 'pan'}})")
    # a click: its 10 latent neighbours against its 10 map neighbours, as explorer/neighbours.py counts them
    px, py = page.evaluate(f"""() => {{ const p = {plot}, xa = p._fullLayout.xaxis, ya = p._fullLayout.yaxis;
        const r = p.querySelector('.nsewdrag').getBoundingClientRect(), t = p._fullData[3];
        return [r.left + xa.l2p(t.x[5]), r.top + ya.l2p(t.y[5])]; }}""")
    page.mouse.click(px, py)
    page.wait_for_function("vae.explorer.lastNeighbours", timeout=10_000)
    shown = page.evaluate("vae.explorer.lastNeighbours")
    atlas = load_checkpoint(ROOT / "checkpoints" / "default", check_onnx=False).atlas
    expected = neighbours(atlas["means"].numpy(), atlas["tsne"].numpy(), shown["index"])
    assert shown["latent"] == expected["latent"] and shown["both"] == expected["both"]
    assert f"{expected['both']} are also among its 10 nearest on this t-SNE map" in page.locator("#neighbour-caption").inner_text()
    screenshot(page, "map-selection.png")
    page.get_by_text("PCA", exact=True).click()  # the selection stays, marked on the new projection
    page.wait_for_function(f"() => {plot}._fullLayout.title.text.includes('PCA') && {plot}.data.some((t) => (t.selectedpoints || []).length)", timeout=30_000)
    marked = page.evaluate(f"{plot}.data.reduce((n, t) => n + (t.vaeSelection ? (t.selectedpoints || []).length : 0), 0)")
    assert marked == len(selected) and page.evaluate("vae.explorer.selection.length") == len(selected)
    page.wait_for_function("vae.explorer.lastNeighbours.method === 'PCA'", timeout=10_000)
    assert np.isfinite(page.evaluate("vae.explorer.lastNeighbours.both"))
    page.get_by_text("UMAP", exact=True).click()  # the third precomputed projection: drawn, the selection kept
    page.wait_for_function(f"() => {plot}._fullLayout.title.text.includes('UMAP') && {plot}.data.some((t) => (t.selectedpoints || []).length)", timeout=30_000)
    page.wait_for_function("vae.explorer.lastNeighbours.method === 'UMAP'", timeout=10_000)
    expected = neighbours(atlas["means"].numpy(), atlas["umap"].numpy(), shown["index"])
    assert page.evaluate("vae.explorer.lastNeighbours.both") == expected["both"]
    screenshot(page, "map-umap.png")
    page.locator("#selection-clear").click()
    page.wait_for_function("vae.explorer.selection.length === 0", timeout=10_000)


def test_thumbnails_draw_the_digits_at_their_points_and_follow_a_pan(page):
    page.get_by_role("tab", name="Latent map").click()
    plot = "document.querySelector('#latent-map .js-plotly-plot')"
    page.wait_for_function(f"() => ({plot}?._fullData || []).length >= 10", timeout=30_000)
    page.locator("#map-thumbnails").check()  # this server has no test images: the page says so
    assert "not available" in page.locator("#thumbnails-note").inner_text()
    # the layer itself, with a stand-in sprite (white tiles) as the page builds from the real one
    page.evaluate("""async () => { const c = new OffscreenCanvas(2800, 2800), g = c.getContext('2d');
        g.fillStyle = '#fff'; g.fillRect(0, 0, 2800, 2800);
        vae.explorer.thumbnails = new vae.Thumbnails(await createImageBitmap(c), vae.explorer.atlas.n);
        vae.explorer.toggleThumbnails(true); }""")
    shown = int(page.evaluate(f"{plot}.dataset.thumbnails"))
    assert shown > 5000  # every point in view (the legend's hidden classes aside)
    assert page.evaluate(f"{plot}.querySelector('canvas.vae-thumbs').style.display") == "block"
    moved = page.evaluate(f"""() => {{ const p = {plot}, r = p._fullLayout.xaxis.range, q = p._fullLayout.yaxis.range, w = r[1] - r[0];
        vae.explorer.drawThumbnails(p, {{'xaxis.range[0]': r[0] + w / 4, 'xaxis.range[1]': r[1] + w / 4, 'yaxis.range[0]': q[0], 'yaxis.range[1]': q[1]}});
        return p.querySelector('canvas.vae-thumbs').style.transform; }}""")
    assert moved.startswith("translate(-") and "scale(1, 1)" in moved  # a quarter to the left, same zoom
    page.evaluate("vae.explorer.toggleThumbnails(false); vae.explorer.thumbnails = null")
    page.locator("#map-thumbnails").uncheck()


def _select(page, indices):
    """A selection as plotly reports one (its plotly_selected event), here of chosen test images."""
    page.evaluate("(ix) => vae.explorer.selectOnMap(ix)", indices)
    page.wait_for_function("(n) => vae.explorer.selection.length === n", arg=len(set(indices)), timeout=10_000)


def test_a_direction_from_two_selections_slides_a_digit_and_becomes_the_maps_x_axis(page, browser):
    from training.checkpoint import load_checkpoint

    atlas = load_checkpoint(ROOT / "checkpoints" / "default", check_onnx=False).atlas
    labels, pca = atlas["labels"].numpy(), atlas["pca"].numpy()
    ones = [i for i in range(len(labels)) if labels[i] == 1]
    # two ends of the 1s along PCA's first axis (how slanted they are shows there)
    ones.sort(key=lambda i: pca[i, 0])
    page.get_by_role("tab", name="Latent map").click()
    page.wait_for_function("() => (document.querySelector('#latent-map .js-plotly-plot')?._fullData || []).length >= 10", timeout=30_000)
    _select(page, ones[:40])
    page.locator("#direction-a").click()
    _select(page, ones[-40:])
    page.locator("#direction-b").click()
    page.wait_for_function("(vae.explorer.frames.direction?.count || 0) > 0", timeout=10_000)
    assert "the direction A→B has length" in page.locator("#direction-caption").inner_text()
    before = _canvas_pixels(page, "direction-canvas")
    count = page.evaluate("vae.explorer.frames.direction.count")
    sent = len(page.requests)
    page.locator("#direction-amount").fill("1.5")  # an input event, as a drag gives
    page.wait_for_function("(n) => vae.explorer.frames.direction.count > n", arg=count, timeout=10_000)
    assert _canvas_pixels(page, "direction-canvas") != before and page.requests[sent:] == []
    assert page.locator("#direction-amount-label").inner_text() == "+1.50 × (B − A)"
    assert page.evaluate(HAS_PICTURE, "canvas#direction-row")
    page.locator("#direction-map").click()
    page.wait_for_function("document.querySelector('#latent-map .js-plotly-plot').dataset.projection === 'direction'", timeout=10_000)
    # on that axis the B ones lie to the right of the A ones
    a_x, b_x = page.evaluate("""([a, b]) => { const p = document.querySelector('#latent-map .js-plotly-plot'), t = p._fullData[1];
        const x = new Map(Array.from(t.customdata, (row, k) => [Number(row[0]), t.x[k]]));
        const mean = (ix) => ix.reduce((s, i) => s + x.get(i), 0) / ix.length; return [mean(a), mean(b)]; }""", [ones[:40], ones[-40:]])
    assert b_x > a_x
    screenshot(page, "map-direction.png")
    # the view's link carries the selection and the direction; opening it brings both back
    page.locator("#copy-link").click()
    page.wait_for_function("() => document.querySelector('#view-link textarea, #view-link input').value.includes('dir_b=')", timeout=10_000)
    link = page.locator("#view-link textarea, #view-link input").first.input_value()
    other = browser.new_page(viewport={"width": 1280, "height": 1000})
    other.goto(link)
    other.wait_for_function("(n) => window.vae?.explorer?.selection?.length === n && vae.explorer.direction", arg=40, timeout=60_000)
    assert sorted(other.evaluate("vae.explorer.directionEnds.A")) == sorted(ones[:40])
    other.close()
    page.get_by_text("PCA", exact=True).click()
    page.get_by_text("t-SNE", exact=True).click()  # a projection from the server ends the page's own
    page.wait_for_function("!document.querySelector('#latent-map .js-plotly-plot').dataset.projection", timeout=30_000)
    page.locator("#selection-clear").click()


def test_a_map_click_decodes_the_point_in_the_page(page):
    page.get_by_role("tab", name="Latent map").click()
    page.wait_for_function("() => { const p = document.querySelector('#latent-map .js-plotly-plot'); return p && p.data && p.data.length >= 10; }", timeout=60_000)
    x, y, index = page.evaluate("""() => {
        const p = document.querySelector('#latent-map .js-plotly-plot');
        const xa = p._fullLayout.xaxis, ya = p._fullLayout.yaxis, r = p.querySelector('.nsewdrag').getBoundingClientRect();
        const trace = p._fullData[0];
        return [r.left + xa.l2p(trace.x[0]), r.top + ya.l2p(trace.y[0]), trace.customdata[0][0]];
    }""")
    sent = len(page.requests)
    page.mouse.click(x, y)
    page.wait_for_function("vae.explorer.frames.map && vae.explorer.frames.map.count > 0", timeout=10_000)
    assert f"#{index}" in page.locator("#clicked-caption").inner_text()
    assert page.requests[sent:] == []
    screenshot(page, "latent-map.png")


def test_interpolation_prior_samples_and_posterior_samples_draw_in_the_page(page):
    page.get_by_role("tab", name="Interpolate & sample").click()  # drawn on open, no button
    page.wait_for_function("vae.explorer.frames.interpolate && vae.explorer.frames.prior", timeout=10_000)
    assert page.evaluate("document.getElementById('interp-canvas').width") == 10 * 28 + 9 * 2  # 10 steps
    screenshot(page, "interpolation.png")
    page.get_by_role("tab", name="Sample vs mean").click()
    box = page.get_by_label("Test image #").first
    box.fill("99999")
    box.press("Enter")
    page.wait_for_function("document.getElementById('sv-message')?.textContent.includes('does not exist')", timeout=10_000)
    box.fill("7")
    box.press("Enter")
    page.wait_for_function("vae.explorer.frames['sample-vs-mean']", timeout=10_000)


def test_without_webassembly_the_page_says_so_and_the_server_decodes(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.add_init_script("delete window.WebAssembly;")
    page.goto(app_url)
    page.wait_for_function("document.body.classList.contains('vae-server')", timeout=60_000)
    assert "could not start" in page.locator(".vae-status").first.inner_text()
    page.get_by_role("tab", name="Latent sliders").click()
    page.wait_for_selector("#slider-image img", timeout=30_000)
    before = page.locator("#slider-image img").get_attribute("src")
    page.locator("#slider-0 input[type=number]").fill("2.5")
    page.locator("#slider-0 input[type=number]").press("Enter")
    page.wait_for_function("(b) => document.querySelector('#slider-image img')?.src !== b", arg=before, timeout=30_000)
    for tab, image in (("Traversals", "#traversal-image img"), ("Interpolate & sample", "#prior-image img")):
        page.get_by_role("tab", name=tab).click()  # alive on open in the fallback too: the server draws it
        page.wait_for_selector(image, timeout=30_000)
    page.close()


def test_traversal_grid_draws_in_the_page_and_can_be_downloaded(page):
    sent = len(page.requests)
    page.get_by_role("tab", name="Traversals").click()  # drawn on open, no button
    page.wait_for_function("vae.explorer.frames.traversal", timeout=10_000)
    size = page.evaluate("[document.getElementById('traversal-canvas').width, document.getElementById('traversal-canvas').height]")
    assert size == [11 * 30 - 2, 8 * 30 - 2]  # 11 values × the 8 most informative dimensions
    caption = page.locator("#traversal-caption").inner_text()
    order = page.evaluate("vae.explorer.config.order.slice(0, 8)")
    assert caption.startswith("Rows, top to bottom: " + ", ".join(f"z{d}" for d in order[:1]))
    assert page.locator("#traversal-download").get_attribute("href").startswith("data:image/png;base64,")
    assert [u for u in page.requests[sent:] if "/gradio_api/queue" in u] == []  # decoded in the page
    screenshot(page, "traversal.png")


def test_compare_reconstructs_with_each_checkpoint_in_the_page(page):
    """No MNIST on this server: the compare view reconstructs a drawing with each model."""
    _draw_a_one(page)
    page.get_by_role("tab", name="Compare").click()
    picked = page.evaluate("Array.from(document.querySelectorAll('#compare-pick input:checked'), (i) => i.parentElement.innerText.trim())")
    assert picked == ["default", "mnist-beta4"]  # the open checkpoint and the next one of its data set
    page.wait_for_function("vae.explorer.frames.compare", timeout=60_000)  # compared on open, no button
    assert page.locator("#compare-browser .compare-label").all_inner_texts() == ["input", "default", "mnist-beta4"]
    assert page.evaluate("document.querySelector('#compare-browser canvas').width") == 28  # the drawing, one column
    table = page.locator("#compare-table").inner_text()
    assert "IWAE k=1000" in table and "default" in table and "mnist-beta4" in table
    screenshot(page, "compare.png")


def test_the_2d_checkpoint_shows_its_manifold_with_its_means(page):
    page.get_by_label("Checkpoint", exact=True).click()
    page.get_by_role("option", name="mnist-z2").click()
    page.wait_for_function("vae.explorer.name === 'mnist-z2' && vae.explorer.mode === 'browser'", timeout=60_000)
    page.get_by_role("tab", name="2-D manifold").click()
    page.wait_for_function("vae.explorer.frames.manifold", timeout=30_000)
    assert page.evaluate("document.getElementById('manifold-canvas').width") == 20 * 30 - 2
    assert "●" in page.locator("#manifold-legend").inner_text()
    screenshot(page, "manifold.png")


def test_a_drawing_made_while_the_model_loads_is_reconstructed_and_again_by_the_next_checkpoint(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    release_model = _hold_model_files(page)
    page.goto(app_url)
    page.locator("#drawpad canvas").wait_for(timeout=60_000)
    _stroke_a_one(page)
    assert page.evaluate("vae.explorer.mode") == "loading"
    release_model()
    page.wait_for_function("(vae.explorer.frames.drawing?.count || 0) === 1 && vae.explorer.marker?.length === 32", timeout=60_000)
    assert "reconstruction" in page.locator("#draw-caption").inner_text()
    # the ★ and the reconstruction were the previous model's: the 2-D checkpoint encodes the drawing again
    page.get_by_label("Checkpoint", exact=True).click()
    page.get_by_role("option", name="mnist-z2").click()
    page.wait_for_function("vae.explorer.name === 'mnist-z2' && vae.explorer.frames.drawing.count === 2 && vae.explorer.marker.length === 2",
                           timeout=60_000)
    page.close()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(url)
    page.wait_for_function("window.vae?.explorer?.mode === 'browser'", timeout=60_000)
    return page


def test_a_link_opens_the_sliders_with_its_z_and_the_page_draws_that_decoding(app_url, browser):
    import numpy as np
    import torch

    from training.checkpoint import load_checkpoint

    model = load_checkpoint(ROOT / "checkpoints" / "default").model
    z = np.round(np.random.default_rng(1).uniform(-2, 2, model.cfg.z_dim), 2).astype(np.float32)
    # the server sets the sliders while the model is still loading: the folded-away inactive ones must keep the link's values
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    release_model = _hold_model_files(page)
    page.goto(app_url + "?checkpoint=default&tab=sliders&z=" + ",".join(f"{v:g}" for v in z))
    page.wait_for_function("""(z) => { const c = window.vae?.explorer?.config, slider = document.querySelector('#slider-0 input[type=range]');
        return c && slider && Math.abs(Number(slider.value) - z[c.order[0]]) < 1e-6; }""", arg=z.tolist(), timeout=60_000)
    release_model()
    page.wait_for_function("(z) => vae.explorer.lastZ && Array.from(vae.explorer.lastZ).every((v, i) => Math.abs(v - z[i]) < 1e-6)",
                           arg=z.tolist(), timeout=30_000)
    assert page.locator("[role=tab][aria-selected=true]").inner_text().strip() == "Latent sliders"
    page.wait_for_function("(n) => (vae.explorer.frames.sliders?.count || 0) > 0", arg=0, timeout=10_000)
    page.wait_for_timeout(300)
    drawn = np.array(page.evaluate("""() => Array.from(document.getElementById('slider-canvas').getContext('2d')
        .getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0))"""))
    with torch.inference_mode():
        want = (model.decode(torch.from_numpy(z)[None]).numpy().ravel() * 255)
    assert np.abs(drawn - want).max() <= 1.0
    # the link the page writes for this view opens the same z
    page.get_by_role("button", name="Copy link to this view").click()
    link = page.locator("#view-link textarea, #view-link input").first
    page.wait_for_function("() => document.querySelector('#view-link textarea, #view-link input').value.includes('z=')", timeout=10_000)
    assert link.input_value().split("z=")[1].split("&")[0] == ",".join(f"{v:g}" for v in z)
    page.close()


def test_a_hostile_link_shows_the_default_view_and_a_notice_and_runs_nothing(app_url, browser):
    page = _open(browser, app_url + "?checkpoint=%3Cimg%20src%3Dx%20onerror%3Dwindow.pwned%3D1%3E&tab=%3Cscript%3Ewindow.pwned%3D2%3C%2Fscript%3E"
                 "&z=1e999&point=-5&compare=default,..%2F..%2Fetc")
    page.wait_for_function("document.getElementById('link-notice')?.innerText.includes('does not exist')", timeout=30_000)
    notice = page.locator("#link-notice").inner_text()
    assert "tab is not one of" in notice and "outside −3…3" in notice and "compare list" in notice and "<img" not in notice
    assert page.evaluate("window.pwned") is None and page.evaluate("vae.explorer.name") == "default"
    assert page.locator("[role=tab][aria-selected=true]").inner_text().strip() == "Reconstructions"
    page.close()


def test_a_link_to_a_map_point_shows_that_image(app_url, browser):
    page = _open(browser, app_url + "?tab=map&point=42")
    page.wait_for_function("vae.explorer.frames.map", timeout=30_000)
    assert page.locator("#clicked-caption").inner_text().startswith("Test image #42")
    page.close()


# What a tab shows first, untouched: a canvas with ink on it, an image, or a plot with data.
PICTURE = {
    "Reconstructions": "#pairs img",
    "Sample vs mean": "canvas#sv-canvas",
    "Latent sliders": "canvas#slider-canvas",
    "Traversals": "canvas#traversal-canvas",
    "Latent map": "#latent-map .js-plotly-plot",
    "Interpolate & sample": "canvas#interp-canvas, canvas#prior-canvas",
    "Likelihood": "canvas#rank-canvas",
    "Timeline": "canvas#timeline-map",  # the shipped default checkpoint carries its run's timeline
    "Compare": "#compare-table table, #compare-browser h4",
    "Lessons": "#lesson-image img",  # no test images here: each model's prior samples, KL bars and maps
    "Train": "canvas#train-map",  # before anyone's run: how the shipped default learned, as an example
    "Checkpoint": ".json-holder, [data-testid=json]",
}
HAS_PICTURE = """(selector) => Array.from(document.querySelectorAll(selector)).some((el) => {
  if (!el.offsetParent) return false;
  if (el.tagName === 'CANVAS') {
    if (!el.dataset.drawn) return false;
    const pixels = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
    return pixels.some((v, i) => i % 4 !== 3 && v > 0);  // not blank: some ink
  }
  if (el.tagName === 'IMG') return el.complete && el.naturalWidth > 0;
  if (el.classList.contains('js-plotly-plot')) return (el._fullData || []).some((trace) => trace._length > 0);  // points drawn
  return true;
})"""


def test_every_tab_shows_a_picture_the_first_time_it_is_opened_untouched(app_url, browser):
    page = _open(browser, app_url)
    page.wait_for_timeout(500)  # the first tab's own server response (its reconstructions)
    # timed in the page, from the tab's click event to the picture (Playwright's own click waits are not the user's)
    page.evaluate("document.addEventListener('click', () => { window.clickedAt = performance.now(); }, true)")
    for tab, selector in PICTURE.items():
        page.get_by_role("tab", name=tab).click()
        page.wait_for_function(HAS_PICTURE, arg=selector, timeout=5_000, polling=10)
        assert page.evaluate("performance.now() - window.clickedAt") < 1_500, tab  # the budget: 1.5 s
        screenshot(page, f"first-open-{tab.split()[0].lower()}.png")
    # the 2-D tab of a 32-D checkpoint offers the one 2-D checkpoint there is; one click opens its manifold
    page.get_by_role("tab", name="2-D manifold").click()
    page.get_by_role("button", name="Switch to mnist-z2 (z_dim = 2)").click()
    page.wait_for_function(HAS_PICTURE, arg="canvas#manifold-canvas", timeout=30_000)
    assert page.evaluate("vae.explorer.name") == "mnist-z2"
    screenshot(page, "first-open-manifold.png")
    page.close()


def test_a_live_control_redraws_its_view_with_no_button(page):
    page.get_by_role("tab", name="Traversals").click()
    page.wait_for_function("vae.explorer.frames.traversal", timeout=10_000)
    drawn = page.evaluate("vae.explorer.frames.traversal.count")
    columns = page.locator("#trav-columns input[type=number]")
    columns.fill("5")
    columns.press("Tab")
    page.wait_for_function("(n) => vae.explorer.frames.traversal.count > n", arg=drawn, timeout=10_000)
    assert page.evaluate("document.getElementById('traversal-canvas').width") == 5 * 30 - 2  # 5 columns
    assert "Columns: -3.0, -1.5, 0.0, 1.5, 3.0." in page.locator("#traversal-caption").inner_text()
