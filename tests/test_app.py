"""The app's wiring: build_demo builds without a server; an end-to-end run drives it through gradio_client."""
import html
import shutil
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from tests.helpers import free_port
from PIL import Image

from explorer import http_limits, inference, checkpoint_library, atlas_maps, test_sets
from explorer.app import CSS, build_demo, lay_out, page_views
from explorer.tabs.common import friendly
from training.errors import UserError


@pytest.fixture(scope="module")
def library(trained_checkpoint):
    return checkpoint_library.CheckpointLibrary(trained_checkpoint.parent)


@pytest.fixture(scope="module")
def views(library, test_split):
    """The page's callbacks, laid out (what opening a checkpoint updates is keyed by its components)."""
    views = page_views(library, test_sets.TestSets.of(test_sets.TestImages(test_split)))
    lay_out(views)
    return views


@pytest.fixture(scope="module")
def name(trained_checkpoint):
    return trained_checkpoint.name


def test_build_demo_builds_without_launching(library, name, test_split):
    demo = build_demo(library, name, test_sets.TestSets.of(test_sets.TestImages(test_split)))
    assert isinstance(demo, gr.Blocks)
    api_names = {d.api_name for d in demo.fns.values()}
    assert {"decode", "map_click", "reconstruct_upload", "reconstructions", "latent_map", "interpolate", "prior_samples",
            "sample_vs_mean", "reconstruct_drawing", "sliders_zero", "sliders_prior", "sliders_from_digit"} <= api_names


def test_the_page_is_told_where_the_model_and_atlas_are(views, name, trained_checkpoint):
    import html
    import json
    import re

    value = views.runtime(name)
    config = json.loads(html.unescape(re.search(r'data-config="([^"]*)"', value).group(1)))
    for key in ("encoder", "decoder", "atlas"):
        path, version = config[key].split("?v=")  # a new save is a new URL: no browser keeps the old file
        assert path.startswith("gradio_api/file=") and path.endswith((".onnx", ".safetensors")) and version
    assert config["z_dim"] == 4 and config["sprite"] is None  # no sprite written for these views


def test_a_hostile_checkpoint_name_is_escaped_in_the_runtime_html():
    from explorer import web_assets

    value = web_assets.runtime_html({"name": '"><script>alert(1)</script>'})
    assert "<script>" not in value and "&lt;script&gt;" in value


def test_the_page_warms_the_plotly_chunk_this_gradio_ships():
    """A Gradio that renamed its plotly chunk would silently bring back the 1.4 s wait on the first plot shown."""
    from explorer import web_assets

    chunk = web_assets.plotly_chunk()
    assert chunk and chunk.startswith("PlotlyPlot-") and web_assets.runtime_config("x", Path("x"), 2, None)["plotly_chunk"] == chunk


