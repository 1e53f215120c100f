"""Sample vs mean: a VAE encodes an image as a distribution; the decoding of its mean beside decodings of samples."""
from __future__ import annotations

import gradio as gr
import numpy as np

from training import numbers

from .. import core, figures
from .common import FAST, SHARED, browser_first, canvas_html, friendly, pixel_image, served

TAB = "sample"
SAMPLES_PER_DIGIT = 8
SAMPLE_JS = "(index, seed) => vae.explorer.sampleVsMean(index, seed)"


class Views:
    def sample_vs_mean(self, name, index, seed):
        image = self._test_image(name, index)
        ck = self.library.get(name)
        mean_img, samples, stds = core.posterior_samples(ck.model, image, SAMPLES_PER_DIGIT, numbers.seed_value(seed))
        strip = served(figures.image_grid(np.concatenate([image[None], mean_img[None], samples]), SAMPLES_PER_DIGIT + 2, 4))
        return strip, figures.posterior_widths(stds, self.dimensions(name).active)

    def posterior_widths(self, name, index):
        """q's std per dimension for a test image, read from the atlas (no model run, no test images needed)."""
        ck = self.library.get(name)
        index = core.parse_point_index(index, len(ck.atlas["labels"]))
        return figures.posterior_widths(ck.atlas["stds"][index].numpy(), self.dimensions(name).active)

    def random_test_index(self, name, label, seed):
        split = self._test_split(name)
        return int(self.images_of(name).pick(split.labels.numpy(), label, 1, numbers.seed_value(seed))[0])


def layout(page) -> None:
    gr.Markdown("A VAE encodes an image as a *distribution* q(z|x). Left to right: the image, the decoding of "
                "q's mean, then decodings of samples z ~ q(z|x). The bars show q's width per dimension.")
    with gr.Row():
        page.sv_index = gr.Number(0, label="Test image #", precision=0, elem_id="sv-index")
        page.sv_digit = gr.Dropdown(["any"], value="any", label="Random image of class")
        page.sv_random = gr.Button("Random image")
        page.sv_seed = gr.Number(0, label="Sample seed", precision=0, elem_id="sv-seed")
    gr.HTML(canvas_html("sv-canvas", "sv-message"), elem_classes="browser-only")
    page.sv_strip = pixel_image("image · mean · samples", server_only=True, elem_id="sv-strip")
    page.sv_widths = gr.Plot(label="posterior std", elem_id="sv-widths")


def wire(page) -> None:
    cb, f = page.cb, friendly
    browser_first([page.sv_index.change, page.sv_seed.change], SAMPLE_JS, [page.sv_index, page.sv_seed],
                  "server-sample-vs-mean", cb.sample_vs_mean, [page.ck_name, page.sv_index, page.sv_seed],
                  [page.sv_strip, page.sv_widths], "sample_vs_mean")
    # the widths come from the atlas on the server; the page asks for them when it draws the tab first (sv-widths-bridge)
    widths_bridge = gr.Button(elem_id="sv-widths-bridge", elem_classes="bridge")
    gr.on([page.sv_index.change, widths_bridge.click], f(cb.posterior_widths), [page.ck_name, page.sv_index], page.sv_widths,
          **SHARED, **FAST, api_name=False)
    page.sv_random.click(f(cb.random_test_index), [page.ck_name, page.sv_digit, page.sv_seed], page.sv_index, **SHARED,
                         api_name=False)
