"""The Gradio layout and event wiring only: every callback calls a pure function from core/images/figures."""
from __future__ import annotations

import base64
import functools
import json
import tempfile
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from training import safe_text
from training.errors import UserError

from . import compare as compare_views
from . import core, deep_links, figures, images, latent_views, web_assets

SAMPLES_PER_DIGIT = 8
MAX_SLIDERS = 64
INFO_OUTPUTS = 10 + MAX_SLIDERS  # what Callbacks.checkpoint_info returns
TRAVERSAL_STARTS = ("zero", "a prior sample", "a test image's mean")
# Each tab's id (what links name, deep_links.TABS) and label; the page reads this to say which tab is open.
TAB_LABELS = {"reconstructions": "Reconstructions", "sample": "Sample vs mean", "sliders": "Latent sliders",
              "traversals": "Traversals", "map": "Latent map", "manifold": "2-D manifold",
              "interpolate": "Interpolate & sample", "compare": "Compare", "checkpoint": "Checkpoint"}
SLIDER_RANGE = 3.0
MAX_INTERPOLATION_STEPS = 16

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
.slider-row:not(:has(.latent-slider)) { display: none !important; }  /* a row whose sliders are all folded away */
.compare-row { display: flex; align-items: center; gap: 8px; }
.compare-label { min-width: 140px; font-family: monospace; }
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
            raise gr.Error(safe_text.html_text(err, safe_text.LONG)) from None
    return wrapper


