"""Likelihood: what the model finds hard — the hardest and easiest test images by a per-image score, and what it
makes of other data (out-of-distribution histograms). Drawn in the page from the atlas and ood.json; the server
draws the gallery where the page cannot, and answers the API."""
from __future__ import annotations

import gradio as gr
import numpy as np

from training import numbers, safe_text
from training.errors import UserError
from training.ood import read_ood
from training.scores import SCORE_NAMES

from .. import atlas_maps, describe, figures, inference, likelihood
from .common import Tab, browser_first, friendly, pixel_image, served

ANY = "any"


class LikelihoodTab(Tab):
    ID, LABEL = "likelihood", "Likelihood"

    def _class_label(self, name, choice) -> int | None:
        """A class named by its name, its index or "any" (None)."""
        if choice in (None, "", ANY):
            return None
        classes = describe.checkpoint_classes(self.ctx.library.get(name))
        if choice in classes:
            return classes.index(choice)
        try:
            label = int(choice)
        except (TypeError, ValueError):
            label = -1
        if not 0 <= label < len(classes):
            raise UserError(f"Class must be {ANY!r}, one of the class names or an index 0–{len(classes) - 1}.")
        return label

    def ranking(self, name: str, which: str = "hardest", score: str = "−ELBO", cls: str = ANY,
                n: int = likelihood.GALLERY_SIZE) -> list:
        """The hardest or easiest test images by a score (optionally of one class): index, class and scores of each."""
        ck = self.ctx.library.get(name)
        likelihood.require_scores(ck.atlas, name)
        key = likelihood.score_key(score)
        n = numbers.whole_number(n, "n", 1, likelihood.MAX_RANKED)
        indices = likelihood.ranked(ck.atlas, key, which, self._class_label(name, cls), n)
        classes = describe.checkpoint_classes(ck)
        labels = ck.atlas["labels"].numpy()
        return [{"index": int(i), "class": classes[labels[i]], **likelihood.image_scores(ck.atlas, int(i))} for i in indices]

    def image_scores(self, name: str, index: int) -> dict:
        """One test image's scores (nats) and its −ELBO's percentile among the test set."""
        ck = self.ctx.library.get(name)
        likelihood.require_scores(ck.atlas, name)
        index = atlas_maps.parse_point_index(index, len(ck.atlas["labels"]))
        return {"index": index, **likelihood.image_scores(ck.atlas, index)}

    def ood(self, name: str) -> dict:
        """The checkpoint's out-of-distribution summary (ood.json): per set its median/mean scores and AUROC, the
        histograms, and the sentence that says what the model does."""
        summary = read_ood(self.ctx.library.get(name).path)
        if summary is None:
            raise UserError(f"Checkpoint {name} has no ood.json (trained before it): run `python -m training evaluate` on its folder.")
        return summary

    def gallery_image(self, name, which, score, cls):
        """The server's gallery (the page draws its own): each image above the decoding of its mean, and a caption."""
        ranked = self.ranking(name, which, score, cls)
        model = self.ctx.model(name)
        means = self.ctx.library.get(name).atlas["means"].numpy()[[r["index"] for r in ranked]]
        recon = inference.decode(model, means)
        top = np.stack([self.ctx.test_image(name, r["index"]) for r in ranked]) if self.ctx.test_split_matches(name) else recon
        caption = " · ".join(f"#{r['index']} {safe_text.markdown(r['class'])} {r[score] if score in r else r['−ELBO']:.1f}"
                             for r in ranked)
        return served(figures.pairs_grid(top, recon, 12, 3)), f"The {which} by {safe_text.markdown(score)}: {caption}"

    def rank_classes(self, name):
        return gr.Dropdown(choices=[ANY, *describe.checkpoint_classes(self.ctx.library.get(name))], value=ANY)


    def on_link(self, name, link: dict) -> dict:
        """A link's ranked gallery: which end, by which score, of which class."""
        if link.get("rank") is None:
            return {}
        classes = describe.checkpoint_classes(self.ctx.library.get(name))
        label = link.get("rank_class")
        return {self.which: gr.Radio(value=link["rank"]), self.score: gr.Radio(value=SCORE_NAMES[link["rank_score"]]),
                self.cls: gr.Dropdown(choices=[ANY, *classes], value=classes[label] if label is not None else ANY)}

    def layout(self, page) -> None:
        gr.Markdown("Every test image's own scores, in nats: **reconstruction** (−log p(x|z), 8 samples of z), **KL** "
                    "(how far its posterior is from the prior), **−ELBO** (their sum) and **−log p(x)** (an importance-"
                    "weighted bound, k = 8). High = the model finds it hard or unusual. The latent map can be coloured by them.")
        with gr.Row():
            self.which = gr.Radio(list(likelihood.RANKS), value="hardest", label="Show", elem_id="rank-which")
            self.score = gr.Radio(list(likelihood.SCORE_CHOICES), value="−ELBO", label="Ranked by", elem_id="rank-score")
            self.cls = gr.Dropdown([ANY], value=ANY, label="Class", elem_id="rank-class")
        gr.HTML('<canvas id="rank-canvas" class="digits" width="28" height="28" style="cursor: pointer"></canvas>'
                '<p id="rank-caption"></p>', elem_classes="browser-only")
        self.image = pixel_image("Ranked test images (each above its reconstruction)", elem_id="rank-image",
                                 server_only=True)
        self.caption = gr.Markdown(elem_id="rank-caption-server", elem_classes="server-only")
        gr.Markdown("### Out of distribution\nThe same score for data the model never saw: the other data sets on disk, "
                    "and its own test images inverted, as noise, blank or shifted.")
        self.ood_score = gr.Radio(["−log p(x)", "−ELBO"], value="−log p(x)", label="Score", elem_id="ood-score")
        gr.HTML('<span id="ood-anchor"></span><canvas id="ood-canvas" width="900" height="340"></canvas>'
                '<p id="ood-finding"></p>')
        self.linked = [self.which, self.score, self.cls]

    def wire(self, page) -> None:
        f = friendly
        page.active.change(f(self.rank_classes), page.checkpoint, self.cls, api_name=False)
        controls = [self.score, self.which, self.cls]
        browser_first([c.change for c in controls],
                      "(score, which, cls) => vae.explorer.drawGallery(score, which, vae.explorer.classIndex(cls))",
                      controls, "server-rank", self.gallery_image, [page.checkpoint, self.which, self.score, self.cls],
                      [self.image, self.caption], "ranking_gallery")
        self.ood_score.change(None, None, None, js="() => vae.explorer.drawOod()")
        # API only (gradio_client): the scores, the ranking and the out-of-distribution summary as JSON
        gr.api(f(self.ranking), api_name="ranking")
        gr.api(f(self.image_scores), api_name="image_scores")
        gr.api(f(self.ood), api_name="ood")
