"""Sample vs mean: a VAE encodes an image as a distribution; the decoding of its mean beside decodings of samples."""
from __future__ import annotations

import gradio as gr
import numpy as np

from training import numbers

from .. import figures, inference, atlas_maps
from .common import FAST, SHARED, Tab, browser_first, canvas_html, class_choices, friendly, pixel_image, served

SAMPLES_PER_DIGIT = 8
SAMPLE_JS = "(index, seed) => vae.explorer.sampleVsMean(index, seed)"


class SampleTab(Tab):
    ID, LABEL = "sample", "Sample vs mean"

    def sample_vs_mean(self, name, index, seed):
        image = self.ctx.test_image(name, index)
        ck = self.ctx.library.get(name)
        mean_img, samples, stds = inference.posterior_samples(ck.model, image, SAMPLES_PER_DIGIT, numbers.seed_value(seed))
        strip = served(figures.image_grid(np.concatenate([image[None], mean_img[None], samples]), SAMPLES_PER_DIGIT + 2, 4))
        return strip, figures.posterior_widths(stds, self.ctx.dimensions(name).active)

    def posterior_widths(self, name, index):
        """q's std per dimension for a test image, read from the atlas (no model run, no test images needed)."""
        ck = self.ctx.library.get(name)
        index = atlas_maps.parse_point_index(index, len(ck.atlas["labels"]))
        return figures.posterior_widths(ck.atlas["stds"][index].numpy(), self.ctx.dimensions(name).active)

    def random_test_index(self, name, label, seed):
        split = self.ctx.test_split(name)
        return int(self.ctx.images_of(name).pick(split.labels.numpy(), label, 1, numbers.seed_value(seed))[0])


    def on_open(self, name) -> dict:
        return {self.sv_digit: gr.Dropdown(choices=class_choices(self.ctx.library.get(name)), value="any")}

    def layout(self, page) -> None:
        gr.Markdown("A VAE encodes an image as a *distribution* q(z|x). Left to right: the image, the decoding of "
                    "q's mean, then decodings of samples z ~ q(z|x). The bars show q's width per dimension.")
        with gr.Row():
            self.sv_index = gr.Number(0, label="Test image #", precision=0, elem_id="sv-index")
            self.sv_digit = gr.Dropdown(["any"], value="any", label="Random image of class")
            self.sv_random = gr.Button("Random image")
            self.sv_seed = gr.Number(0, label="Sample seed", precision=0, elem_id="sv-seed")
        gr.HTML(canvas_html("sv-canvas", "sv-message"), elem_classes="browser-only")
        self.sv_strip = pixel_image("image · mean · samples", server_only=True, elem_id="sv-strip")
        self.sv_widths = gr.Plot(label="posterior std", elem_id="sv-widths")
        self.opened = [self.sv_digit]

    def wire(self, page) -> None:
        f = friendly
        browser_first([self.sv_index.change, self.sv_seed.change], SAMPLE_JS, [self.sv_index, self.sv_seed],
                      "server-sample-vs-mean", self.sample_vs_mean, [page.checkpoint, self.sv_index, self.sv_seed],
                      [self.sv_strip, self.sv_widths], "sample_vs_mean")
        # the widths come from the atlas on the server; the page asks for them when it draws the tab first (sv-widths-bridge)
        widths_bridge = gr.Button(elem_id="sv-widths-bridge", elem_classes="bridge")
        gr.on([self.sv_index.change, widths_bridge.click], f(self.posterior_widths), [page.checkpoint, self.sv_index],
              self.sv_widths, **SHARED, **FAST, api_name=False)
        self.sv_random.click(f(self.random_test_index), [page.checkpoint, self.sv_digit, self.sv_seed], self.sv_index,
                             **SHARED, api_name=False)
