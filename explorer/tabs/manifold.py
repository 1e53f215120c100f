"""2-D manifold: for a 2-D latent, the decoder's output over the whole latent square with the test set drawn over it."""
from __future__ import annotations

import gradio as gr

from training import safe_text

from .. import figures, inference, latent_views
from .common import Tab, browser_first, pixel_image, served

NEEDS_2D = "This view needs a checkpoint with a 2-D latent (z_dim = 2)."
NO_2D = NEEDS_2D + " None is in this app's checkpoints folder: train one with `python -m training --z-dim 2`."


class ManifoldTab(Tab):
    ID, LABEL = "manifold", "2-D manifold"

    def manifold(self, name, show_means):
        """The 2-D latent's 20×20 decodings over [-3, 3]², with the test set's means drawn over it when asked."""
        ck = self.ctx.library.get(name)
        codes = latent_views.manifold_codes(ck.config.model.z_dim)
        size = latent_views.MANIFOLD_SIZE
        grid = figures.image_grid(inference.decode(ck.model, codes), size, 1)
        if not show_means:
            return served(grid)
        return served(figures.points_over_grid(grid, ck.atlas["means"].numpy(), ck.atlas["labels"].numpy(),
                                               latent_views.MANIFOLD_EXTENT, cell=30, pad=2))

    def two_d_checkpoint(self, name) -> str | None:
        """The checkpoint to offer on this tab when `name` has no 2-D latent: the first one that has."""
        return next((n for n in self.ctx.library.names() if n != name and self.ctx.library.z_dim_of(n) == 2), None)

    def manifold_offer(self, name):
        """The tab's notice and its one-click switch to a 2-D checkpoint (both hidden when `name` is 2-D)."""
        if self.ctx.library.get(name).config.model.z_dim == 2:
            return gr.Markdown(visible=False), gr.Button(visible=False)
        target = self.two_d_checkpoint(name)
        if target is None:
            return gr.Markdown(NO_2D, visible=True), gr.Button(visible=False)
        return (gr.Markdown(NEEDS_2D, visible=True),
                gr.Button(f"Switch to {safe_text.plain(target)} (z_dim = 2)", visible=True))


    def on_open(self, name) -> dict:
        notice, switch = self.manifold_offer(name)
        z2 = self.ctx.library.get(name).config.model.z_dim == 2
        return {self.notice: notice, self.switch: switch, self.view: gr.Column(visible=z2)}

    def layout(self, page) -> None:
        self.notice = gr.Markdown(NEEDS_2D, elem_id="manifold-notice")
        self.switch = gr.Button("Switch to a 2-D checkpoint", variant="primary", elem_id="manifold-switch", visible=False)
        with gr.Column(visible=False) as self.view:
            gr.Markdown("The decoder's output over the latent square [−3, 3]² (20 × 20 codes, z₁ up), with each "
                        "test image's encoded mean drawn over it in its class colour.")
            self.means = gr.Checkbox(True, label="Show the test images' means", elem_id="manifold-means")
            gr.HTML('<canvas id="manifold-canvas" class="digits" width="28" height="28"></canvas><p id="manifold-legend"></p>',
                    elem_classes="browser-only")
            self.image = pixel_image("2-D manifold", server_only=True, elem_id="manifold-image")
        self.opened = [self.notice, self.switch, self.view]

    def wire(self, page) -> None:
        browser_first([self.means.change], "(show) => vae.explorer.manifold(show)", self.means, "server-manifold",
                      self.manifold, [page.checkpoint, self.means], self.image, "manifold")
        page.open_checkpoint(self.switch.click, self.two_d_checkpoint, page.checkpoint)
