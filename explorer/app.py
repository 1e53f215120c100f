"""The Gradio layout and event wiring only: every callback calls a pure function from core/images/figures."""
from __future__ import annotations

import functools
import tempfile
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from training.errors import UserError

from . import core, figures, images, web_assets

SAMPLES_PER_DIGIT = 8
MAX_SLIDERS = 64
INFO_OUTPUTS = 4 + MAX_SLIDERS  # what Callbacks.checkpoint_info returns
SLIDER_RANGE = 3.0

# Every response image is a file in Gradio's cache: every 10 minutes, delete those older than 10 minutes, so a
# long-running public app does not fill its disk.
CACHE_CLEANUP = (600, 600)
# Every event that runs the model shares one queue (its size: `demo.queue(default_concurrency_limit=…)`), so the
# cores are shared fairly between slider moves, uploads and clicks instead of each event type having its own slots.
MODEL_QUEUE = "model"
# Views have a browser output (a canvas, shown while the model runs in the page) and a server output (shown when it
# cannot): explorer.js puts `vae-browser` or `vae-server` on <body>.
CSS = """
.bridge { display: none !important; }
.pixelated img, canvas.digits { image-rendering: pixelated; }
canvas.digits { display: inline-block !important; margin: 4px 8px 4px 0; vertical-align: top; }
body:not(.vae-browser) .browser-only, body:not(.vae-server) .server-only { display: none !important; }
.vae-star { position: absolute; transform: translate(-50%, -55%); font-size: 28px; color: #000; pointer-events: none;
            text-shadow: 0 0 3px #fff, 0 0 3px #fff; }
#drawpad canvas { width: 252px; height: 252px; touch-action: none; cursor: crosshair; border-radius: 4px; }
"""


def served(pixels: np.ndarray) -> Image.Image:
    """A response image whose PNG bytes are unique to this response.

    Gradio names cached output files by a hash of their bytes and rewrites the file in place, so two requests that
    produce the same image at once (every new visitor's all-zero slider decode) truncate the file while the other
    is downloading it ("Too little data for declared Content-Length" under load). A per-response PNG text chunk
    gives every response its own file.
    """
    image = Image.fromarray(pixels)
    image.info["response"] = uuid.uuid4().hex
    return image


def pixel_image(label: str, server_only: bool = False, **kwargs) -> gr.Image:
    """An output image shown with crisp pixels; PNG, because Gradio's default WebP encoding costs more per response.

    `server_only`: the server's output of a view that the page draws itself while its model runs there.
    """
    classes = ["pixelated", "server-only"] if server_only else ["pixelated"]
    return gr.Image(label=label, elem_classes=classes, format="png", interactive=False, **kwargs)


