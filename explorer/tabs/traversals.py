"""Traversals: each row sweeps one informative latent dimension from −3 to 3 with the others held fixed."""
from __future__ import annotations

import gradio as gr
import numpy as np

from training import numbers

from .. import figures, inference, latent_views, atlas_maps
from .common import Tab, browser_first, pixel_image, served

TRAVERSAL_STARTS = ("zero", "a prior sample", "a test image's mean")  # explorer.js traversalBase() reads these
TRAVERSAL_JS = "(...args) => vae.explorer.traversal(...args)"


class TraversalsTab(Tab):
    ID, LABEL = "traversals", "Traversals"

    def traversal_base(self, name, start, seed, index) -> np.ndarray:
        """Where a traversal starts: zero, a prior sample (seeded) or a test image's encoded mean (from the atlas)."""
        ck = self.ctx.library.get(name)
        z_dim = ck.config.model.z_dim
        if start == TRAVERSAL_STARTS[1]:
            return inference.random_prior_z(z_dim, numbers.seed_value(seed))
        if start == TRAVERSAL_STARTS[2]:
            return ck.atlas["means"][atlas_maps.parse_point_index(index, len(ck.atlas["labels"]))].numpy()
        return np.zeros(z_dim, dtype=np.float32)

    def traversal(self, name, start, seed, index, rows, columns):
        """The traversal grid: the `rows` most informative dimensions, each swept over `columns` values in −3…3."""
        dims = self.ctx.dimensions(name)
        rows = numbers.whole_number(rows, "Rows", 1, latent_views.MAX_TRAVERSAL_ROWS)
        chosen = (dims.informative or dims.order)[:rows]
        values = latent_views.traversal_values(numbers.whole_number(columns, "Columns", 2, latent_views.MAX_TRAVERSAL_COLUMNS))
        codes = latent_views.traversal_codes(self.traversal_base(name, start, seed, index), chosen, values)
        return served(figures.image_grid(inference.decode(self.ctx.model(name), codes), len(values), 2))


    def layout(self, page) -> None:
        gr.Markdown("Each row sweeps one latent dimension from −3 to 3 with the others held fixed: the rows are "
                    "the most informative (active) dimensions, largest KL at the top.")
        with gr.Row():
            self.start = gr.Radio(list(TRAVERSAL_STARTS), value=TRAVERSAL_STARTS[0], label="Start from", elem_id="trav-start")
            self.seed = gr.Number(0, label="Prior seed", precision=0, elem_id="trav-seed")
            self.index = gr.Number(0, label="Test image #", precision=0, elem_id="trav-index")
            self.rows = gr.Slider(1, latent_views.MAX_TRAVERSAL_ROWS, value=8, step=1, label="Rows (dimensions)",
                                  elem_id="trav-rows")
            self.columns = gr.Slider(3, latent_views.MAX_TRAVERSAL_COLUMNS, value=11, step=1, label="Columns (values)",
                                     elem_id="trav-columns")
        gr.HTML('<canvas id="traversal-canvas" class="digits" width="28" height="28"></canvas>'
                '<p id="traversal-caption"></p><a id="traversal-download" download="traversal.png" hidden>Download PNG</a>',
                elem_classes="browser-only")
        self.image = pixel_image("Traversal grid", server_only=True, elem_id="traversal-image")

    def wire(self, page) -> None:
        controls = [self.start, self.seed, self.index, self.rows, self.columns]
        browser_first([c.change for c in controls], TRAVERSAL_JS, controls, "server-traversal", self.traversal,
                      [page.checkpoint, *controls], self.image, "traversal")
