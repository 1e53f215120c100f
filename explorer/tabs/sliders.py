"""Latent sliders: one slider per latent dimension, most informative first, decoded as they move."""
from __future__ import annotations

import gradio as gr
import numpy as np

from training import numbers
from training.errors import UserError

from .. import figures, inference
from .common import SHARED, Tab, browser_first, canvas_html, friendly, pixel_image, served

MAX_SLIDERS = 64
SLIDER_RANGE = 3.0


class SlidersTab(Tab):
    ID, LABEL = "sliders", "Latent sliders"

    def slider_updates(self, name, show_inactive, reset=False):
        """Slider k shows latent dimension order[k]: active dimensions by KL first; inactive ones only on request."""
        dims = self.ctx.dimensions(name)
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

    def _z_from_sliders(self, name, values) -> np.ndarray:
        """Slider values (in display order) → the latent code (in dimension order)."""
        order = self.ctx.dimensions(name).order
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
        return served(figures.image_grid(inference.decode(self.ctx.model(name), self._z_from_sliders(name, values)), 1, 10))

    def sliders_to(self, name, z):
        """Move the sliders to code z: the decoded image and each slider's value (display order)."""
        z = np.clip(np.asarray(z, dtype=np.float32), -SLIDER_RANGE, SLIDER_RANGE)
        values = [round(float(z[d]), 2) for d in self.ctx.dimensions(name).order]
        values += [0.0] * (MAX_SLIDERS - len(values))
        return [self.decode_sliders(name, *values), *values]

    def sliders_zero(self, name):
        return self.sliders_to(name, np.zeros(self.ctx.library.get(name).config.model.z_dim, dtype=np.float32))

    def sliders_prior(self, name, seed):
        return self.sliders_to(name, inference.random_prior_z(self.ctx.library.get(name).config.model.z_dim, numbers.seed_value(seed)))

    def sliders_from_digit(self, name, index):
        means, _ = inference.encode(self.ctx.model(name), self.ctx.test_image(name, index))
        return self.sliders_to(name, means[0])


    def on_open(self, name) -> dict:
        """Sliders back to zero over the new dimensions, the inactive ones folded away, and the KL bars."""
        dims = self.ctx.dimensions(name)
        n_inactive = self.ctx.library.get(name).config.model.z_dim - len(dims.informative)
        return {self.show_inactive: gr.Checkbox(value=False, label=f"Show the {n_inactive} inactive dimensions",
                                                visible=n_inactive > 0),
                self.kl_plot: figures.kl_bars(dims.kl, dims.active, dims.order),
                **dict(zip(self.sliders, self.slider_updates(name, show_inactive=False, reset=True)))}

    def on_link(self, name, link: dict) -> dict:
        if link.get("z") is None:
            return {}
        return dict(zip([self.slider_image, *self.sliders], self.sliders_to(name, np.asarray(link["z"], dtype=np.float32))))

    def layout(self, page) -> None:
        with gr.Row():
            self.to_zero = gr.Button("All zero")
            self.prior_seed = gr.Number(0, label="Prior seed", precision=0)
            self.to_prior = gr.Button("Random from the prior")
            self.from_index = gr.Number(0, label="Test image #", precision=0)
            self.to_digit = gr.Button("Encode this image")
        with gr.Row():
            with gr.Column(scale=1):
                gr.HTML(canvas_html("slider-canvas") + canvas_html("nearest-canvas", "nearest-caption"),
                        elem_classes="browser-only", elem_id="slider-browser")
                self.slider_image = pixel_image("Decoded z", elem_id="slider-image", server_only=True)
            with gr.Column(scale=3):
                gr.Markdown("Most informative dimensions first (by their KL on the test set).")
                self.sliders = []
                for row in range(0, MAX_SLIDERS, 4):
                    with gr.Row(elem_classes="slider-row"):
                        self.sliders += [gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0.0, step=0.01, label=f"slider {k}",
                                                   elem_id=f"slider-{k}", elem_classes="latent-slider", min_width=120,
                                                   visible=False) for k in range(row, row + 4)]
                self.show_inactive = gr.Checkbox(False, label="Show the inactive dimensions", elem_id="show-inactive")
        self.kl_plot = gr.Plot(label="KL per dimension", elem_id="kl-bars")
        self.opened = [self.show_inactive, self.kl_plot, *self.sliders]
        self.linked = [self.slider_image, *self.sliders]

    def wire(self, page) -> None:
        f, sliders, decoded = friendly, self.sliders, [self.slider_image, *self.sliders]
        self.show_inactive.change(f(self.slider_updates), [page.checkpoint, self.show_inactive], sliders, api_name=False)
        browser_first([s.change for s in sliders], "(...values) => vae.explorer.decodeSliders(values)", sliders,
                      "server-decode", self.decode_sliders, [page.checkpoint, *sliders], self.slider_image, "decode")
        self.to_zero.click(f(self.sliders_zero), page.checkpoint, decoded, **SHARED, api_name="sliders_zero")
        self.to_prior.click(f(self.sliders_prior), [page.checkpoint, self.prior_seed], decoded, **SHARED,
                            api_name="sliders_prior")
        self.to_digit.click(f(self.sliders_from_digit), [page.checkpoint, self.from_index], decoded, **SHARED,
                            api_name="sliders_from_digit")
