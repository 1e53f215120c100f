"""Interpolate & sample: decodings along the line between two test images' means, and decodings of prior samples."""
from __future__ import annotations

import gradio as gr

from training import numbers

from .. import core, figures
from .common import browser_first, canvas_html, pixel_image, served

TAB = "interpolate"
MAX_INTERPOLATION_STEPS = 16


class Views:
    def interpolation(self, name, index_a, index_b, steps):
        steps = numbers.whole_number(steps, "Steps", 2, MAX_INTERPOLATION_STEPS)
        strip = core.interpolate(self._model(name), self._test_image(name, index_a), self._test_image(name, index_b), steps)
        return served(figures.image_grid(strip, steps, 3))

    def prior_grid(self, name, seed):
        return served(figures.image_grid(core.prior_samples(self._model(name), 32, numbers.seed_value(seed)), 8, 3))


def layout(page) -> None:
    with gr.Row():
        page.index_a = gr.Number(0, label="From test image #", precision=0, elem_id="interp-a")
        page.index_b = gr.Number(1, label="To test image #", precision=0, elem_id="interp-b")
        page.steps = gr.Slider(3, MAX_INTERPOLATION_STEPS, value=10, step=1, label="Steps", elem_id="interp-steps")
    gr.HTML(canvas_html("interp-canvas", "interp-message"), elem_classes="browser-only")
    page.interp_strip = pixel_image("Decodings along the line between the two means", server_only=True, elem_id="interp-strip")
    page.sample_seed = gr.Number(0, label="Prior seed", precision=0, elem_id="prior-seed")
    gr.HTML(canvas_html("prior-canvas"), elem_classes="browser-only")
    page.prior_image = pixel_image("Decodings of z ~ N(0, I)", server_only=True, elem_id="prior-image")


def wire(page) -> None:
    controls = [page.index_a, page.index_b, page.steps]
    browser_first([c.change for c in controls], "(a, b, steps) => vae.explorer.interpolate(a, b, steps)", controls,
                  "server-interpolate", page.cb.interpolation, [page.ck_name, *controls], page.interp_strip, "interpolate")
    browser_first([page.sample_seed.change], "(seed) => vae.explorer.priorSamples(seed)", page.sample_seed,
                  "server-prior", page.cb.prior_grid, [page.ck_name, page.sample_seed], page.prior_image, "prior_samples")
