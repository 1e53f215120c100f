"""Traversals: each row sweeps one informative latent dimension from −3 to 3 with the others held fixed."""
from __future__ import annotations

import gradio as gr
import numpy as np

from training import numbers

from .. import core, figures, latent_views
from .common import browser_first, pixel_image, served

TAB = "traversals"
TRAVERSAL_STARTS = ("zero", "a prior sample", "a test image's mean")  # explorer.js traversalBase() reads these
TRAVERSAL_JS = "(...args) => vae.explorer.traversal(...args)"


class Views:
    def traversal_base(self, name, start, seed, index) -> np.ndarray:
        """Where a traversal starts: zero, a prior sample (seeded) or a test image's encoded mean (from the atlas)."""
        ck = self.library.get(name)
        z_dim = ck.config.model.z_dim
        if start == TRAVERSAL_STARTS[1]:
            return core.random_prior_z(z_dim, numbers.seed_value(seed))
        if start == TRAVERSAL_STARTS[2]:
            return ck.atlas["means"][core.parse_point_index(index, len(ck.atlas["labels"]))].numpy()
        return np.zeros(z_dim, dtype=np.float32)

    def traversal(self, name, start, seed, index, rows, columns):
        """The traversal grid: the `rows` most informative dimensions, each swept over `columns` values in −3…3."""
        dims = self.dimensions(name)
        rows = numbers.whole_number(rows, "Rows", 1, latent_views.MAX_TRAVERSAL_ROWS)
        chosen = (dims.informative or dims.order)[:rows]
        values = latent_views.traversal_values(numbers.whole_number(columns, "Columns", 2, latent_views.MAX_TRAVERSAL_COLUMNS))
        codes = latent_views.traversal_codes(self.traversal_base(name, start, seed, index), chosen, values)
        return served(figures.image_grid(core.decode(self._model(name), codes), len(values), 2))


def layout(page) -> None:
    gr.Markdown("Each row sweeps one latent dimension from −3 to 3 with the others held fixed: the rows are "
                "the most informative (active) dimensions, largest KL at the top.")
    with gr.Row():
        page.trav_start = gr.Radio(list(TRAVERSAL_STARTS), value=TRAVERSAL_STARTS[0], label="Start from", elem_id="trav-start")
        page.trav_seed = gr.Number(0, label="Prior seed", precision=0, elem_id="trav-seed")
        page.trav_index = gr.Number(0, label="Test image #", precision=0, elem_id="trav-index")
        page.trav_rows = gr.Slider(1, latent_views.MAX_TRAVERSAL_ROWS, value=8, step=1, label="Rows (dimensions)",
                                   elem_id="trav-rows")
        page.trav_columns = gr.Slider(3, latent_views.MAX_TRAVERSAL_COLUMNS, value=11, step=1, label="Columns (values)",
                                      elem_id="trav-columns")
    gr.HTML('<canvas id="traversal-canvas" class="digits" width="28" height="28"></canvas>'
            '<p id="traversal-caption"></p><a id="traversal-download" download="traversal.png" hidden>Download PNG</a>',
            elem_classes="browser-only")
    page.trav_image = pixel_image("Traversal grid", server_only=True, elem_id="traversal-image")


def wire(page) -> None:
    controls = [page.trav_start, page.trav_seed, page.trav_index, page.trav_rows, page.trav_columns]
    browser_first([c.change for c in controls], TRAVERSAL_JS, controls, "server-traversal", page.cb.traversal,
                  [page.ck_name, *controls], page.trav_image, "traversal")