class Callbacks:
    """Thin adapters from UI values to the pure functions, bound to one checkpoint library and the test sets."""

    def __init__(self, library: core.CheckpointLibrary, test_sets: core.TestSets, sprite_dir: Path | None = None,
                 default_name: str | None = None):
        self.library, self.test_sets, self.sprite_dir = library, test_sets, sprite_dir
        self.default_name = default_name or (library.all_names() or [None])[0]
        self._sprites: dict[str, Path] = {}
        self._dimensions: dict[str, latent_views.LatentDimensions] = {}

    def _model(self, name):
        return self.library.get(name).model

    def _images(self, name) -> core.TestImages:
        """The test images of this checkpoint's data set."""
        return self.test_sets.get(self.library.get(name).config.data.get("dataset"))

    def _test_split_matches(self, name) -> bool:
        """The loaded test images are the ones this checkpoint's atlas encoded (same count, same order)."""
        split = self._images(name).split
        return split is not None and len(split.labels) == len(self.library.get(name).atlas["labels"])

    def _test_split(self, name):
        split = self._images(name).require()
        if not self._test_split_matches(name):
            raise UserError("The test images do not match this checkpoint's atlas; use the test set it was built on.")
        return split

    def _test_image(self, name, index) -> np.ndarray:
        split = self._test_split(name)
        index = core.parse_point_index(index, len(split.labels))
        return split.images[index].numpy()

    def _sprite(self, name) -> Path | None:
        """The PNG of this checkpoint's test images for the page, written once per data set."""
        if self.sprite_dir is None or not self._test_split_matches(name):
            return None
        key = core.dataset_title(self.library.get(name))
        if key not in self._sprites:
            images = self._test_split(name).images.numpy()
            self._sprites[key] = web_assets.write_test_sprite(images, self.sprite_dir, f"test-{len(self._sprites)}.png")
        return self._sprites[key]

    def dimensions(self, name) -> latent_views.LatentDimensions:
        """The checkpoint's dimension order and activity, computed once (every server slider decode needs the order)."""
        if name not in self._dimensions:
            ck = self.library.get(name)
            self._dimensions[name] = latent_views.latent_dimensions(ck.metrics, ck.atlas["means"].numpy())
        return self._dimensions[name]

    def switch_checkpoint(self, name, active):
        """Open checkpoint `name`; if it cannot be loaded, warn and put the picker back on `active`, which keeps working."""
        try:
            self.library.get(name)
        except UserError as err:
            if active is None or active == name:
                raise
            gr.Warning(safe_text.html_text(f"{err} Still showing {active}.", safe_text.LONG))
            return [gr.Dropdown(value=active), active, *[gr.skip()] * INFO_OUTPUTS]
        return [gr.skip(), name, *self.checkpoint_info(name)]

    def read_link(self, request: gr.Request):
        """The page's URL query → the checkpoint and tab to open, a notice for what was refused, and the view (State)."""
        params = dict(request.query_params) if request is not None else {}
        query_chars = len(str(request.url.query)) if request is not None and getattr(request, "url", None) else 0
        link = deep_links.parse_view_link(params, self.library.all_names(), query_chars)
        name = link.checkpoint or self.default_name
        try:
            ck = self.library.get(name)
        except UserError:
            return gr.skip(), gr.skip(), "⚠️ The link's checkpoint could not be opened.", ""
        link = deep_links.fit_to_checkpoint(link, ck.config.model.z_dim, len(ck.atlas["labels"]))
        notice = " ".join(f"⚠️ {safe_text.markdown(n, safe_text.LONG)}" for n in link.notices)
        return (name if link.checkpoint else gr.skip(), gr.Tabs(selected=link.tab) if link.tab else gr.skip(), notice,
                json.dumps(link.to_dict()))

    def apply_link(self, name, link):
        """Set what the link asks for once its checkpoint is open: slider values, or the comparison."""
        n_outputs = 1 + MAX_SLIDERS + 6
        link = json.loads(link) if link else None  # written by read_link
        if not link:
            return [gr.skip()] * n_outputs
        sliders = [gr.skip()] * (1 + MAX_SLIDERS)
        if link.get("z") is not None:
            sliders = self.sliders_to(name, np.asarray(link["z"], dtype=np.float32))
        compared = [gr.skip()] * 6
        if link.get("compare"):
            compared = [gr.CheckboxGroup(value=link["compare"]), *self.compare(link["compare"])]
        return [*sliders, *compared]

    def runtime(self, name) -> str:
        """The page's runtime component: where its model, atlas and test images are, and how to show its dimensions."""
        ck = self.library.get(name)
        dims = self.dimensions(name)
        config = web_assets.runtime_config(name, ck.path, ck.config.model.z_dim, self._sprite(name))
        config.update(classes=core.checkpoint_classes(ck), dataset=core.dataset_title(ck), order=dims.order,
                      active=dims.active, kl=[round(v, 4) for v in dims.kl], tabs=TAB_LABELS)
        return web_assets.runtime_html(config)

    def checkpoint_info(self, name):
        """Everything that changes with the checkpoint: INFO_OUTPUTS values, in the order of `info_outputs`."""
        ck = self.library.get(name)
        dims = self.dimensions(name)
        methods = core.map_methods(ck.atlas)
        class_choices = [("any", "any")] + [(c, str(i)) for i, c in enumerate(core.checkpoint_classes(ck))]
        n_inactive = ck.config.model.z_dim - len(dims.informative)
        z2 = ck.config.model.z_dim == 2
        return [
            core.checkpoint_summary(ck, len(dims.informative)),
            {"config": ck.config.to_dict(), "final": ck.metrics.get("final", {})},
            self.runtime(name), gr.Radio(choices=methods, value=methods[0]),
            gr.Dropdown(choices=class_choices, value="any"), gr.Dropdown(choices=class_choices, value="any"),
            gr.Checkbox(value=False, label=f"Show the {n_inactive} inactive dimensions", visible=n_inactive > 0),
            figures.kl_bars(dims.kl, dims.active, dims.order),
            gr.Markdown(visible=not z2), gr.Column(visible=z2),
            *self.slider_updates(name, show_inactive=False, reset=True),
        ]

    def slider_updates(self, name, show_inactive, reset=False):
        """Slider k shows latent dimension order[k]: active dimensions by KL first; inactive ones only on request."""
        dims = self.dimensions(name)
        shown = len(dims.order) if show_inactive else len(dims.informative)
        updates = []
        for k in range(MAX_SLIDERS):
            if k >= len(dims.order):
                updates.append(gr.Slider(visible=False))
                continue
            d = dims.order[k]
            label = f"z{d} · KL {dims.kl[d]:.2f}" + ("" if dims.active[d] else " · inactive")
            extra = {"value": 0.0} if reset else {}
            updates.append(gr.Slider(visible=k < max(shown, 1), label=label, **extra))
        return updates

    def shuffle_reconstructions(self, name, label, seed):
        split = self._test_split(name)
        picked = self._images(name).pick(split.labels.numpy(), label, 16, core.seed_value(seed))
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
            return None, None, f"⚠️ {safe_text.markdown(err, safe_text.LONG)}", gr.skip(), None
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
        mean_img, samples, stds = core.posterior_samples(ck.model, image, SAMPLES_PER_DIGIT, core.seed_value(seed))
        strip = served(figures.image_grid(np.concatenate([image[None], mean_img[None], samples]), SAMPLES_PER_DIGIT + 2, 4))
        return strip, figures.posterior_widths(stds, self.dimensions(name).active)

    def posterior_widths(self, name, index):
        """q's std per dimension for a test image, read from the atlas (no model run, no test images needed)."""
        ck = self.library.get(name)
        index = core.parse_point_index(index, len(ck.atlas["labels"]))
        return figures.posterior_widths(ck.atlas["stds"][index].numpy(), self.dimensions(name).active)

    def random_test_index(self, name, label, seed):
        split = self._test_split(name)
        return int(self._images(name).pick(split.labels.numpy(), label, 1, core.seed_value(seed))[0])

    def _z_from_sliders(self, name, values) -> np.ndarray:
        """Slider values (in display order) → the latent code (in dimension order)."""
        order = self.dimensions(name).order
        try:
            given = np.asarray(values[: len(order)], dtype=np.float64)
        except (TypeError, ValueError):
            given = np.array([np.nan])
        if given.shape != (len(order),) or not np.isfinite(given).all():
            raise UserError(f"The decoder takes {len(order)} finite slider values.")
        z = np.zeros(len(order), dtype=np.float32)
        z[order] = np.clip(given, -SLIDER_RANGE, SLIDER_RANGE)
        return z

    def decode_sliders(self, name, *values):
        return served(figures.image_grid(core.decode(self._model(name), self._z_from_sliders(name, values)), 1, 10))

    def sliders_to(self, name, z):
        """Move the sliders to code z: the decoded image and each slider's value (display order)."""
        z = np.clip(np.asarray(z, dtype=np.float32), -SLIDER_RANGE, SLIDER_RANGE)
        values = [round(float(z[d]), 2) for d in self.dimensions(name).order]
        values += [0.0] * (MAX_SLIDERS - len(values))
        return [self.decode_sliders(name, *values), *values]

    def sliders_zero(self, name):
        return self.sliders_to(name, np.zeros(self.library.get(name).config.model.z_dim, dtype=np.float32))

    def sliders_prior(self, name, seed):
        return self.sliders_to(name, core.random_prior_z(self.library.get(name).config.model.z_dim, core.seed_value(seed)))

    def sliders_from_digit(self, name, index):
        means, _ = core.encode(self._model(name), self._test_image(name, index))
        return self.sliders_to(name, means[0])

    def latent_map(self, name, method, marker_mean=None):
        ck = self.library.get(name)
        coords = core.map_coordinates(ck.atlas, method)
        marker = None if marker_mean is None else core.place_on_map(ck.atlas, marker_mean, method)
        return figures.latent_map(coords, ck.atlas["labels"].numpy(), method, marker, core.checkpoint_classes(ck),
                                  core.dataset_title(ck))

    def map_click(self, name, raw):
        ck = self.library.get(name)
        labels = ck.atlas["labels"].numpy()
        index = core.parse_point_index(raw, len(labels))
        recon = core.decode(ck.model, ck.atlas["means"][index].numpy())[0]
        caption = f"Test image #{index}: **{safe_text.markdown(core.checkpoint_classes(ck)[labels[index]])}**."
        if not self._test_split_matches(name):
            why = safe_text.markdown(self._images(name).message, safe_text.LONG)
            return None, served(figures.image_grid(recon[None], 1, 6)), caption + f" (original not shown: {why})"
        original = self._test_image(name, index)
        return served(figures.image_grid(original[None], 1, 6)), served(figures.image_grid(recon[None], 1, 6)), caption

    def interpolation(self, name, index_a, index_b, steps):
        steps = core.whole_number(steps, "Steps", 2, MAX_INTERPOLATION_STEPS)
        strip = core.interpolate(self._model(name), self._test_image(name, index_a), self._test_image(name, index_b), steps)
        return served(figures.image_grid(strip, steps, 3))

    def prior_grid(self, name, seed):
        return served(figures.image_grid(core.prior_samples(self._model(name), 32, core.seed_value(seed)), 8, 3))

    def traversal_base(self, name, start, seed, index) -> np.ndarray:
        """Where a traversal starts: zero, a prior sample (seeded) or a test image's encoded mean (from the atlas)."""
        ck = self.library.get(name)
        z_dim = ck.config.model.z_dim
        if start == TRAVERSAL_STARTS[1]:
            return core.random_prior_z(z_dim, core.seed_value(seed))
        if start == TRAVERSAL_STARTS[2]:
            return ck.atlas["means"][core.parse_point_index(index, len(ck.atlas["labels"]))].numpy()
        return np.zeros(z_dim, dtype=np.float32)

    def traversal(self, name, start, seed, index, rows, columns):
        """The traversal grid: the `rows` most informative dimensions, each swept over `columns` values in −3…3."""
        dims = self.dimensions(name)
        rows = core.whole_number(rows, "Rows", 1, latent_views.MAX_TRAVERSAL_ROWS)
        chosen = (dims.informative or dims.order)[:rows]
        values = latent_views.traversal_values(core.whole_number(columns, "Columns", 2, latent_views.MAX_TRAVERSAL_COLUMNS))
        codes = latent_views.traversal_codes(self.traversal_base(name, start, seed, index), chosen, values)
        return served(figures.image_grid(core.decode(self._model(name), codes), len(values), 2))

    def manifold(self, name, show_means):
        """The 2-D latent's 20×20 decodings over [-3, 3]², with the test set's means drawn over it when asked."""
        ck = self.library.get(name)
        codes = latent_views.manifold_codes(ck.config.model.z_dim)
        size = latent_views.MANIFOLD_SIZE
        grid = figures.image_grid(core.decode(ck.model, codes), size, 1)
        if not show_means:
            return served(grid)
        return served(figures.points_over_grid(grid, ck.atlas["means"].numpy(), ck.atlas["labels"].numpy(),
                                               latent_views.MANIFOLD_EXTENT, cell=30, pad=2))

    def compare(self, names, drawing_data=None):
        """The comparison: a note, the metrics table, KL bars, small-multiple maps, and the page's plan (JSON)."""
        chosen = compare_views.checked_selection(names, self.library.all_names())
        checkpoints = {n: self.library.get(n) for n in chosen}
        groups = compare_views.group_by_dataset(checkpoints)
        dims = {n: self.dimensions(n) for n in chosen}
        table = [compare_views.metrics_row(n, ck, len(dims[n].informative)) for n, ck in checkpoints.items()]
        kl = figures.kl_bars_compared([(n, dims[n].kl, dims[n].active) for n in chosen])
        maps = figures.maps_compared([
            (f"{n} ({core.map_methods(ck.atlas)[0]})", core.map_coordinates(ck.atlas, core.map_methods(ck.atlas)[0]),
             ck.atlas["labels"].numpy(), core.checkpoint_classes(ck)) for n, ck in checkpoints.items()])
        plan = {"groups": [self._compare_group_plan(g) for g in groups]}
        note = compare_views.separation_note(groups) or f"All on the {safe_text.markdown(groups[0].dataset)} test set."
        return note, table, kl, maps, json.dumps(plan)

    def _compare_group_plan(self, group) -> dict:
        """What the page needs to reconstruct one group's test images with each of its checkpoints."""
        first = group.names[0]
        split = self._test_split(first) if self._test_split_matches(first) else None
        indices = compare_views.one_per_class(split.labels.numpy()) if split is not None else []
        pixels = split.images[indices].numpy().tobytes() if indices else b""
        models = []
        for n in group.names:
            ck = self.library.get(n)
            models.append(web_assets.runtime_config(n, ck.path, ck.config.model.z_dim, None))
        return {"dataset": group.dataset, "names": group.names, "indices": indices,
                "images": base64.b64encode(pixels).decode("ascii"), "models": models}

    def compare_reconstructions(self, names, drawing_data=None):
        """The server's picture of the comparison: per data set, its test images and each checkpoint's reconstructions."""
        chosen = compare_views.checked_selection(names, self.library.all_names())
        groups = compare_views.group_by_dataset({n: self.library.get(n) for n in chosen})
        drawn = None
        if drawing_data:
            try:
                drawn = images.to_mnist(images.data_url_to_gray(drawing_data))
            except UserError:
                drawn = None
        blocks, caption = [], []
        for group in groups:
            split = self._test_split(group.names[0])
            originals = split.images[compare_views.one_per_class(split.labels.numpy())].numpy()
            if drawn is not None:
                originals = np.concatenate([originals, drawn[None]])
            rows = [originals] + [core.reconstruct(self._model(n), originals) for n in group.names]
            blocks.append(figures.image_grid(np.concatenate(rows), len(originals), 2))
            caption.append(f"{safe_text.markdown(group.dataset)}: rows = test images, then "
                           + ", ".join(safe_text.markdown(n) for n in group.names))
        width = max(b.shape[1] for b in blocks)
        picture = np.concatenate([np.pad(b, ((0, 8), (0, width - b.shape[1])), constant_values=255) for b in blocks])
        return served(picture), " · ".join(caption)


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


