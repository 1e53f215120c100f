"""Latent map: the encoded means of the test set in 2-D (PCA, t-SNE or the latent plane itself); click a point."""
from __future__ import annotations

import gradio as gr

from training import safe_text
from training.scores import SCORE_NAMES

from .. import figures, inference, likelihood, atlas_maps, describe
from .common import SHARED, Tab, browser_first, digit_pair, friendly, panel_html, served





class LatentMapTab(Tab):
    ID, LABEL = "map", "Latent map"

    def latent_map(self, name, method, marker_mean=None, colour_by=likelihood.CLASS):
        """The map; `colour_by` "class" or a score's name (−ELBO, reconstruction, KL, −log p(x))."""
        ck = self.ctx.library.get(name)
        coords = atlas_maps.map_coordinates(ck.atlas, method)
        marker = None if marker_mean is None else atlas_maps.place_on_map(ck.atlas, marker_mean, method)
        colour = None
        if colour_by not in (None, likelihood.CLASS):
            likelihood.require_scores(ck.atlas, name)
            key = likelihood.score_key(colour_by)
            values = ck.atlas[key].numpy()
            colour = (SCORE_NAMES[key], values, likelihood.colour_range(values))
        return figures.latent_map(coords, ck.atlas["labels"].numpy(), method, marker, describe.checkpoint_classes(ck),
                                  describe.dataset_title(ck), colour)

    def map_click(self, name, raw):
        ck = self.ctx.library.get(name)
        labels = ck.atlas["labels"].numpy()
        index = atlas_maps.parse_point_index(raw, len(labels))
        recon = inference.decode(ck.model, ck.atlas["means"][index].numpy())[0]
        caption = f"Test image #{index}: **{safe_text.markdown(describe.checkpoint_classes(ck)[labels[index]])}**."
        if not self.ctx.test_split_matches(name):
            why = safe_text.markdown(self.ctx.images_of(name).message, safe_text.LONG)
            return None, served(figures.image_grid(recon[None], 1, 6)), caption + f" (original not shown: {why})"
        original = self.ctx.test_image(name, index)
        return served(figures.image_grid(original[None], 1, 6)), served(figures.image_grid(recon[None], 1, 6)), caption


    def on_open(self, name) -> dict:
        methods = atlas_maps.map_methods(self.ctx.library.get(name).atlas)
        return {self.method: gr.Radio(choices=methods, value=methods[0])}

    def layout(self, page) -> None:
        methods = atlas_maps.map_methods(self.ctx.library.get(self.ctx.default_name).atlas)
        with gr.Row():
            self.method = gr.Radio(methods, value=methods[0], label="Projection")
            self.colour = gr.Radio(likelihood.COLOUR_CHOICES, value=likelihood.CLASS, label="Colour by",
                                   elem_id="map-colour", info="a score per test image, in nats (the Likelihood tab ranks them)")
        self.plot = gr.Plot(elem_id="latent-map", label="Click a point to see the image")
        self.click_box = gr.Textbox(elem_id="map-click-index", elem_classes="bridge", show_label=False)
        self.clicked_original, self.clicked_recon, self.clicked_caption = digit_pair(
            "clicked", ("Clicked image", "Its reconstruction"))
        # drawn by explorer/web/map_instrument.js: a clicked point's neighbours, and a box or lasso selection
        gr.HTML(panel_html("map_instrument"), elem_classes="browser-only")
        # explorer/web/direction_view.js: the direction from selection A to selection B as a slider, a row and a map axis
        gr.HTML(panel_html("direction_view"), elem_classes="browser-only")
        self.opened = [self.method]

    def wire(self, page) -> None:
        f = friendly
        drawn = [page.checkpoint, self.method, page.drawn_mean, self.colour]
        # redrawn when a checkpoint opens, the projection changes, or the server encoded a drawing or upload (★)
        gr.on([page.active.change, self.method.change, page.drawn_mean.change], f(self.latent_map), drawn, self.plot,
              **SHARED, api_name="latent_map")
        # colouring is restyled in the page from its atlas (no request); the server redraws it where the page has no atlas
        browser_first([self.colour.change], "(colour) => vae.explorer.colourMap(colour)", self.colour,
                      "server-map-colour", self.latent_map, drawn, self.plot, "latent_map_coloured")
        self.method.change(None, self.method, None, js="(method) => vae.explorer.setMethod(method)")
        self.click_box.change(f(self.map_click), [page.checkpoint, self.click_box],
                              [self.clicked_original, self.clicked_recon, self.clicked_caption], **SHARED,
                              api_name="map_click")
