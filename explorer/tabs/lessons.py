"""Lessons: the lab's warnings trained and shown — the lab's default run beside the same run with one thing changed
(torch.normal, the mean to the decoder, MSE): the same images, the same prior samples, their numbers and maps, and
the sentence those numbers support (explorer/lessons.py)."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from training import safe_text
from training.errors import UserError

from .. import compare as compare_views
from .. import atlas_maps, describe, figures, inference, lessons
from .common import SHARED, Tab, friendly, pixel_image, served

COLUMNS = 10  # one test image of each class; 8 samples of q(z|x) beside an image and its mean's decoding


class LessonsTab(Tab):
    ID, LABEL = "lessons", "Lessons"

    def figures_of(self, name: str) -> dict:
        """`lessons.measure` of one checkpoint, once per save."""
        ck = self.ctx.library.get(name)
        split = self.ctx.test_split(name)
        return self.ctx.library.memo(name, "lesson-figures", lambda: lessons.measure(
            ck.model, ck.config.train.reconstruction, ck.metrics, split.images))

    def _pair(self, key) -> tuple[lessons.Lesson, tuple[str, str], str | None]:
        """The lesson `key`, its two checkpoints' names, and why it cannot be shown here (None when it can)."""
        if key not in lessons.LESSONS:
            raise UserError(f"There is no lesson {str(key)[:40]!r}; the lessons are {', '.join(lessons.LESSONS)}.")
        lesson = lessons.LESSONS[key]
        names = (lessons.BASELINE, lesson.checkpoint)
        missing = [n for n in names if n not in self.ctx.library.names()]
        if missing:
            hints = " ".join(f"`python -m training --data-dir DIR --epochs 10 --seed 0 --timeline-decoders last --out "
                             f"checkpoints/{n}{'' if n == lessons.BASELINE else ' ' + lesson.changed}`" for n in missing)
            return lesson, names, f"This server has no {', '.join(missing)} checkpoint; train it with {hints}."
        wrong = lessons.not_as_trained(key, *(self.ctx.library.get(n).config for n in names))
        if wrong:
            return lesson, names, f"The lesson is not shown: on this server {safe_text.markdown(wrong)}."
        return lesson, names, None

    def lesson(self, key):
        """The lesson `key` in words and pixels: the lab's sentence and the measured finding, the table, the picture
        (drawn first: the plots follow in `lesson_plots`)."""
        lesson, names, cannot = self._pair(key)
        if cannot:
            return cannot, None, None
        heading = (f"**{safe_text.markdown(lesson.title)}** — the lab: {lesson.lab_says}\n\n"
                   f"`{lesson.checkpoint}` is `{lessons.BASELINE}` (the lab's settings, 10 epochs, seed 0) trained "
                   f"again with `{lesson.changed}`.")
        try:
            default, variant = (self.figures_of(n) for n in names)
        except UserError as err:  # no test images on this server: what the two checkpoints show without them
            note = (f"{heading}\n\n{safe_text.markdown(str(err))} The figures, the finding and the reconstructions "
                    "need them; the prior samples, KL bars and maps below do not.")
            return note, None, served(self._prior_picture(names))
        note = f"{heading}\n\n{lessons.finding(key, default, variant)}"
        table = pd.DataFrame(lessons.figures_table(default, variant, names), columns=["figure", *names])
        return note, table, served(self._picture(names))

    def lesson_plots(self, key):
        """The lesson's KL bars and maps (none where `lesson` said it cannot be shown)."""
        _, names, cannot = self._pair(key)
        return (None, None) if cannot else (self._kl(names), self._maps(names))

    def _prior_picture(self, names) -> np.ndarray:
        """Each model's decodings of the same prior samples, one row each."""
        rows = [inference.prior_samples(self.ctx.model(n), COLUMNS, seed=lessons.SEED) for n in names]
        return figures.image_grid(np.concatenate(rows), COLUMNS, 2)

    def _picture(self, names) -> np.ndarray:
        """Rows: test images; each model's reconstructions; each model's decodings of the same prior samples; for
        one test image, each model's image, mean decoding and 8 samples of q(z|x)."""
        split = self.ctx.test_split(names[0])
        originals = split.images[compare_views.one_per_class(split.labels.numpy(), COLUMNS)].numpy()
        models = [self.ctx.model(n) for n in names]
        rows = [originals, *(inference.reconstruct(m, originals) for m in models),
                *(inference.prior_samples(m, COLUMNS, seed=lessons.SEED) for m in models)]
        for m in models:
            mean, samples, _ = inference.posterior_samples(m, originals[:1], COLUMNS - 2, seed=lessons.SEED)
            rows.append(np.concatenate([originals[:1], mean[None], samples]))
        return figures.image_grid(np.concatenate(rows), COLUMNS, 2)

    def _kl(self, names):
        dims = {n: self.ctx.dimensions(n) for n in names}
        return figures.kl_bars_compared([(n, dims[n].kl, dims[n].active) for n in names])

    def _maps(self, names):
        panels = []
        for n in names:
            ck = self.ctx.library.get(n)
            method = atlas_maps.map_methods(ck.atlas)[0]
            panels.append((f"{n} ({method})", atlas_maps.map_coordinates(ck.atlas, method), ck.atlas["labels"].numpy(),
                           describe.checkpoint_classes(ck)))
        return figures.maps_compared(panels)

    def on_link(self, name, link: dict) -> dict:
        if not link.get("lesson"):
            return {}
        drawn = (*self.lesson(link["lesson"]), *self.lesson_plots(link["lesson"]))
        return {self.pick: link["lesson"], **dict(zip(self.drawn, drawn))}

    def layout(self, page) -> None:
        gr.Markdown("The lab teaches by warnings. Each lesson is the lab's default run trained again with one thing "
                    "changed, shown beside it: the same test images reconstructed, the same prior samples decoded, "
                    "sample against mean, their numbers, KL per dimension and maps — and what the numbers say.")
        self.pick = gr.Radio([(lesson.title, key) for key, lesson in lessons.LESSONS.items()], value="normal",
                             label="Lesson", elem_id="lesson-pick")
        gr.HTML('<div id="lessons-anchor"></div>')
        self.note = gr.Markdown(elem_id="lesson-note")
        self.table = gr.Dataframe(headers=["figure", lessons.BASELINE, "the variant"], interactive=False,
                                  label="Measured (the same test images and prior samples for both)", elem_id="lesson-table")
        self.image = pixel_image("Rows: test images · reconstructions by the default, then the variant · the same "
                                 "prior samples decoded by each · one image, its mean's decoding and 8 samples of "
                                 "q(z|x), by each", elem_id="lesson-image")
        self.kl = gr.Plot(label="KL per dimension")
        self.maps = gr.Plot(label="Maps")
        self.drawn = [self.note, self.table, self.image, self.kl, self.maps]  # `lesson`, then `lesson_plots`
        self.linked = [self.pick, *self.drawn]

    def wire(self, page) -> None:
        # the page clicks lessons-open when the tab is first shown (explorer/web/open_views.js); a pick redraws it
        opened = gr.Button(elem_id="lessons-open", elem_classes="bridge")
        gr.on([opened.click, self.pick.change], friendly(self.lesson), self.pick, self.drawn[:3], **SHARED,
              trigger_mode="always_last", api_name="lesson").then(
            friendly(self.lesson_plots), self.pick, self.drawn[3:], **SHARED, api_name=False)
