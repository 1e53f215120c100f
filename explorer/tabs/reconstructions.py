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

from .. import core, figures, images, likelihood
from .common import FAST, SHARED, digit_pair, friendly, pixel_image, served

TAB = "reconstructions"
DRAWPAD_HTML = '<div id="drawpad"><canvas></canvas><br><button class="clear" type="button">Clear</button></div>'


class Views:
    def shuffle_reconstructions(self, name, label, seed):
        """16 test images of a class (or any), picked by the seed, each with its reconstruction."""
        split = self._test_split(name)
        picked = self.images_of(name).pick(split.labels.numpy(), label, 16, numbers.seed_value(seed))
        originals = split.images[picked].numpy()
        return served(figures.pairs_grid(originals, core.reconstruct(self._model(name), originals)))

    def reconstruct_drawing(self, name, data_url, method):
        """The drawing pad's PNG data URL (sent only when the page cannot run the model itself)."""
        return self._reconstruct_user_image(name, lambda: images.data_url_to_gray(data_url), method)

    def reconstruct_upload(self, name, path, method):
        if path is None:
            return None, None, "Upload an image file.", gr.skip(), None
        return self._reconstruct_user_image(name, lambda: images.read_image_file(path), method)

    def _reconstruct_user_image(self, name, read, method):
        """Never raises: a bad image becomes a message next to the canvas."""
        try:
            digit = images.to_mnist(read())
        except UserError as err:
            return None, None, f"⚠️ {safe_text.markdown(err, safe_text.LONG)}", gr.skip(), None
        ck = self.library.get(name)
        means, _ = core.encode(ck.model, digit)
        recon = core.decode(ck.model, means)[0]
        scale = 8
        return (served(figures.image_grid(digit[None], 1, scale)), served(figures.image_grid(recon[None], 1, scale)),
                "The model's input (left, MNIST form) and its reconstruction (right). It is marked ★ on the latent map."
                + self._score_sentence(ck, digit), self.latent_map(name, method, means[0]), means[0])

    def _score_sentence(self, ck, digit) -> str:
        """ " −ELBO 142.3 nats: more unusual than 91 % of the MNIST test images." (the page says the same of a drawing)"""
        if not likelihood.has_scores(ck.atlas):
            return ""
        elbo = float(score_images(ck.model, torch.from_numpy(np.ascontiguousarray(digit))[None])["score_elbo"][0])
        share = likelihood.percentile(ck.atlas, "score_elbo", elbo)
        return (f" −ELBO {elbo:.1f} nats: more unusual than {share:.0f} % of the "
                f"{safe_text.markdown(core.dataset_title(ck))} test images.")

    def reconstructions_on_open(self, name, label, seed):
        """What the tab shows first: test images and their reconstructions, or without test images the checkpoint's
        own picture of them from the end of its training (samples.png)."""
        if self._test_split_matches(name):
            return self.shuffle_reconstructions(name, label, seed)
        samples = self.library.get(name).path / SAMPLES
        return served(np.asarray(Image.open(samples).convert("L"))) if samples.is_file() else None


def layout(page) -> None:
    with gr.Row():
        page.digit = gr.Dropdown(["any"], value="any", label="Class", elem_id="recon-class")
        page.seed = gr.Number(0, label="Seed", precision=0, elem_id="recon-seed")
        page.shuffle = gr.Button("Shuffle", variant="primary")
    page.pairs = pixel_image("Test images and their reconstructions", elem_id="pairs")
    gr.Markdown("### Your own digit\nDraw one (white on black, like MNIST) or upload any image: it is "
                "brought to MNIST's form — grayscale, 28×28, white ink on black, centred.")
    with gr.Row():
        with gr.Column():
            gr.HTML(DRAWPAD_HTML)
            page.drawing_data = gr.Textbox(elem_id="drawing-data", elem_classes="bridge", show_label=False)
            page.draw_input, page.draw_recon, page.draw_message = digit_pair("draw", ("Model input (28×28)", "Reconstruction"))
            gr.HTML('<p id="draw-score"></p>', elem_classes="browser-only")
        with gr.Column():
            page.upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="upload")
            with gr.Row():
                page.user_input = pixel_image("Model input (28×28)", elem_id="user-input")
                page.user_recon = pixel_image("Reconstruction", elem_id="user-recon")
            page.user_message = gr.Markdown(elem_id="user-message")


def wire(page) -> None:
    cb, f = page.cb, friendly
    # the class and the seed only choose what is drawn: the view redraws as they change; Shuffle picks a new seed
    gr.on([page.active.change, page.digit.input, page.seed.change], f(cb.reconstructions_on_open),
          [page.ck_name, page.digit, page.seed], page.pairs, **SHARED, **FAST, api_name=False)
    page.shuffle.click(None, None, page.seed, js="() => Math.floor(Math.random() * 2 ** 31)")
    page.api_reconstructions = gr.Button(elem_classes="bridge")
    page.api_reconstructions.click(f(cb.shuffle_reconstructions), [page.ck_name, page.digit, page.seed], page.pairs,
                                   **SHARED, api_name="reconstructions")
    page.drawing_data.change(f(cb.reconstruct_drawing), [page.ck_name, page.drawing_data, page.method],
                             [page.draw_input, page.draw_recon, page.draw_message, page.latent_plot, page.my_mean],
                             **SHARED, **FAST, api_name="reconstruct_drawing")
    page.upload.upload(f(cb.reconstruct_upload), [page.ck_name, page.upload, page.method],
                       [page.user_input, page.user_recon, page.user_message, page.latent_plot, page.my_mean],
                       **SHARED, api_name="reconstruct_upload")