def test_the_test_digit_sprite_holds_every_digit_in_order(tmp_path, test_split):
    from explorer import web_assets

    images = test_split.images.numpy()
    sheet = np.asarray(Image.open(web_assets.write_test_sprite(images, tmp_path)))
    cols = web_assets.SPRITE_COLUMNS
    assert sheet.shape == (-(-len(images) // cols) * 28, cols * 28)
    for i in (0, 7, len(images) - 1):
        r, c = divmod(i, cols)
        assert np.array_equal(sheet[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28], images[i])


def test_posterior_widths_come_from_the_atlas(views, name, library):
    figure = views.tab("sample").posterior_widths(name, 5)
    stds = library.get(name).atlas["stds"][5].numpy()
    assert np.allclose(figure.data[0].y, stds, atol=1e-6)


def test_slider_decode_changes_with_the_sliders(views, name, library):
    z_dim = library.get(name).config.model.z_dim
    zero = np.asarray(views.tab("sliders").decode_sliders(name, *[0.0] * z_dim))
    moved = np.asarray(views.tab("sliders").decode_sliders(name, *([2.5] + [0.0] * (z_dim - 1))))
    assert zero.shape == moved.shape and not np.array_equal(zero, moved)


def test_equal_images_are_still_distinct_response_files(views, name, library, tmp_path):
    """Two users decoding the same z must not share (and race on) one file in Gradio's cache."""
    from gradio.processing_utils import encode_pil_to_bytes

    z_dim = library.get(name).config.model.z_dim
    first, second = (views.tab("sliders").decode_sliders(name, *[0.0] * z_dim) for _ in range(2))
    assert np.array_equal(np.asarray(first), np.asarray(second))
    assert encode_pil_to_bytes(first, "png") != encode_pil_to_bytes(second, "png")


def test_sliders_from_a_digit_are_its_encoding(views, name, library, test_split):
    image, *values = views.tab("sliders").sliders_from_digit(name, 4)
    means, _ = inference.encode(library.get(name).model, test_split.images[4].numpy())
    z_dim = len(means[0])
    order = views.ctx.dimensions(name).order  # slider k holds dimension order[k]
    assert sorted(order) == list(range(z_dim))
    assert np.allclose(values[:z_dim], np.clip(means[0][order], -3, 3), atol=0.01)
    assert values[z_dim:] == [0.0] * (len(values) - z_dim)


def _png_data_url(pixels) -> str:
    import base64
    import io

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_drawing_reconstructs_and_marks_the_map(views, name):
    canvas = np.zeros((252, 252, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    canvas[60:200, 120:140, :3] = 255
    model_input, recon, message, mean = views.tab("reconstructions").reconstruct_drawing(name, _png_data_url(canvas))
    assert model_input.size == recon.size and "reconstruction" in message and mean.shape == (4,)
    figure = views.tab("map").latent_map(name, "PCA", mean)  # what the map draws when the page's drawn_mean changes
    assert figure.data[-1].name == "your image"


def test_a_blank_canvas_gives_a_message_not_an_error(views, name):
    blank = np.zeros((252, 252, 4), dtype=np.uint8)
    model_input, recon, message, _ = views.tab("reconstructions").reconstruct_drawing(name, _png_data_url(blank))
    assert model_input is None and recon is None and "blank" in message


@pytest.mark.parametrize("junk", [None, 3, "hello", "data:image/png;base64,!!!", "data:image/png;base64," + "A" * 9_000_000,
                                  "data:image/png;base64,aGVsbG8="])
def test_a_bad_drawing_payload_gives_a_message(views, name, junk):
    model_input, recon, message, _ = views.tab("reconstructions").reconstruct_drawing(name, junk)
    assert model_input is None and recon is None and message.startswith("⚠️")


def test_map_click_shows_the_digit_and_its_reconstruction(views, name):
    original, recon, caption = views.tab("map").map_click(name, "3:1712345")
    assert original is not None and recon is not None and "#3" in caption


def test_without_test_images_the_map_click_still_reconstructs(library, name):
    views = page_views(library, test_sets.TestSets.of(test_sets.TestImages(None, "no data here")))
    original, recon, caption = views.tab("map").map_click(name, "3")
    assert original is None and recon is not None and "no data here" in caption
    with pytest.raises(gr.Error, match="no data here"):
        friendly(views.tab("reconstructions").shuffle_reconstructions)(name, "any", 0)



@pytest.fixture(scope="module")
def served(library, name, test_split):
    demo = build_demo(library, name, test_sets.TestSets.of(test_sets.TestImages(test_split)))
    demo.queue(default_concurrency_limit=2)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=CSS,
                **http_limits.launch_options())
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_end_to_end_through_gradio_client(served, name, library, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(served, verbose=False)
    z_dim = library.get(name).config.model.z_dim
    sliders = [0.0] * 64
    zero = np.asarray(Image.open(client.predict(name, *sliders, api_name="/decode")))
    sliders[0] = 2.5
    moved = np.asarray(Image.open(client.predict(name, *sliders, api_name="/decode")))
    assert zero.shape == moved.shape and not np.array_equal(zero, moved) and z_dim == 4

    pairs = client.predict(name, "any", 0, api_name="/reconstructions")
    assert Image.open(pairs).size[0] > 28 * 8

    original, recon, caption = client.predict(name, "5:99", api_name="/map_click")
    assert Image.open(original).size == Image.open(recon).size and "#5" in caption

    digit = np.zeros((100, 100), dtype=np.uint8)
    digit[20:80, 45:55] = 255
    path = tmp_path / "upload.png"
    Image.fromarray(digit).save(path)
    model_input, recon, message = client.predict(name, handle_file(str(path)), api_name="/reconstruct_upload")
    assert model_input and recon and "reconstruction" in message

    strip = client.predict(name, 3, 2, 5, api_name="/interpolate")
    assert Image.open(strip).size[0] > 5 * 28
    grid = client.predict(name, 0, api_name="/prior_samples")
    assert Image.open(grid).size[0] > 8 * 28
    strip, widths = client.predict(name, 1, 0, api_name="/sample_vs_mean")
    assert Image.open(strip).size[0] > 10 * 28

    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    model_input, recon, message = client.predict(name, handle_file(str(junk)), api_name="/reconstruct_upload")
    assert model_input is None and "Could not read junk.png" in html.unescape(message)  # Markdown, escaped


def test_picking_a_damaged_checkpoint_keeps_the_one_the_session_had(trained_checkpoint, tmp_path):
    import shutil

    root = tmp_path / "checkpoints"
    shutil.copytree(trained_checkpoint, root / "good")
    shutil.copytree(trained_checkpoint, root / "broken")
    weights = root / "broken" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    views = page_views(checkpoint_library.CheckpointLibrary(root), test_sets.TestSets.of(test_sets.TestImages(None, "no data")),
                       default_name="good")
    lay_out(views)
    page = views.page
    opened = views.switch_checkpoint("good", None)
    assert opened[page.active] == "good"  # and every tab's redraw: each tab's declared components, nothing else
    assert set(opened) == {page.active, views.summary, views.runtime_html, views.refresh,
                           *[c for t in views.tabs for c in t.opened]}

    kept = views.switch_checkpoint("broken", "good")
    assert set(kept) == {page.checkpoint, page.active}  # the picker goes back; nothing else changes
    assert kept[page.checkpoint].value == "good" and kept[page.active] == "good"
    z_dim = views.ctx.library.get("good").config.model.z_dim
    assert np.asarray(views.tab("sliders").decode_sliders("good", *[0.0] * z_dim)).size > 0  # the session keeps working
    with pytest.raises(UserError, match="model.safetensors"):  # with nothing to fall back to, the message is shown
        views.switch_checkpoint("broken", None)


def test_a_checkpoint_still_finishing_says_so_and_the_page_reopens_it_when_done(trained_checkpoint, tmp_path):
    import shutil

    from training.run_state import write_run_state

    root = tmp_path / "checkpoints"
    shutil.copytree(trained_checkpoint, root / "run")
    views = page_views(checkpoint_library.CheckpointLibrary(root), test_sets.TestSets.of(test_sets.TestImages(None, "no data")),
                       default_name="run")
    lay_out(views)
    write_run_state(root / "run", "finishing")  # as a trainer or an import does between its two saves
    opened = views.switch_checkpoint("run", None)
    assert "still being computed" in opened[views.summary] and opened[views.refresh].active
    assert set(views.refresh_when_finished("run", "run")) == {views.refresh}  # still finishing: nothing redrawn
    write_run_state(root / "run", "done")
    again = views.refresh_when_finished("run", "run")
    assert "still being computed" not in again[views.summary] and not again[views.refresh].active
    redrawn = {c for t in views.tabs if t.ID in ("map", "likelihood") for c in t.opened}  # the others keep their state
    assert redrawn and set(again) == {views.summary, views.runtime_html, views.refresh, *redrawn}
    shutil.rmtree(root / "run")  # gone meanwhile: the timer stops, no error every tick
    assert set(views.refresh_when_finished("run", "run")) == {views.refresh}
    assert set(views.refresh_when_finished("other", "run")) == {views.refresh}  # a tick from a page that moved on


def test_traversal_grid_is_rows_of_informative_dimensions_by_columns_of_values(views, name, library):
    rows, columns = 3, 7
    picture = np.asarray(views.tab("traversals").traversal(name, "zero", 0, 0, rows, columns))
    cell = 28 * 2 + 2
    assert picture.shape == (rows * cell + 2, columns * cell + 2)
    # the middle column holds value 0 for every row: from zero, every row's centre is the decoding of z = 0
    centre = [picture[2 + r * cell: 2 + r * cell + 56, 2 + 3 * cell: 2 + 3 * cell + 56] for r in range(rows)]
    assert all(np.array_equal(centre[0], c) for c in centre[1:])
    from_image = np.asarray(views.tab("traversals").traversal(name, "a test image's mean", 0, 5, rows, columns))
    assert not np.array_equal(from_image, picture)
    with pytest.raises(UserError, match="does not exist"):
        views.tab("traversals").traversal(name, "a test image's mean", 0, 10**9, rows, columns)


def test_manifold_is_only_offered_for_a_two_dimensional_latent(views, name, tmp_path, train_split, test_split):
    from tests.conftest import QUIET, small_run
    from training.config import ModelConfig
    from training.train import train
    from dataclasses import replace

    manifold = views.tab("manifold")
    with pytest.raises(UserError, match="needs a 2-D latent"):
        manifold.manifold(name, True)
    shown = manifold.on_open(name)
    notice, switch, view = shown[manifold.notice], shown[manifold.switch], shown[manifold.view]
    assert notice.visible is True and switch.visible is False and view.visible is False  # no 2-D checkpoint to offer
    run = replace(small_run(epochs=1), model=ModelConfig(z_dim=2, encoder_hidden=4, decoder_hidden=8))
    train(run, train_split, test_split, tmp_path / "z2", QUIET)
    shutil.copytree(views.ctx.library.get(name).path, tmp_path / name)
    flat = page_views(checkpoint_library.CheckpointLibrary(tmp_path), test_sets.TestSets.of(test_sets.TestImages(test_split)))
    lay_out(flat)
    manifold, latent_map = flat.tab("manifold"), flat.tab("map")
    shown = manifold.on_open(name)
    notice, switch, view = shown[manifold.notice], shown[manifold.switch], shown[manifold.view]
    assert notice.visible and switch.visible and "Switch to z2" in switch.value and not view.visible  # one click away
    assert manifold.two_d_checkpoint(name) == "z2"
    shown = flat.opened("z2")
    assert shown[manifold.notice].visible is False and shown[manifold.switch].visible is False and shown[manifold.view].visible
    assert shown[latent_map.method].choices[0][0] == atlas_maps.LATENT_PLANE
    plain = np.asarray(manifold.manifold("z2", False))
    assert plain.shape == (20 * 30 + 2, 20 * 30 + 2)
    dotted = np.asarray(manifold.manifold("z2", True))
    assert dotted.shape == plain.shape + (3,) and (dotted[..., 0] != dotted[..., 2]).any()  # coloured means drawn


def test_compare_table_and_the_page_plan(views, name, library, trained_checkpoint, tmp_path):
    import json
    import shutil

    with pytest.raises(UserError, match="Pick 2–4"):
        views.tab("compare").compare([name])
    twin = shutil.copytree(trained_checkpoint, tmp_path / "lib" / "twin")
    shutil.copytree(trained_checkpoint, tmp_path / "lib" / name)
    config = json.loads((twin / "config.json").read_text())
    config["data"] = {"dataset": "fashion-mnist"}
    (twin / "config.json").write_text(json.dumps(config))
    compare = page_views(checkpoint_library.CheckpointLibrary(tmp_path / "lib"), views.ctx.test_sets).tab("compare")
    note, table, _, maps, plan = compare.compare([name, "twin"])
    assert "different data sets" in note and "Fashion-MNIST: twin" in html.unescape(note)
    assert [row[:2] for row in table] == [[name, "synthetic"], ["twin", "Fashion-MNIST"]]
    final = library.get(name).metrics["final"]
    assert table[0][6] == round(final["test"]["recon"] + final["test"]["kl"], 2) and table[0][9] == round(final["iwae"]["nll"], 2)
    plan = json.loads(plan)
    assert [g["names"] for g in plan["groups"]] == [[name], ["twin"]]
    assert len(plan["groups"][0]["models"]) == 1 and plan["groups"][0]["models"][0]["decoder"].split("?")[0].endswith("decoder.onnx")
    picture, caption = compare.compare_reconstructions([name, "twin"])
    assert "synthetic: rows = test images, then " + name in caption and np.asarray(picture).shape[0] > 2 * 58


def test_the_api_answers_any_input_with_a_result_or_a_message(served, name, capfd):
    """Generated arguments for every model endpoint through gradio_client: wrong types, non-finite and huge numbers,
    huge lists. Each call returns, or fails with a message (gr.Error: Gradio's own input checks, or our UserError);
    nothing else is raised in the server, and it still decodes afterwards."""
    from gradio_client import Client
    from hypothesis import given, settings
    from hypothesis import strategies as st

    client = Client(served, verbose=False)
    numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**12, 10**12) | st.just(1e308)
    anything = numbers | st.text(max_size=30) | st.none() | st.booleans() | st.lists(st.integers(), max_size=3)
    calls = st.one_of(
        st.tuples(st.just("/decode"), st.lists(numbers, min_size=64, max_size=64)),
        st.tuples(st.just("/traversal"), st.tuples(st.sampled_from(["zero", "a prior sample", "a test image's mean", "x"]),
                                                   anything, anything, anything, anything).map(list)),
        st.tuples(st.just("/interpolate"), st.lists(anything, min_size=3, max_size=3)),
        st.tuples(st.just("/prior_samples"), st.lists(anything, min_size=1, max_size=1)),
        st.tuples(st.just("/sample_vs_mean"), st.lists(anything, min_size=2, max_size=2)),
        st.tuples(st.just("/map_click"), st.lists(st.text(max_size=40) | anything, min_size=1, max_size=1)),
        st.tuples(st.just("/compare"), st.lists(st.lists(st.sampled_from([name, "nope", "", "../x"]) | st.text(max_size=8),
                                                         max_size=200), min_size=1, max_size=1)),
    )

    @settings(max_examples=30, derandomize=True, deadline=None)
    @given(call=calls)
    def one_call(call):
        endpoint, args = call
        with_name = args if endpoint == "/compare" else [name, *args]
        try:
            client.predict(*with_name, api_name=endpoint)
        except Exception:  # gradio_client's AppError (or a refused input): the app answered with an error
            pass

    one_call()
    import re

    log = capfd.readouterr()
    tracebacks = (log.err + log.out).split("Traceback (most recent call last):")[1:]
    ours = [t for t in tracebacks if "/explorer/" in t or "/training/" in t]  # Gradio's own input checks aside
    for trace in ours:
        last = [line for line in trace.splitlines() if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b", line)]
        assert last and last[-1].startswith("gradio.exceptions.Error"), trace[-1500:]  # our UserError, as a gr.Error
    assert Image.open(client.predict(name, *[0.5] * 64, api_name="/decode")).size[0] > 28
