"""What every tab builds with: the Tab base, crisp response images, friendly errors, the page's canvases,
browser-first views."""
from __future__ import annotations

import functools
import uuid

import gradio as gr
import numpy as np
from PIL import Image

from training import safe_text
from training.errors import UserError

from .. import describe
from ..web_assets import WEB

# Every event that runs the model shares one queue (its size: `demo.queue(default_concurrency_limit=…)`), so the
# cores are shared fairly between slider moves, uploads and clicks instead of each event type having its own slots.
MODEL_QUEUE = "model"
SHARED = dict(concurrency_id=MODEL_QUEUE)
FAST = dict(show_progress="hidden", trigger_mode="always_last")  # only the latest value of a fast control


class Tab:
    """One tab of the page. It is given the PageContext (explorer/context.py), builds and owns its components in
    `layout`, wires its events in `wire` (reading the page's shared components: explorer/page.py), and says what
    it redraws when a checkpoint opens (`on_open`) or a link asks for a view (`on_link`) as {component: value} —
    over the components it lists in `opened` and `linked` once laid out. The page assembles these; no tab touches
    another tab's components."""

    ID = ""  # what links name (deep_links.TABS)
    LABEL = ""

    def __init__(self, ctx):
        self.ctx = ctx
        self.opened: list = []  # the components on_open may update
        self.linked: list = []  # the components on_link may update

    def layout(self, page) -> None:
        raise NotImplementedError

    def wire(self, page) -> None:
        """Nothing by default: a tab whose view changes only with the checkpoint."""

    def on_open(self, name) -> dict:
        return {}

    def on_link(self, name, link: dict) -> dict:
        return {}


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
    """Show a UserError's sentence in the UI (gr.Error, escaped: it may quote a path or a value) instead of a traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            raise gr.Error(safe_text.html_text(err, safe_text.LONG)) from None
    return wrapper


def panel_html(name: str) -> str:
    """A view's HTML, kept beside its script: explorer/web/NAME.html (drawn by NAME.js)."""
    return (WEB / f"{name}.html").read_text(encoding="utf-8")


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


def browser_first(triggers, js: str, inputs, bridge_id: str, server_fn, server_inputs, outputs, api_name: str) -> None:
    """A view that runs in the visitor's browser (`js`, no request) and otherwise on the server.

    `triggers`: the events that redraw it (its live controls). explorer.js also draws it when its tab first opens,
    and clicks the hidden bridge button when its model could not start; the bridge's event is also the
    gradio_client endpoint `api_name`.
    """
    gr.on(triggers, None, inputs, None, js=js)
    bridge = gr.Button(elem_id=bridge_id, elem_classes="bridge")
    bridge.click(friendly(server_fn), server_inputs, outputs, api_name=api_name, **SHARED)


def class_choices(ck) -> list[tuple[str, str]]:
    """A class picker's choices for a checkpoint: "any", then each class by name (its index as the value)."""
    return [("any", "any")] + [(c, str(i)) for i, c in enumerate(describe.checkpoint_classes(ck))]
