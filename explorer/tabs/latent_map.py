"""Latent map: the encoded means of the test set in 2-D (PCA, t-SNE or the latent plane itself); click a point."""
from __future__ import annotations

import gradio as gr

from training import safe_text
from training.scores import SCORE_NAMES

from .. import core, figures, likelihood
from .common import SHARED, browser_first, digit_pair, friendly, served

TAB = "map"


class Views:
    def latent_map(self, name, method, marker_mean=None, colour_by=likelihood.CLASS):
        """The map; `colour_by` "class" or a score's name (−ELBO, reconstruction, KL, −log p(x))."""
        ck = self.library.get(name)
        coords = core.map_coordinates(ck.atlas, method)
        marker = None if marker_mean is None else core.place_on_map(ck.atlas, marker_mean, method)
        colour = None
        if colour_by not in (None, likelihood.CLASS):
            likelihood.require_scores(ck.atlas, name)
            key = likelihood.score_key(colour_by)
            values = ck.atlas[key].numpy()
            colour = (SCORE_NAMES[key], values, likelihood.colour_range(values))
        return figures.latent_map(coords, ck.atlas["labels"].numpy(), method, marker, core.checkpoint_classes(ck),
                                  core.dataset_title(ck), colour)

    def map_click(self, name, raw):
        ck = self.library.get(name)
        labels = ck.atlas["labels"].numpy()
        index = core.parse_point_index(raw, len(labels))
        recon = core.decode(ck.model, ck.atlas["means"][index].numpy())[0]
        caption = f"Test image #{index}: **{safe_text.markdown(core.checkpoint_classes(ck)[labels[index]])}**."
        if not self._test_split_matches(name):
            why = safe_text.markdown(self.images_of(name).message, safe_text.LONG)
            return None, served(figures.image_grid(recon[None], 1, 6)), caption + f" (original not shown: {why})"
        original = self._test_image(name, index)
        return served(figures.image_grid(original[None], 1, 6)), served(figures.image_grid(recon[None], 1, 6)), caption


def layout(page) -> None:
    with gr.Row():
        page.method = gr.Radio(page.default_methods, value=page.default_methods[0], label="Projection")
        page.map_colour = gr.Radio(likelihood.COLOUR_CHOICES, value=likelihood.CLASS, label="Colour by", elem_id="map-colour",
                                   info="a score per test image, in nats (the Likelihood tab ranks them)")
    page.latent_plot = gr.Plot(elem_id="latent-map", label="Click a point to see the image")
    page.click_box = gr.Textbox(elem_id="map-click-index", elem_classes="bridge", show_label=False)
    page.clicked_original, page.clicked_recon, page.clicked_caption = digit_pair("clicked", ("Clicked image", "Its reconstruction"))
    # drawn by explorer/web/map_instrument.js: a clicked point's neighbours, and a box or lasso selection
    gr.HTML('<label><input type="checkbox" id="map-thumbnails"> Thumbnails: draw the digits themselves on the map '
            '(they appear by themselves once you zoom in far enough)</label> <span id="thumbnails-note"></span>'
            '<p id="neighbour-caption"></p><h4>Selection</h4><p id="selection-caption">Select points with the box or '
            "lasso tool of the map's toolbar: their images, their average and their reconstructions appear here.</p>"
            '<button id="selection-clear" type="button">Clear the selection</button><br>'
            '<canvas id="selection-mean-canvas" class="digits" width="28" height="28"></canvas>'
            '<canvas id="selection-canvas" class="digits" width="28" height="28"></canvas>', elem_classes="browser-only")
    # explorer/web/direction_view.js: the direction from selection A to selection B as a slider, a row and a map axis
    gr.HTML('<h4>Attribute direction</h4><p id="direction-caption">Select a group on the map and use it as A, then '
            'another as B (say upright and slanted 1s): the direction B − A in the latent space becomes a slider.</p>'
            '<button id="direction-a" type="button">Use the selection as A</button> '
            '<button id="direction-b" type="button">Use the selection as B</button> '
            '<button id="direction-map" type="button">Show the map along A→B</button><br>'
            '<label><input type="checkbox" id="direction-base-sliders"> move the Latent sliders\' z (otherwise the '
            'clicked test image)</label><br><input type="range" id="direction-amount" min="-2" max="3" step="0.05" value="0" '
            'style="width: 320px"> <span id="direction-amount-label"></span><br>'
            '<canvas id="direction-canvas" class="digits" width="28" height="28"></canvas>'
            '<canvas id="direction-row" class="digits" width="28" height="28"></canvas>', elem_classes="browser-only")


def wire(page) -> None:
    cb, f = page.cb, friendly
    gr.on([page.active.change, page.method.change], f(cb.latent_map), [page.ck_name, page.method, page.my_mean, page.map_colour],
          page.latent_plot, **SHARED, api_name="latent_map")
    # colouring is restyled in the page from its atlas (no request); the server redraws it where the page has no atlas
    browser_first([page.map_colour.change], "(colour) => vae.explorer.colourMap(colour)", page.map_colour,
                  "server-map-colour", cb.latent_map, [page.ck_name, page.method, page.my_mean, page.map_colour],
                  page.latent_plot, "latent_map_coloured")
    page.method.change(None, page.method, None, js="(method) => vae.explorer.setMethod(method)")
    page.click_box.change(f(cb.map_click), [page.ck_name, page.click_box],
                          [page.clicked_original, page.clicked_recon, page.clicked_caption], **SHARED, api_name="map_click")
