"""Reconstructions: test images beside their reconstructions, and your own drawing or upload, encoded and decoded."""
from __future__ import annotations

import gradio as gr
import numpy as np
import torch
from PIL import Image

from training import numbers, safe_text
from training.checkpoint import SAMPLES
from training.errors import UserError
from training.scores import score_images

from .. import describe, figures, images, inference, likelihood
from .common import FAST, SHARED, Tab, class_choices, digit_pair, friendly, panel_html, pixel_image, served



class ReconstructionsTab(Tab):
    ID, LABEL = "reconstructions", "Reconstructions"

    def shuffle_reconstructions(self, name, label, seed):
        """16 test images of a class (or any), picked by the seed, each with its reconstruction."""
        split = self.ctx.test_split(name)
        picked = self.ctx.images_of(name).pick(split.labels.numpy(), label, 16, numbers.seed_value(seed))
        originals = split.images[picked].numpy()
        return served(figures.pairs_grid(originals, inference.reconstruct(self.ctx.model(name), originals)))

    def reconstruct_drawing(self, name, data_url):
        """The drawing pad's PNG data URL (sent only when the page cannot run the model itself)."""
        return self._reconstruct_user_image(name, lambda: images.data_url_to_gray(data_url))

    def reconstruct_upload(self, name, path):
        if path is None:
            return None, None, "Upload an image file.", gr.skip()
        return self._reconstruct_user_image(name, lambda: images.read_image_file(path))

    def _reconstruct_user_image(self, name, read):
        """Never raises: a bad image becomes a message next to the canvas. Its mean goes to the page's drawn_mean
        (the latent map marks it ★)."""
        try:
            digit = images.to_mnist(read())
        except UserError as err:
            return None, None, f"⚠️ {safe_text.markdown(err, safe_text.LONG)}", gr.skip()
        ck = self.ctx.library.get(name)
        means, _ = inference.encode(ck.model, digit)
        recon = inference.decode(ck.model, means)[0]
        scale = 8
        return (served(figures.image_grid(digit[None], 1, scale)), served(figures.image_grid(recon[None], 1, scale)),
                "The model's input (left, MNIST form) and its reconstruction (right). It is marked ★ on the latent map."
                + self._score_sentence(ck, digit), means[0])

    def _score_sentence(self, ck, digit) -> str:
        """ " −ELBO 142.3 nats: more unusual than 91 % of the MNIST test images." (the page says the same of a drawing)"""
        if not likelihood.has_scores(ck.atlas):
            return ""
        image = torch.from_numpy(np.ascontiguousarray(digit))[None]
        elbo = float(score_images(ck.model, image, kind=ck.config.train.reconstruction)["score_elbo"][0])
        share = likelihood.percentile(ck.atlas, "score_elbo", elbo)
        return (f" −ELBO {elbo:.1f} nats: more unusual than {share:.0f} % of the "
                f"{safe_text.markdown(describe.dataset_title(ck))} test images.")

    def reconstructions_on_open(self, name, label, seed):
        """What the tab shows first: test images and their reconstructions, or without test images the checkpoint's
        own picture of them from the end of its training (samples.png)."""
        if self.ctx.test_split_matches(name):
            return self.shuffle_reconstructions(name, label, seed)
        samples = self.ctx.library.get(name).path / SAMPLES
        return served(np.asarray(Image.open(samples).convert("L"))) if samples.is_file() else None

    def on_open(self, name) -> dict:
        return {self.digit: gr.Dropdown(choices=class_choices(self.ctx.library.get(name)), value="any")}

    def layout(self, page) -> None:
        with gr.Row():
            self.digit = gr.Dropdown(["any"], value="any", label="Class", elem_id="recon-class")
            self.seed = gr.Number(0, label="Seed", precision=0, elem_id="recon-seed")
            self.shuffle = gr.Button("Shuffle", variant="primary")
        self.pairs = pixel_image("Test images and their reconstructions", elem_id="pairs")
        gr.Markdown("### Your own digit\nDraw one (white on black, like MNIST) or upload any image: it is "
                    "brought to MNIST's form — grayscale, 28×28, white ink on black, centred.")
        with gr.Row():
            with gr.Column():
                gr.HTML(panel_html("drawpad"))
                self.draw_input, self.draw_recon, self.draw_message = digit_pair("draw", ("Model input (28×28)", "Reconstruction"))
                gr.HTML('<p id="draw-score"></p>', elem_classes="browser-only")
            with gr.Column():
                self.upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="upload")
                with gr.Row():
                    self.user_input = pixel_image("Model input (28×28)", elem_id="user-input")
                    self.user_recon = pixel_image("Reconstruction", elem_id="user-recon")
                self.user_message = gr.Markdown(elem_id="user-message")
        self.opened = [self.digit]

    def wire(self, page) -> None:
        f = friendly
        # the class and the seed only choose what is drawn: the view redraws as they change; Shuffle picks a new seed
        gr.on([page.active.change, self.digit.input, self.seed.change], f(self.reconstructions_on_open),
              [page.checkpoint, self.digit, self.seed], self.pairs, **SHARED, **FAST, api_name=False)
        self.shuffle.click(None, None, self.seed, js="() => Math.floor(Math.random() * 2 ** 31)")
        api = gr.Button(elem_classes="bridge")
        api.click(f(self.shuffle_reconstructions), [page.checkpoint, self.digit, self.seed], self.pairs, **SHARED,
                  api_name="reconstructions")
        # the drawing's mean goes to the page's drawn_mean: the latent map marks it ★
        page.drawing.change(f(self.reconstruct_drawing), [page.checkpoint, page.drawing],
                            [self.draw_input, self.draw_recon, self.draw_message, page.drawn_mean],
                            **SHARED, **FAST, api_name="reconstruct_drawing")
        self.upload.upload(f(self.reconstruct_upload), [page.checkpoint, self.upload],
                           [self.user_input, self.user_recon, self.user_message, page.drawn_mean],
                           **SHARED, api_name="reconstruct_upload")