def friendly(fn):
    """Show a UserError's sentence in the UI (gr.Error) instead of a traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            raise gr.Error(str(err)) from None
    return wrapper


class Callbacks:
    """Thin adapters from UI values to the pure functions, bound to one checkpoint library and test set."""

    def __init__(self, library: core.CheckpointLibrary, test_images: core.TestImages, sprite: Path | None = None):
        self.library, self.test_images, self.sprite = library, test_images, sprite

    def _model(self, name):
        return self.library.get(name).model

    def _test_split_matches(self, name) -> bool:
        """The loaded test images are the ones this checkpoint's atlas encoded (same count, same order)."""
        split = self.test_images.split
        return split is not None and len(split.labels) == len(self.library.get(name).atlas["labels"])

    def _test_split(self, name):
        split = self.test_images.require()
        if not self._test_split_matches(name):
            raise UserError("The test images do not match this checkpoint's atlas; use the MNIST test set it was built on.")
        return split

    def _test_image(self, name, index) -> np.ndarray:
        split = self._test_split(name)
        index = core.parse_point_index(int(index or 0), len(split.labels))
        return split.images[index].numpy()

    def switch_checkpoint(self, name, active):
        """Open checkpoint `name`; if it cannot be loaded, warn and put the picker back on `active`, which keeps working."""
        try:
            self.library.get(name)
        except UserError as err:
            if active is None or active == name:
                raise
            gr.Warning(f"{err} Still showing {active}.")
            return [gr.Dropdown(value=active), active, *[gr.skip()] * INFO_OUTPUTS]
        return [gr.skip(), name, *self.checkpoint_info(name)]

    def runtime(self, name) -> str:
        """The page's runtime component: where its model, atlas and test digits are (the sprite only if they match)."""
        ck = self.library.get(name)
        sprite = self.sprite if self._test_split_matches(name) else None
        return web_assets.runtime_html(web_assets.runtime_config(name, ck.path, ck.config.model.z_dim, sprite))

    def checkpoint_info(self, name):
        """Summary, config JSON, runtime, map methods and one slider per latent dimension: INFO_OUTPUTS values."""
        ck = self.library.get(name)
        z_dim = ck.config.model.z_dim
        inactive = core.inactive_dims(ck.metrics)
        sliders = [
            gr.Slider(visible=i < z_dim, value=0.0, label=f"z{i}" + (" · unused" if i < len(inactive) and inactive[i] else ""))
            for i in range(MAX_SLIDERS)
        ]
        methods = core.map_methods(ck.atlas)
        return [core.checkpoint_summary(ck), {"config": ck.config.to_dict(), "final": ck.metrics.get("final", {})},
                self.runtime(name), gr.Radio(choices=methods, value=methods[0]), *sliders]

    def shuffle_reconstructions(self, name, digit, seed):
        split = self._test_split(name)
        picked = self.test_images.pick(split.labels.numpy(), digit, 16, int(seed))
        originals = split.images[picked].numpy()
        return served(figures.pairs_grid(originals, core.reconstruct(self._model(name), originals)))

    def reconstruct_drawing(self, name, data_url, method):
        """The drawing pad's PNG data URL (sent only when the page cannot run the model itself)."""
        return self._reconstruct_user_image(name, lambda: images.data_url_to_gray(data_url), method)

    def reconstruct_upload(self, name, path, method):
        if path is None:
            return None, None, "Upload an image file.", gr.skip(), None
        return self._reconstruct_user_image(name, lambda: images.read_image_file(path), method)

    def _reconstruct_user_image(self, name, read, method):
        """Never raises: a bad image becomes a message next to the canvas."""
        try:
            digit = images.to_mnist(read())
        except UserError as err:
            return None, None, f"⚠️ {err}", gr.skip(), None
        ck = self.library.get(name)
        means, _ = core.encode(ck.model, digit)
        recon = core.decode(ck.model, means)[0]
        scale = 8
        return (served(figures.image_grid(digit[None], 1, scale)), served(figures.image_grid(recon[None], 1, scale)),
                "The model's input (left, MNIST form) and its reconstruction (right). It is marked ★ on the latent map.",
                self.latent_map(name, method, means[0]), means[0])

    def sample_vs_mean(self, name, index, seed):
        image = self._test_image(name, index)
        ck = self.library.get(name)
        mean_img, samples, stds = core.posterior_samples(ck.model, image, SAMPLES_PER_DIGIT, int(seed))
        strip = served(figures.image_grid(np.concatenate([image[None], mean_img[None], samples]), SAMPLES_PER_DIGIT + 2, 4))
        return strip, figures.posterior_widths(stds, core.inactive_dims(ck.metrics))

    def posterior_widths(self, name, index):
        """q's std per dimension for a test digit, read from the atlas (no model run, no test images needed)."""
        ck = self.library.get(name)
        index = core.parse_point_index(int(index or 0), len(ck.atlas["labels"]))
        return figures.posterior_widths(ck.atlas["stds"][index].numpy(), core.inactive_dims(ck.metrics))

    def random_test_index(self, name, digit, seed):
        split = self._test_split(name)
        return int(self.test_images.pick(split.labels.numpy(), digit, 1, int(seed))[0])

    def decode_sliders(self, name, *values):
        z_dim = self.library.get(name).config.model.z_dim
        return served(figures.image_grid(core.decode(self._model(name), np.array(values[:z_dim], dtype=np.float32)), 1, 10))

    def sliders_to(self, name, z):
        z = np.clip(z, -SLIDER_RANGE, SLIDER_RANGE)
        values = list(z) + [0.0] * (MAX_SLIDERS - len(z))
        return [self.decode_sliders(name, *z), *[round(float(v), 2) for v in values]]

    def sliders_zero(self, name):
        return self.sliders_to(name, np.zeros(self.library.get(name).config.model.z_dim, dtype=np.float32))

    def sliders_prior(self, name, seed):
        return self.sliders_to(name, core.random_prior_z(self.library.get(name).config.model.z_dim, int(seed)))

    def sliders_from_digit(self, name, index):
        means, _ = core.encode(self._model(name), self._test_image(name, index))
        return self.sliders_to(name, means[0])

    def latent_map(self, name, method, marker_mean=None):
        ck = self.library.get(name)
        coords = core.map_coordinates(ck.atlas, method)
        marker = None if marker_mean is None else core.place_on_map(ck.atlas, marker_mean, method)
        return figures.latent_map(coords, ck.atlas["labels"].numpy(), method, marker)

    def map_click(self, name, raw):
        ck = self.library.get(name)
        labels = ck.atlas["labels"].numpy()
        index = core.parse_point_index(raw, len(labels))
        recon = core.decode(ck.model, ck.atlas["means"][index].numpy())[0]
        caption = f"Test image #{index}, digit **{labels[index]}**."
        if self.test_images.split is None:
            return None, served(figures.image_grid(recon[None], 1, 6)), caption + f" (original not shown: {self.test_images.message})"
        original = self._test_image(name, index)
        return served(figures.image_grid(original[None], 1, 6)), served(figures.image_grid(recon[None], 1, 6)), caption

    def interpolation(self, name, index_a, index_b, steps):
        strip = core.interpolate(self._model(name), self._test_image(name, index_a), self._test_image(name, index_b), int(steps))
        return served(figures.image_grid(strip, int(steps), 3))

    def prior_grid(self, name, seed):
        return served(figures.image_grid(core.prior_samples(self._model(name), 32, int(seed)), 8, 3))


