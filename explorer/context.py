"""What every tab is given: the checkpoint library, the test sets, the folder of files made for the page and the Train
tab's runs, with the per-checkpoint look-ups several tabs share (its model, its test images, its dimensions, its
timeline). Tabs hold one of these; none reaches into another tab."""
from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path

import numpy as np

from training import safe_text
from training.atomic import atomic_path
from training.errors import UserError
from training.onnx_export import DECODER_ONNX
from training.timeline import TIMELINE_JSON, TIMELINE_TENSORS, decoder_onnx, load_timeline

from . import latent_views, visitors, web_assets
from .checkpoint_library import CheckpointLibrary
from .atlas_maps import parse_point_index
from .describe import dataset_title
from .test_sets import TestImages, TestSets

NO_TIMELINE = ("This checkpoint has no timeline: it was trained before timelines existed, or with `--timeline off`. "
               "Every new run of `python -m training` records one.")
IMPORTED_NO_TIMELINE = ("This model was trained outside the explorer and imported: nobody watched its training, so it has "
                        "no timeline. A run of `python -m training` (or the Train tab) records one as it trains.")


class PageContext:
    def __init__(self, library: CheckpointLibrary, test_sets: TestSets, sprite_dir: Path | None = None,
                 default_name: str | None = None, runs=None):
        self.library, self.test_sets, self.sprite_dir = library, test_sets, sprite_dir
        self.runs = runs  # explorer.train_runs.TrainingRuns: the Train tab's runs, or None (no training here)
        self.default_name = default_name or (library.names() or [None])[0]
        self._sprites: dict[str, Path] = {}  # one per data set (a handful)
        self._page_writes = threading.Lock()

    # --- the checkpoint and its test images

    def model(self, name):
        return self.library.get(name).model

    def images_of(self, name) -> TestImages:
        """The test images of this checkpoint's data set."""
        return self.test_sets.get(self.library.get(name).config.data.get("dataset"))

    def test_split_matches(self, name) -> bool:
        """The loaded test images are the ones this checkpoint's atlas encoded (same count, same order)."""
        split = self.images_of(name).split
        return split is not None and len(split.labels) == len(self.library.get(name).atlas["labels"])

    def test_split(self, name):
        split = self.images_of(name).require()
        if not self.test_split_matches(name):
            raise UserError("The test images do not match this checkpoint's atlas; use the test set it was built on.")
        return split

    def test_image(self, name, index) -> np.ndarray:
        split = self.test_split(name)
        index = parse_point_index(index, len(split.labels))
        return split.images[index].numpy()

    def dimensions(self, name) -> latent_views.LatentDimensions:
        """The checkpoint's dimension order and activity, computed once per save (every server slider decode needs
        the order)."""
        def compute():
            ck = self.library.get(name)
            return latent_views.latent_dimensions(ck.metrics, ck.atlas["means"].numpy())

        return self.library.memo(name, "dimensions", compute)

    # --- its timeline (the Timeline tab, the Train tab's example, the page's runtime)

    def timeline(self, name):
        """(the checkpoint's timeline or None, why there is none), read and checked once per save."""
        def read():
            ck = self.library.get(name)
            try:
                found = load_timeline(ck.path, ck.config.model.z_dim, len(ck.atlas["labels"]))
                return found, None if found else IMPORTED_NO_TIMELINE if ck.config.imported_from else NO_TIMELINE
            except UserError as err:  # it quotes the folder's name: escaped for the tab's Markdown
                return None, safe_text.markdown(err, safe_text.LONG)

        return self.library.memo(name, "timeline", read)

    def timeline_problem(self, name) -> str | None:
        """Why the checkpoint has no timeline to show, as Markdown; None when it has a usable one."""
        return self.timeline(name)[1]

    def timeline_files(self, name) -> dict | None:
        """The page's URLs of the checkpoint's timeline, when it has a usable one: its two files, and for each
        snapshot that kept a decoder, that decoder as ONNX (written once per save, beside the page's files)."""
        found, _ = self.timeline(name)
        if found is None:
            return None
        ck = self.library.get(name)
        decoders = {}
        for i, entry in enumerate(found.entries):
            path = self.page_file(name, f"timeline-s{i}.onnx") if entry["decoder"] else None
            if path is not None:
                self.write_page_file(path, lambda tmp: tmp.write_bytes(decoder_onnx(ck.path / DECODER_ONNX, found, i)))
                decoders[str(i)] = web_assets.file_url(path)
        version = self.library.version(ck.path)
        return {"json": web_assets.file_url(ck.path / TIMELINE_JSON, version),
                "tensors": web_assets.file_url(ck.path / TIMELINE_TENSORS, version),
                "decoders": decoders}

    def timeline_checkpoint(self, name) -> str | None:
        """A checkpoint to offer instead of `name` where a timeline is needed: the first other one that has one."""
        return next((n for n in self.library.names() if n != name and self.library.has_timeline(n)), None)

    # --- files made for the page

    def sprite(self, name) -> Path | None:
        """The PNG of this checkpoint's test images for the page, written once per data set."""
        if self.sprite_dir is None or not self.test_split_matches(name):
            return None
        key = dataset_title(self.library.get(name))
        if key not in self._sprites:
            images = self.test_split(name).images.numpy()
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

    # --- the visitor

    def client_of(self, request) -> str:
        """The visitor's network address, as the Train tab's caps count it (explorer/visitors.py)."""
        behind_proxy = self.runs is not None and self.runs.limits.behind_proxy
        return visitors.client_address(request.headers if request is not None else {},
                                       request.client.host if request is not None and request.client else None,
                                       behind_proxy)
