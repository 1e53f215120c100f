"""Interpolate & sample: decodings along the line between two test images' means, and decodings of prior samples."""
from __future__ import annotations

import gradio as gr

from training import numbers

from .. import atlas_maps, figures, inference
from .common import Tab, browser_first, canvas_html, pixel_image, served

MAX_INTERPOLATION_STEPS = 16


class InterpolateTab(Tab):
    ID, LABEL = "interpolate", "Interpolate & sample"

    def interpolation(self, name, index_a, index_b, steps):
        steps = numbers.whole_number(steps, "Steps", 2, MAX_INTERPOLATION_STEPS)
        strip = inference.interpolate(self.ctx.model(name), self.ctx.test_image(name, index_a), self.ctx.test_image(name, index_b), steps)
        return served(figures.image_grid(strip, steps, 3))

    def prior_grid(self, name, seed):
        return served(figures.image_grid(inference.prior_samples(self.ctx.model(name), 32, numbers.seed_value(seed)), 8, 3))


    def on_open(self, name) -> dict:
        """The line starts at the first test image and ends at the first of another class."""
        first, other = atlas_maps.two_of_different_classes(self.ctx.library.get(name).atlas["labels"].numpy())
        return {self.index_a: gr.Number(value=first), self.index_b: gr.Number(value=other)}

    def layout(self, page) -> None:
        with gr.Row():
            self.index_a = gr.Number(0, label="From test image #", precision=0, elem_id="interp-a")
            self.index_b = gr.Number(1, label="To test image #", precision=0, elem_id="interp-b")
            self.steps = gr.Slider(3, MAX_INTERPOLATION_STEPS, value=10, step=1, label="Steps", elem_id="interp-steps")
        gr.HTML(canvas_html("interp-canvas", "interp-message"), elem_classes="browser-only")
        self.interp_strip = pixel_image("Decodings along the line between the two means", server_only=True,
                                        elem_id="interp-strip")
        self.sample_seed = gr.Number(0, label="Prior seed", precision=0, elem_id="prior-seed")
        gr.HTML(canvas_html("prior-canvas"), elem_classes="browser-only")
        self.prior_image = pixel_image("Decodings of z ~ N(0, I)", server_only=True, elem_id="prior-image")
        self.opened = [self.index_a, self.index_b]

    def wire(self, page) -> None:
        controls = [self.index_a, self.index_b, self.steps]
        browser_first([c.change for c in controls], "(a, b, steps) => vae.explorer.interpolate(a, b, steps)", controls,
                      "server-interpolate", self.interpolation, [page.checkpoint, *controls], self.interp_strip,
                      "interpolate")
        browser_first([self.sample_seed.change], "(seed) => vae.explorer.priorSamples(seed)", self.sample_seed,
                      "server-prior", self.prior_grid, [page.checkpoint, self.sample_seed], self.prior_image,
                      "prior_samples")
