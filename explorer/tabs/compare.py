"""Compare: 2–4 checkpoints side by side — the same test images reconstructed by each, their metrics, KL and maps."""
from __future__ import annotations

import base64
import json

import gradio as gr
import numpy as np

from training import safe_text
from training.errors import UserError

from .. import compare as compare_views
from .. import core, figures, images, web_assets
from .common import SHARED, friendly, pixel_image, served

TAB = "compare"
COMPARE_JS = "(plan) => vae.explorer.compare(plan)"


class Views:
    def compare(self, names, drawing_data=None):
        """The comparison: a note, the metrics table, KL bars, small-multiple maps, and the page's plan (JSON)."""
        chosen = compare_views.checked_selection(names, self.library.all_names())
        checkpoints = {n: self.library.get(n) for n in chosen}
        groups = compare_views.group_by_dataset(checkpoints)
        dims = {n: self.dimensions(n) for n in chosen}
        table = [compare_views.metrics_row(n, ck, len(dims[n].informative)) for n, ck in checkpoints.items()]
        kl = figures.kl_bars_compared([(n, dims[n].kl, dims[n].active) for n in chosen])
        maps = figures.maps_compared([
            (f"{n} ({core.map_methods(ck.atlas)[0]})", core.map_coordinates(ck.atlas, core.map_methods(ck.atlas)[0]),
             ck.atlas["labels"].numpy(), core.checkpoint_classes(ck)) for n, ck in checkpoints.items()])
        plan = {"groups": [self._compare_group_plan(g) for g in groups]}
        note = compare_views.separation_note(groups) or f"All on the {safe_text.markdown(groups[0].dataset)} test set."
        return note, table, kl, maps, json.dumps(plan)

    def _compare_group_plan(self, group) -> dict:
        """What the page needs to reconstruct one group's test images with each of its checkpoints."""
        first = group.names[0]
        split = self._test_split(first) if self._test_split_matches(first) else None
        indices = compare_views.one_per_class(split.labels.numpy()) if split is not None else []
        pixels = split.images[indices].numpy().tobytes() if indices else b""
        models = []
        for n in group.names:
            ck = self.library.get(n)
            models.append(web_assets.runtime_config(n, ck.path, ck.config.model.z_dim, None, self.library.version(ck.path)))
        return {"dataset": group.dataset, "names": group.names, "indices": indices,
                "images": base64.b64encode(pixels).decode("ascii"), "models": models}

    def compare_reconstructions(self, names, drawing_data=None):
        """The server's picture of the comparison: per data set, its test images and each checkpoint's reconstructions."""
        chosen = compare_views.checked_selection(names, self.library.all_names())
        groups = compare_views.group_by_dataset({n: self.library.get(n) for n in chosen})
        drawn = None
        if drawing_data:
            try:
                drawn = images.to_mnist(images.data_url_to_gray(drawing_data))
            except UserError:
                drawn = None
        blocks, caption = [], []
        for group in groups:
            split = self._test_split(group.names[0])
            originals = split.images[compare_views.one_per_class(split.labels.numpy())].numpy()
            if drawn is not None:
                originals = np.concatenate([originals, drawn[None]])
            rows = [originals] + [core.reconstruct(self._model(n), originals) for n in group.names]
            blocks.append(figures.image_grid(np.concatenate(rows), len(originals), 2))
            caption.append(f"{safe_text.markdown(group.dataset)}: rows = test images, then "
                           + ", ".join(safe_text.markdown(n) for n in group.names))
        width = max(b.shape[1] for b in blocks)
        picture = np.concatenate([np.pad(b, ((0, 8), (0, width - b.shape[1])), constant_values=255) for b in blocks])
        return served(picture), " · ".join(caption)


def layout(page) -> None:
    gr.Markdown("Pick 2–4 checkpoints: the same test images (and your drawing, if you made one) "
                "reconstructed by each, their test metrics, their KL per dimension and their maps. "
                "Checkpoints of different data sets are shown on their own data.")
    names = page.cb.library.all_names()
    first = compare_views.first_selection(names, page.cb.default_name, page.cb.library.dataset_of)
    page.compare_pick = gr.CheckboxGroup(names, value=first, label="Checkpoints", elem_id="compare-pick")
    page.compare_note = gr.Markdown(elem_id="compare-note")
    gr.HTML('<div id="compare-browser"></div>', elem_classes="browser-only")
    page.compare_image = pixel_image("Test images (top row) and each checkpoint's reconstructions", server_only=True,
                                     elem_id="compare-image")
    page.compare_caption = gr.Markdown(elem_classes="server-only")
    page.compare_table = gr.Dataframe(headers=compare_views.TABLE_COLUMNS, label="Test metrics (nats per image)",
                                      interactive=False, elem_id="compare-table")
    page.compare_kl = gr.Plot(label="KL per dimension")
    page.compare_maps = gr.Plot(label="Maps")
    page.compare_plan = gr.Textbox(elem_id="compare-plan", elem_classes="bridge", show_label=False)


def wire(page) -> None:
    cb, f = page.cb, friendly
    outputs = [page.compare_note, page.compare_table, page.compare_kl, page.compare_maps, page.compare_plan]
    # the page clicks compare-open when the tab is first shown; a pick redraws it (latest wins)
    opened = gr.Button(elem_id="compare-open", elem_classes="bridge")
    gr.on([opened.click, page.compare_pick.input], f(cb.compare), page.compare_pick, outputs, **SHARED,
          trigger_mode="always_last", api_name="compare").then(None, page.compare_plan, None, js=COMPARE_JS)
    bridge = gr.Button(elem_id="server-compare", elem_classes="bridge")
    bridge.click(f(cb.compare_reconstructions), [page.compare_pick, page.drawing_data],
                 [page.compare_image, page.compare_caption], **SHARED, api_name="compare_reconstructions")