def canvas_html(canvas_id: str, caption_id: str | None = None) -> str:
    """A canvas that explorer.js draws digits on, with an optional caption line it fills in."""
    caption = f'<p id="{caption_id}"></p>' if caption_id else ""
    return f'<canvas id="{canvas_id}" class="digits" width="28" height="28"></canvas>{caption}'


def digit_pair(prefix: str, labels: tuple[str, str]) -> tuple[gr.Image, gr.Image, gr.Markdown]:
    """Two digits and a caption: canvases the page draws on (`PREFIX-left-canvas`, `PREFIX-right-canvas`,
    `PREFIX-caption`), and the server's images and caption (`PREFIX-left`, …) shown when the page cannot."""
    gr.HTML(canvas_html(f"{prefix}-left-canvas") + canvas_html(f"{prefix}-right-canvas", f"{prefix}-caption"),
            elem_classes="browser-only")
    with gr.Row(elem_classes="server-only"):
        left = pixel_image(labels[0], elem_id=f"{prefix}-left")
        right = pixel_image(labels[1], elem_id=f"{prefix}-right")
        caption = gr.Markdown(elem_id=f"{prefix}-caption-server")
    return left, right, caption


DRAWPAD_HTML = '<div id="drawpad"><canvas></canvas><br><button class="clear" type="button">Clear</button></div>'


def browser_first(trigger, js: str, inputs, bridge_id: str, server_fn, server_inputs, outputs, api_name: str) -> None:
    """A view that runs in the visitor's browser (`js`, no request) and otherwise on the server.

    explorer.js clicks the hidden bridge button when its model could not start; the bridge's event is also the
    gradio_client endpoint `api_name`.
    """
    trigger(None, inputs, None, js=js)
    bridge = gr.Button(elem_id=bridge_id, elem_classes="bridge")
    bridge.click(friendly(server_fn), server_inputs, outputs, concurrency_id=MODEL_QUEUE, api_name=api_name)


