"""Compare: 2–4 checkpoints side by side — the same test images reconstructed by each, their metrics, KL and maps."""
from __future__ import annotations

import base64
import json

import gradio as gr
import numpy as np

from training import safe_text
from training.errors import UserError

from .. import compare as compare_views
from .. import figures, images, inference, atlas_maps, describe, web_assets
from .common import SHARED, Tab, friendly, pixel_image, served

COMPARE_JS = "(plan) => vae.explorer.compare(plan)"


class CompareTab(Tab):
    ID, LABEL = "compare", "Compare"

    def compare(self, names, drawing_data=None):
        """The comparison: a note, the metrics table, KL bars, small-multiple maps, and the page's plan (JSON)."""
        chosen = compare_views.checked_selection(names, self.ctx.library.names())
        checkpoints = {n: self.ctx.library.get(n) for n in chosen}
        groups = compare_views.group_by_dataset(checkpoints)
        dims = {n: self.ctx.dimensions(n) for n in chosen}
        table = [compare_views.metrics_row(n, ck, len(dims[n].informative)) for n, ck in checkpoints.items()]
        kl = figures.kl_bars_compared([(n, dims[n].kl, dims[n].active) for n in chosen])
        maps = figures.maps_compared([
            (f"{n} ({atlas_maps.map_methods(ck.atlas)[0]})", atlas_maps.map_coordinates(ck.atlas, atlas_maps.map_methods(ck.atlas)[0]),
             ck.atlas["labels"].numpy(), describe.checkpoint_classes(ck)) for n, ck in checkpoints.items()])
        plan = {"groups": [self._compare_group_plan(g) for g in groups]}
        note = compare_views.separation_note(groups) or f"All on the {safe_text.markdown(groups[0].dataset)} test set."
        mixed = compare_views.likelihood_note(chosen, lambda n: checkpoints[n].config.train.reconstruction)
        note = f"{note} {mixed}" if mixed else note
        return note, table, kl, maps, json.dumps(plan)

    def _compare_group_plan(self, group) -> dict:
        """What the page needs to reconstruct one group's test images with each of its checkpoints."""
        first = group.names[0]
        split = self.ctx.test_split(first) if self.ctx.test_split_matches(first) else None
        indices = compare_views.one_per_class(split.labels.numpy()) if split is not None else []
        pixels = split.images[indices].numpy().tobytes() if indices else b""
        models = []
        for n in group.names:
            ck = self.ctx.library.get(n)
            models.append(web_assets.runtime_config(n, ck.path, ck.config.model.z_dim, None, self.ctx.library.version(ck.path)))
        return {"dataset": group.dataset, "names": group.names, "indices": indices,
                "images": base64.b64encode(pixels).decode("ascii"), "models": models}

    def compare_reconstructions(self, names, drawing_data=None):
        """The server's picture of the comparison: per data set, its test images and each checkpoint's reconstructions."""
        chosen = compare_views.checked_selection(names, self.ctx.library.names())
        groups = compare_views.group_by_dataset({n: self.ctx.library.get(n) for n in chosen})
        drawn = None
        if drawing_data:
            try:
                drawn = images.to_mnist(images.data_url_to_gray(drawing_data))
            except UserError:
                drawn = None
        blocks, caption = [], []
        for group in groups:
            split = self.ctx.test_split(group.names[0])
            originals = split.images[compare_views.one_per_class(split.labels.numpy())].numpy()
            if drawn is not None:
                originals = np.concatenate([originals, drawn[None]])
            rows = [originals] + [inference.reconstruct(self.ctx.model(n), originals) for n in group.names]
            blocks.append(figures.image_grid(np.concatenate(rows), len(originals), 2))
            caption.append(f"{safe_text.markdown(group.dataset)}: rows = test images, then "
                           + ", ".join(safe_text.markdown(n) for n in group.names))
        width = max(b.shape[1] for b in blocks)
        picture = np.concatenate([np.pad(b, ((0, 8), (0, width - b.shape[1])), constant_values=255) for b in blocks])
        return served(picture), " · ".join(caption)


    def on_link(self, name, link: dict) -> dict:
        if not link.get("compare"):
            return {}
        return {self.pick: gr.CheckboxGroup(value=link["compare"]),
                **dict(zip(self.drawn, self.compare(link["compare"])))}

    def layout(self, page) -> None:
        gr.Markdown("Pick 2–4 checkpoints: the same test images (and your drawing, if you made one) "
                    "reconstructed by each, their test metrics, their KL per dimension and their maps. "
                    "Checkpoints of different data sets are shown on their own data.")
        library = self.ctx.library
        names = library.names()
        first = compare_views.first_selection(names, self.ctx.default_name, library.dataset_of)
        self.pick = gr.CheckboxGroup(names, value=first, label="Checkpoints", elem_id="compare-pick")
        self.note = gr.Markdown(elem_id="compare-note")
        gr.HTML('<div id="compare-browser"></div>', elem_classes="browser-only")
        self.image = pixel_image("Test images (top row) and each checkpoint's reconstructions", server_only=True,
                                 elem_id="compare-image")
        self.caption = gr.Markdown(elem_classes="server-only")
        self.table = gr.Dataframe(headers=compare_views.TABLE_COLUMNS, label="Test metrics (nats per image)",
                                  interactive=False, elem_id="compare-table")
        self.kl = gr.Plot(label="KL per dimension")
        self.maps = gr.Plot(label="Maps")
        self.plan = gr.Textbox(elem_id="compare-plan", elem_classes="bridge", show_label=False)
        self.drawn = [self.note, self.table, self.kl, self.maps, self.plan]  # what `compare` returns, in order
        self.linked = [self.pick, *self.drawn]

    def wire(self, page) -> None:
        f = friendly
        # the page clicks compare-open when the tab is first shown; a pick redraws it (latest wins)
        opened = gr.Button(elem_id="compare-open", elem_classes="bridge")
        gr.on([opened.click, self.pick.input], f(self.compare), self.pick, self.drawn, **SHARED,
              trigger_mode="always_last", api_name="compare").then(None, self.plan, None, js=COMPARE_JS)
        bridge = gr.Button(elem_id="server-compare", elem_classes="bridge")
        bridge.click(f(self.compare_reconstructions), [self.pick, page.drawing], [self.image, self.caption], **SHARED,
                     api_name="compare_reconstructions")
        # a run saved by the Train tab is offered here too
        page.names.change(lambda: gr.CheckboxGroup(choices=self.ctx.library.names()), None, self.pick, queue=False,
                          show_progress="hidden", api_name=False)
