"""The server side of the page, bound to one checkpoint library and the test sets: what every tab shares (the open
checkpoint, its test images and dimensions, links), and each tab's own views, from explorer/tabs/."""
from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import gradio as gr
import numpy as np

from training import safe_text
from training.atomic import atomic_path
from training.errors import UserError
from training.ood import OOD_FILE
from training.scores import SCORE_NAMES

from . import core, deep_links, figures, latent_views, visitors, web_assets
from .tabs import (compare, interpolate, latent_map, likelihood, manifold, reconstructions, sample, sliders, timeline,
                   train, traversals)
from .tabs.sliders import MAX_SLIDERS

# Each tab's id (what links name, deep_links.TABS) and label; the page reads this to say which tab is open.
TAB_LABELS = {"reconstructions": "Reconstructions", "sample": "Sample vs mean", "sliders": "Latent sliders",
              "traversals": "Traversals", "map": "Latent map", "manifold": "2-D manifold",
              "interpolate": "Interpolate & sample", "likelihood": "Likelihood", "timeline": "Timeline", "compare": "Compare", "train": "Train", "checkpoint": "Checkpoint"}
INFO_OUTPUTS = 15 + MAX_SLIDERS  # what Callbacks.checkpoint_info returns


class Callbacks(reconstructions.Views, sample.Views, sliders.Views, traversals.Views, latent_map.Views, manifold.Views,
                interpolate.Views, likelihood.Views, timeline.Views, compare.Views, train.Views):
    """Thin adapters from UI values to the pure functions; each tab's own are in its module (explorer/tabs/)."""

    def __init__(self, library: core.CheckpointLibrary, test_sets: core.TestSets, sprite_dir: Path | None = None,
                 default_name: str | None = None, runs=None):
        self.library, self.test_sets, self.sprite_dir = library, test_sets, sprite_dir
        self.runs = runs  # explorer.train_runs.TrainingRuns: the Train tab's runs, or None (no training here)
        self.default_name = default_name or (library.all_names() or [None])[0]
        self._sprites: dict[str, Path] = {}  # one per data set (a handful)
        self._page_writes = threading.Lock()

    def _model(self, name):
        return self.library.get(name).model

    def images_of(self, name) -> core.TestImages:
        """The test images of this checkpoint's data set."""
        return self.test_sets.get(self.library.get(name).config.data.get("dataset"))

    def _test_split_matches(self, name) -> bool:
        """The loaded test images are the ones this checkpoint's atlas encoded (same count, same order)."""
        split = self.images_of(name).split
        return split is not None and len(split.labels) == len(self.library.get(name).atlas["labels"])

    def _test_split(self, name):
        split = self.images_of(name).require()
        if not self._test_split_matches(name):
            raise UserError("The test images do not match this checkpoint's atlas; use the test set it was built on.")
        return split

    def _test_image(self, name, index) -> np.ndarray:
        split = self._test_split(name)
        index = core.parse_point_index(index, len(split.labels))
        return split.images[index].numpy()

    def _sprite(self, name) -> Path | None:
        """The PNG of this checkpoint's test images for the page, written once per data set."""
        if self.sprite_dir is None or not self._test_split_matches(name):
            return None
        key = core.dataset_title(self.library.get(name))
        if key not in self._sprites:
            images = self._test_split(name).images.numpy()
            file = f"test-{hashlib.sha256(key.encode()).hexdigest()[:16]}.png"  # one name per data set, whoever asks
            self._sprites[key] = web_assets.write_test_sprite(images, self.sprite_dir, file)
        return self._sprites[key]

    def page_file(self, name, kind: str) -> Path | None:
        """Where a file made for the page from a checkpoint goes (`kind`: its file name, "NAME.zip", "s3.onnx"…).

        A run's go into the runs folder (the disk budget counts them; removing the run removes them), the others'
        into the page folder; either way into a folder named by the checkpoint's save stamp, so a folder saved anew,
        or a name reused after its run was removed, never serves an older file. Older saves' folders are deleted.
        None while the checkpoint is being swapped in (no stamp: nothing to make a file from)."""
        folder = self.library.folder(name)
        version = self.library.version(folder)
        if self.sprite_dir is None or version is None:
            return None
        ours = self.runs is not None and folder.parent == self.runs.runs_dir
        home = self.runs.page_dir(name) if ours else self.sprite_dir / hashlib.sha256(str(folder).encode()).hexdigest()[:16]
        current = home / version
        current.mkdir(parents=True, exist_ok=True)
        for old in home.iterdir():
            if old != current:
                shutil.rmtree(old, ignore_errors=True)
        return current / kind

    def write_page_file(self, path: Path, make) -> None:
        """Write a page file once (`make()` → its bytes, or a writer given a temporary path), one writer at a time:
        many first requests for one zip must not each build a copy."""
        with self._page_writes:
            if not path.exists():
                with atomic_path(path) as tmp:
                    make(tmp)

    def client_of(self, request) -> str:
        """The visitor's network address, as the Train tab's caps count it (explorer/visitors.py)."""
        behind_proxy = self.runs is not None and self.runs.limits.behind_proxy
        return visitors.client_address(request.headers if request is not None else {},
                                       request.client.host if request is not None and request.client else None,
                                       behind_proxy)

    def dimensions(self, name) -> latent_views.LatentDimensions:
        """The checkpoint's dimension order and activity, computed once per save (every server slider decode needs
        the order)."""
        def compute():
            ck = self.library.get(name)
            return latent_views.latent_dimensions(ck.metrics, ck.atlas["means"].numpy())

        return self.library.memo(name, "dimensions", compute)

    def switch_checkpoint(self, name, active, request: gr.Request = None):
        """Open checkpoint `name`; if it cannot be loaded, warn and put the picker back on `active`, which keeps working.
        A run opened here is in use: it is not pruned for a while."""
        try:
            self.library.get(name)
        except UserError as err:
            if active is None or active == name:
                raise
            gr.Warning(safe_text.html_text(f"{err} Still showing {active}.", safe_text.LONG))
            return [gr.Dropdown(value=active), active, *[gr.skip()] * INFO_OUTPUTS]
        if self.runs is not None:
            self.runs.used(name, self.client_of(request))
        return [gr.skip(), name, *self.checkpoint_info(name)]

    def read_link(self, request: gr.Request):
        """The page's URL query → the checkpoint and tab to open, a notice for what was refused, and the view (State)."""
        params = dict(request.query_params) if request is not None else {}
        query_chars = len(str(request.url.query)) if request is not None and getattr(request, "url", None) else 0
        link = deep_links.parse_view_link(params, self.library.all_names(), query_chars)
        name = link.checkpoint or self.default_name
        try:
            ck = self.library.get(name)
        except UserError:
            return gr.skip(), gr.skip(), "⚠️ The link's checkpoint could not be opened.", ""
        link = deep_links.fit_to_checkpoint(link, ck.config.model.z_dim, len(ck.atlas["labels"]))
        notice = " ".join(f"⚠️ {safe_text.markdown(n, safe_text.LONG)}" for n in link.notices)
        return (name if link.checkpoint else gr.skip(), gr.Tabs(selected=link.tab) if link.tab else gr.skip(), notice,
                json.dumps(link.to_dict()))

    def apply_link(self, name, link):
        """Set what the link asks for once its checkpoint is open: slider values, or the comparison."""
        n_outputs = 1 + MAX_SLIDERS + 6 + 3
        link = json.loads(link) if link else None  # written by read_link
        if not link:
            return [gr.skip()] * n_outputs
        sliders = [gr.skip()] * (1 + MAX_SLIDERS)
        if link.get("z") is not None:
            sliders = self.sliders_to(name, np.asarray(link["z"], dtype=np.float32))
        compared = [gr.skip()] * 6
        if link.get("compare"):
            compared = [gr.CheckboxGroup(value=link["compare"]), *self.compare(link["compare"])]
        ranked = [gr.skip()] * 3
        if link.get("rank") is not None:
            ck = self.library.get(name)
            classes = core.checkpoint_classes(ck)
            label = link.get("rank_class")
            ranked = [gr.Radio(value=link["rank"]), gr.Radio(value=SCORE_NAMES[link["rank_score"]]),
                      gr.Dropdown(choices=[likelihood.ANY, *classes], value=classes[label] if label is not None else likelihood.ANY)]
        return [*sliders, *compared, *ranked]

    def runtime(self, name) -> str:
        """The page's runtime component: where its model, atlas and test images are, and how to show its dimensions."""
        ck = self.library.get(name)
        dims = self.dimensions(name)
        version = self.library.version(ck.path)
        config = web_assets.runtime_config(name, ck.path, ck.config.model.z_dim, self._sprite(name), version)
        ood = ck.path / OOD_FILE
        config.update(ood=web_assets.file_url(ood, version) if ood.is_file() else None, class_colours=figures.CLASS_COLOURS,
                      classes=core.checkpoint_classes(ck), dataset=core.dataset_title(ck), order=dims.order,
                      active=dims.active, kl=[round(v, 4) for v in dims.kl], tabs=TAB_LABELS, timeline=self.timeline_files(name),
                      timeline_names=[n for n in self.library.all_names() if n != name and self.library.has_timeline(n)])
        return web_assets.runtime_html(config)

    def checkpoint_info(self, name):
        """Everything that changes with the checkpoint: INFO_OUTPUTS values, in the order of `info_outputs`."""
        ck = self.library.get(name)
        dims = self.dimensions(name)
        methods = core.map_methods(ck.atlas)
        class_choices = [("any", "any")] + [(c, str(i)) for i, c in enumerate(core.checkpoint_classes(ck))]
        n_inactive = ck.config.model.z_dim - len(dims.informative)
        z2 = ck.config.model.z_dim == 2
        first, other = core.two_of_different_classes(ck.atlas["labels"].numpy())
        return [
            core.checkpoint_summary(ck, len(dims.informative)),
            {"config": ck.config.to_dict(), "final": ck.metrics.get("final", {})},
            self.runtime(name), gr.Radio(choices=methods, value=methods[0]),
            gr.Dropdown(choices=class_choices, value="any"), gr.Dropdown(choices=class_choices, value="any"),
            gr.Checkbox(value=False, label=f"Show the {n_inactive} inactive dimensions", visible=n_inactive > 0),
            figures.kl_bars(dims.kl, dims.active, dims.order),
            *self.manifold_offer(name), gr.Column(visible=z2), gr.Number(value=first), gr.Number(value=other),
            *self.timeline_offer(name),
            *self.slider_updates(name, show_inactive=False, reset=True),
        ]