def build_demo(library: core.CheckpointLibrary, default_name: str, test_images: core.TestImages) -> gr.Blocks:
    """The whole app; building it starts no server (tests build it freely)."""
    sprite = None
    if test_images.split is not None:
        sprite = web_assets.write_test_sprite(test_images.split.images.numpy(), Path(tempfile.mkdtemp(prefix="vae-explorer-web-")))
    gr.set_static_paths(web_assets.static_folders(library.folders(), sprite.parent if sprite else None))
    cb = Callbacks(library, test_images, sprite)
    default_z_dim = library.get(default_name).config.model.z_dim
    default_methods = core.map_methods(library.get(default_name).atlas)
    f = friendly
    digit_choices = ["any"] + [str(d) for d in range(10)]
    with gr.Blocks(title="VAE explorer", delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown("# VAE explorer\nHow a variational autoencoder trained on MNIST sees digits: what it keeps, what it "
                    "samples, and how its 32-dimensional latent space is laid out.")
        runtime = gr.HTML(cb.runtime(default_name), head=web_assets.head_html(), elem_id="vae-runtime",
                          js_on_load="vae.explorer.attach(element); watch('value', () => vae.explorer.attach(element));")
        if test_images.split is None:
            gr.Markdown(f"ℹ️ {test_images.message}")
        with gr.Row():
            ck_name = gr.Dropdown(library.all_names(), value=default_name, label="Checkpoint", scale=1)
            summary = gr.Markdown()
        with gr.Tabs():
            with gr.Tab("Reconstructions"):
                with gr.Row():
                    digit = gr.Dropdown(digit_choices, value="any", label="Digit class")
                    seed = gr.Number(0, label="Seed", precision=0)
                    shuffle = gr.Button("Shuffle", variant="primary")
                pairs = pixel_image("Test digits (odd rows) and their reconstructions (even rows)", elem_id="pairs")
                gr.Markdown("### Your own digit\nDraw one (white on black, like MNIST) or upload any image: it is "
                            "brought to MNIST's form — grayscale, 28×28, white ink on black, centred.")
                with gr.Row():
                    with gr.Column():
                        gr.HTML(DRAWPAD_HTML)
                        drawing_data = gr.Textbox(elem_id="drawing-data", elem_classes="bridge", show_label=False)
                        draw_input, draw_recon, draw_message = digit_pair("draw", ("Model input (28×28)", "Reconstruction"))
                    with gr.Column():
                        upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="upload")
                        with gr.Row():
                            user_input = pixel_image("Model input (28×28)", elem_id="user-input")
                            user_recon = pixel_image("Reconstruction", elem_id="user-recon")
                        user_message = gr.Markdown(elem_id="user-message")
            with gr.Tab("Sample vs mean"):
                gr.Markdown("A VAE encodes a digit as a *distribution* q(z|x). Left to right: the digit, the decoding of "
                            "q's mean, then decodings of samples z ~ q(z|x). The bars show q's width per dimension.")
                with gr.Row():
                    sv_index = gr.Number(0, label="Test image #", precision=0)
                    sv_digit = gr.Dropdown(digit_choices, value="any", label="Random digit of class")
                    sv_random = gr.Button("Random digit")
                    sv_seed = gr.Number(0, label="Sample seed", precision=0)
                gr.HTML(canvas_html("sv-canvas", "sv-message"), elem_classes="browser-only")
                sv_strip = pixel_image("digit · mean · samples", server_only=True)
                sv_widths = gr.Plot(label="posterior std")
            with gr.Tab("Latent sliders"):
                with gr.Row():
                    to_zero = gr.Button("All zero")
                    prior_seed = gr.Number(0, label="Prior seed", precision=0)
                    to_prior = gr.Button("Random from the prior")
                    from_index = gr.Number(0, label="Test image #", precision=0)
                    to_digit = gr.Button("Encode this digit")
                with gr.Row():
                    with gr.Column(scale=1):
                        gr.HTML(canvas_html("slider-canvas") + canvas_html("nearest-canvas", "nearest-caption"),
                                elem_classes="browser-only", elem_id="slider-browser")
                        slider_image = pixel_image("Decoded z", elem_id="slider-image", server_only=True)
                    with gr.Column(scale=3):
                        sliders = []
                        for row in range(0, MAX_SLIDERS, 4):
                            with gr.Row():
                                sliders += [gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0.0, step=0.05, label=f"z{i}",
                                                      elem_id=f"z{i}", elem_classes="latent-slider", min_width=120,
                                                      visible=i < default_z_dim) for i in range(row, row + 4)]
            with gr.Tab("Latent map"):
                method = gr.Radio(default_methods, value=default_methods[0], label="Projection")
                latent_plot = gr.Plot(elem_id="latent-map", label="Click a point to see the digit")
                click_box = gr.Textbox(elem_id="map-click-index", elem_classes="bridge", show_label=False)
                clicked_original, clicked_recon, clicked_caption = digit_pair("clicked", ("Clicked digit", "Its reconstruction"))
            with gr.Tab("Interpolate & sample"):
                with gr.Row():
                    index_a = gr.Number(3, label="From test image #", precision=0)
                    index_b = gr.Number(2, label="To test image #", precision=0)
                    steps = gr.Slider(3, 16, value=10, step=1, label="Steps")
                    interp_button = gr.Button("Interpolate", variant="primary")
                gr.HTML(canvas_html("interp-canvas", "interp-message"), elem_classes="browser-only")
                interp_strip = pixel_image("Decodings along the line between the two means", server_only=True)
                with gr.Row():
                    sample_seed = gr.Number(0, label="Seed", precision=0)
                    sample_button = gr.Button("Sample from the prior", variant="primary")
                gr.HTML(canvas_html("prior-canvas"), elem_classes="browser-only")
                prior_image = pixel_image("Decodings of z ~ N(0, I)", server_only=True)
            with gr.Tab("Checkpoint"):
                details = gr.JSON(label="config.json and final metrics")
        my_mean = gr.State(None)

        shared = dict(concurrency_id=MODEL_QUEUE)
        fast = dict(show_progress="hidden", trigger_mode="always_last")  # only the latest value of a fast control
        info_outputs = [summary, details, runtime, method, *sliders]
        active = gr.State(None)  # the checkpoint this session last opened successfully
        switch_outputs = [ck_name, active, *info_outputs]
        gr.on([demo.load, ck_name.change], f(cb.switch_checkpoint), [ck_name, active], switch_outputs, **shared, api_name=False)
        if test_images.split is not None:
            demo.load(f(cb.shuffle_reconstructions), [ck_name, digit, seed], pairs, **shared, api_name=False)
        shuffle.click(f(cb.shuffle_reconstructions), [ck_name, digit, seed], pairs, **shared, api_name="reconstructions")
        drawing_data.change(f(cb.reconstruct_drawing), [ck_name, drawing_data, method],
                            [draw_input, draw_recon, draw_message, latent_plot, my_mean], **shared, api_name="reconstruct_drawing", **fast)
        upload.upload(f(cb.reconstruct_upload), [ck_name, upload, method], [user_input, user_recon, user_message, latent_plot, my_mean],
                      **shared, api_name="reconstruct_upload")

        # The browser-first views: each runs in the page, and on the server through its bridge when it must.
        sv_js = "(index, seed) => vae.explorer.sampleVsMean(index, seed)"
        browser_first(lambda *a, **k: gr.on([sv_index.submit, sv_seed.submit], *a, **k), sv_js, [sv_index, sv_seed],
                      "server-sample-vs-mean", cb.sample_vs_mean, [ck_name, sv_index, sv_seed], [sv_strip, sv_widths], "sample_vs_mean")
        gr.on([sv_index.submit, sv_seed.submit], f(cb.posterior_widths), [ck_name, sv_index], sv_widths, **shared, api_name=False)
        sv_random.click(f(cb.random_test_index), [ck_name, sv_digit, sv_seed], sv_index, **shared, api_name=False).then(
            None, [sv_index, sv_seed], None, js=sv_js).then(f(cb.posterior_widths), [ck_name, sv_index], sv_widths, **shared, api_name=False)
        browser_first(lambda *a, **k: gr.on([s.change for s in sliders], *a, **k), "(...z) => vae.explorer.decodeSliders(z)", sliders,
                      "server-decode", cb.decode_sliders, [ck_name, *sliders], slider_image, "decode")
        to_zero.click(f(cb.sliders_zero), ck_name, [slider_image, *sliders], **shared, api_name="sliders_zero")
        to_prior.click(f(cb.sliders_prior), [ck_name, prior_seed], [slider_image, *sliders], **shared, api_name="sliders_prior")
        to_digit.click(f(cb.sliders_from_digit), [ck_name, from_index], [slider_image, *sliders], **shared, api_name="sliders_from_digit")
        gr.on([demo.load, method.change], f(cb.latent_map), [ck_name, method, my_mean], latent_plot, **shared, api_name="latent_map")
        method.change(None, method, None, js="(method) => vae.explorer.setMethod(method)")
        click_box.change(f(cb.map_click), [ck_name, click_box], [clicked_original, clicked_recon, clicked_caption], **shared, api_name="map_click")
        browser_first(interp_button.click, "(a, b, steps) => vae.explorer.interpolate(a, b, steps)", [index_a, index_b, steps],
                      "server-interpolate", cb.interpolation, [ck_name, index_a, index_b, steps], interp_strip, "interpolate")
        browser_first(sample_button.click, "(seed) => vae.explorer.priorSamples(seed)", sample_seed,
                      "server-prior", cb.prior_grid, [ck_name, sample_seed], prior_image, "prior_samples")
    return demo