def build_demo(library: core.CheckpointLibrary, default_name: str, test_sets: core.TestSets) -> gr.Blocks:
    """The whole app; building it starts no server (tests build it freely)."""
    sprite_dir = Path(tempfile.mkdtemp(prefix="vae-explorer-web-"))
    gr.set_static_paths(web_assets.static_folders(library.folders(), sprite_dir))
    cb = Callbacks(library, test_sets, sprite_dir, default_name)
    default = library.get(default_name)
    default_images = cb._images(default_name)
    default_methods = core.map_methods(default.atlas)
    f = friendly
    names = library.all_names()
    with gr.Blocks(title="VAE explorer", delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown("# VAE explorer\nHow a variational autoencoder sees images: what it keeps, what it samples, how its "
                    "latent space is laid out, and how models with another β, latent size or data set compare.")
        runtime = gr.HTML(cb.runtime(default_name), head=web_assets.head_html(), elem_id="vae-runtime",
                          js_on_load="vae.explorer.attach(element); watch('value', () => vae.explorer.attach(element));")
        if default_images.split is None:
            gr.Markdown(f"ℹ️ {safe_text.markdown(default_images.message, safe_text.LONG)}")
        with gr.Row():
            ck_name = gr.Dropdown(names, value=default_name, label="Checkpoint", scale=1)
            summary = gr.Markdown()
        link_notice = gr.Markdown(elem_id="link-notice")
        with gr.Row():
            view_link = gr.Textbox(label="Link to this view", elem_id="view-link", interactive=False, scale=3, buttons=["copy"])
            copy_link = gr.Button("Copy link to this view", elem_id="copy-link", scale=1)
        with gr.Tabs() as tabs:
            with gr.Tab(TAB_LABELS["reconstructions"], id="reconstructions"):
                with gr.Row():
                    digit = gr.Dropdown(["any"], value="any", label="Class")
                    seed = gr.Number(0, label="Seed", precision=0)
                    shuffle = gr.Button("Shuffle", variant="primary")
                pairs = pixel_image("Test images (odd rows) and their reconstructions (even rows)", elem_id="pairs")
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
            with gr.Tab(TAB_LABELS["sample"], id="sample"):
                gr.Markdown("A VAE encodes an image as a *distribution* q(z|x). Left to right: the image, the decoding of "
                            "q's mean, then decodings of samples z ~ q(z|x). The bars show q's width per dimension.")
                with gr.Row():
                    sv_index = gr.Number(0, label="Test image #", precision=0)
                    sv_digit = gr.Dropdown(["any"], value="any", label="Random image of class")
                    sv_random = gr.Button("Random image")
                    sv_seed = gr.Number(0, label="Sample seed", precision=0)
                gr.HTML(canvas_html("sv-canvas", "sv-message"), elem_classes="browser-only")
                sv_strip = pixel_image("image · mean · samples", server_only=True)
                sv_widths = gr.Plot(label="posterior std")
            with gr.Tab(TAB_LABELS["sliders"], id="sliders"):
                with gr.Row():
                    to_zero = gr.Button("All zero")
                    prior_seed = gr.Number(0, label="Prior seed", precision=0)
                    to_prior = gr.Button("Random from the prior")
                    from_index = gr.Number(0, label="Test image #", precision=0)
                    to_digit = gr.Button("Encode this image")
                with gr.Row():
                    with gr.Column(scale=1):
                        gr.HTML(canvas_html("slider-canvas") + canvas_html("nearest-canvas", "nearest-caption"),
                                elem_classes="browser-only", elem_id="slider-browser")
                        slider_image = pixel_image("Decoded z", elem_id="slider-image", server_only=True)
                    with gr.Column(scale=3):
                        gr.Markdown("Most informative dimensions first (by their KL on the test set).")
                        sliders = []
                        for row in range(0, MAX_SLIDERS, 4):
                            with gr.Row(elem_classes="slider-row"):
                                sliders += [gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0.0, step=0.01, label=f"slider {k}",
                                                      elem_id=f"slider-{k}", elem_classes="latent-slider", min_width=120,
                                                      visible=False) for k in range(row, row + 4)]
                        show_inactive = gr.Checkbox(False, label="Show the inactive dimensions", elem_id="show-inactive")
                kl_plot = gr.Plot(label="KL per dimension", elem_id="kl-bars")
            with gr.Tab(TAB_LABELS["traversals"], id="traversals"):
                gr.Markdown("Each row sweeps one latent dimension from −3 to 3 with the others held fixed: the rows are "
                            "the most informative (active) dimensions, largest KL at the top.")
                with gr.Row():
                    trav_start = gr.Radio(list(TRAVERSAL_STARTS), value=TRAVERSAL_STARTS[0], label="Start from")
                    trav_seed = gr.Number(0, label="Prior seed", precision=0)
                    trav_index = gr.Number(0, label="Test image #", precision=0)
                    trav_rows = gr.Slider(1, latent_views.MAX_TRAVERSAL_ROWS, value=8, step=1, label="Rows (dimensions)")
                    trav_columns = gr.Slider(3, latent_views.MAX_TRAVERSAL_COLUMNS, value=11, step=1, label="Columns (values)")
                    trav_button = gr.Button("Draw the grid", variant="primary")
                gr.HTML('<canvas id="traversal-canvas" class="digits" width="28" height="28"></canvas>'
                        '<p id="traversal-caption"></p><a id="traversal-download" download="traversal.png" hidden>Download PNG</a>',
                        elem_classes="browser-only")
                trav_image = pixel_image("Traversal grid", server_only=True, elem_id="traversal-image")
            with gr.Tab(TAB_LABELS["map"], id="map"):
                method = gr.Radio(default_methods, value=default_methods[0], label="Projection")
                latent_plot = gr.Plot(elem_id="latent-map", label="Click a point to see the image")
                click_box = gr.Textbox(elem_id="map-click-index", elem_classes="bridge", show_label=False)
                clicked_original, clicked_recon, clicked_caption = digit_pair("clicked", ("Clicked image", "Its reconstruction"))
            with gr.Tab(TAB_LABELS["manifold"], id="manifold"):
                manifold_notice = gr.Markdown("This view needs a checkpoint with a 2-D latent (z_dim = 2), such as "
                                              "`mnist-z2`: pick it above.", elem_id="manifold-notice")
                with gr.Column(visible=False) as manifold_view:
                    gr.Markdown("The decoder's output over the latent square [−3, 3]² (20 × 20 codes, z₁ up), with each "
                                "test image's encoded mean drawn over it in its class colour.")
                    with gr.Row():
                        manifold_means = gr.Checkbox(True, label="Show the test images' means", elem_id="manifold-means")
                        manifold_button = gr.Button("Draw", variant="primary", elem_id="manifold-draw")
                    gr.HTML('<canvas id="manifold-canvas" class="digits" width="28" height="28"></canvas><p id="manifold-legend"></p>',
                            elem_classes="browser-only")
                    manifold_image = pixel_image("2-D manifold", server_only=True, elem_id="manifold-image")
            with gr.Tab(TAB_LABELS["interpolate"], id="interpolate"):
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
            with gr.Tab(TAB_LABELS["compare"], id="compare"):
                gr.Markdown("Pick 2–4 checkpoints: the same test images (and your drawing, if you made one) "
                            "reconstructed by each, their test metrics, their KL per dimension and their maps. "
                            "Checkpoints of different data sets are shown on their own data.")
                with gr.Row():
                    compare_pick = gr.CheckboxGroup(names, value=compare_views.first_selection(names, default_name, library.dataset_of),
                                                    label="Checkpoints", elem_id="compare-pick")
                    compare_button = gr.Button("Compare", variant="primary", elem_id="compare-button")
                compare_note = gr.Markdown(elem_id="compare-note")
                gr.HTML('<div id="compare-browser"></div>', elem_classes="browser-only")
                compare_image = pixel_image("Test images (top row) and each checkpoint's reconstructions", server_only=True,
                                            elem_id="compare-image")
                compare_caption = gr.Markdown(elem_classes="server-only")
                compare_table = gr.Dataframe(headers=compare_views.TABLE_COLUMNS, label="Test metrics (nats per image)",
                                             interactive=False, elem_id="compare-table")
                compare_kl = gr.Plot(label="KL per dimension")
                compare_maps = gr.Plot(label="Maps")
                compare_plan = gr.Textbox(elem_id="compare-plan", elem_classes="bridge", show_label=False)
            with gr.Tab(TAB_LABELS["checkpoint"], id="checkpoint"):
                details = gr.JSON(label="config.json and final metrics")
        my_mean = gr.State(None)

        shared = dict(concurrency_id=MODEL_QUEUE)
        fast = dict(show_progress="hidden", trigger_mode="always_last")  # only the latest value of a fast control
        info_outputs = [summary, details, runtime, method, digit, sv_digit, show_inactive, kl_plot, manifold_notice,
                        manifold_view, *sliders]
        active = gr.State(None)  # the checkpoint this session last opened successfully
        switch_outputs = [ck_name, active, *info_outputs]
        # A link opens its view: read the query, open its checkpoint, then set the view. The picker listens to .input
        # (a user's pick) so the checkpoint the link sets does not trigger a second switch that would reset the view.
        link = gr.Textbox(elem_id="view-link-request", elem_classes="bridge", show_label=False)  # JSON: the page reads it too
        demo.load(cb.read_link, None, [ck_name, tabs, link_notice, link], api_name=False).then(
            f(cb.switch_checkpoint), [ck_name, active], switch_outputs, **shared, api_name=False).then(
            f(cb.apply_link), [ck_name, link], [slider_image, *sliders, compare_pick, compare_note, compare_table, compare_kl,
                                                compare_maps, compare_plan], **shared, api_name=False).then(
            None, [link, compare_plan], None, js="(link, plan) => vae.explorer.openLink(link, plan)")
        ck_name.input(f(cb.switch_checkpoint), [ck_name, active], switch_outputs, **shared, api_name=False)
        copy_link.click(None, None, view_link, js="() => vae.explorer.copyLink()")
        show_inactive.change(f(cb.slider_updates), [ck_name, show_inactive], sliders, api_name=False)
        if default_images.split is not None:
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
        browser_first(lambda *a, **k: gr.on([s.change for s in sliders], *a, **k), "(...values) => vae.explorer.decodeSliders(values)", sliders,
                      "server-decode", cb.decode_sliders, [ck_name, *sliders], slider_image, "decode")
        to_zero.click(f(cb.sliders_zero), ck_name, [slider_image, *sliders], **shared, api_name="sliders_zero")
        to_prior.click(f(cb.sliders_prior), [ck_name, prior_seed], [slider_image, *sliders], **shared, api_name="sliders_prior")
        to_digit.click(f(cb.sliders_from_digit), [ck_name, from_index], [slider_image, *sliders], **shared, api_name="sliders_from_digit")
        browser_first(trav_button.click, "(...args) => vae.explorer.traversal(...args)", [trav_start, trav_seed, trav_index, trav_rows, trav_columns],
                      "server-traversal", cb.traversal, [ck_name, trav_start, trav_seed, trav_index, trav_rows, trav_columns],
                      trav_image, "traversal")
        gr.on([demo.load, method.change], f(cb.latent_map), [ck_name, method, my_mean], latent_plot, **shared, api_name="latent_map")
        method.change(None, method, None, js="(method) => vae.explorer.setMethod(method)")
        click_box.change(f(cb.map_click), [ck_name, click_box], [clicked_original, clicked_recon, clicked_caption], **shared, api_name="map_click")
        browser_first(lambda *a, **k: gr.on([manifold_button.click, manifold_means.change], *a, **k),
                      "(show) => vae.explorer.manifold(show)", manifold_means, "server-manifold", cb.manifold,
                      [ck_name, manifold_means], manifold_image, "manifold")
        browser_first(interp_button.click, "(a, b, steps) => vae.explorer.interpolate(a, b, steps)", [index_a, index_b, steps],
                      "server-interpolate", cb.interpolation, [ck_name, index_a, index_b, steps], interp_strip, "interpolate")
        browser_first(sample_button.click, "(seed) => vae.explorer.priorSamples(seed)", sample_seed,
                      "server-prior", cb.prior_grid, [ck_name, sample_seed], prior_image, "prior_samples")
        compare_button.click(f(cb.compare), compare_pick, [compare_note, compare_table, compare_kl, compare_maps, compare_plan],
                             **shared, api_name="compare").then(None, compare_plan, None, js="(plan) => vae.explorer.compare(plan)")
        bridge = gr.Button(elem_id="server-compare", elem_classes="bridge")
        bridge.click(f(cb.compare_reconstructions), [compare_pick, drawing_data], [compare_image, compare_caption],
                     **shared, api_name="compare_reconstructions")
    return demo
