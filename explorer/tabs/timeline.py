"""Timeline: how the open checkpoint learned — its map forming, reconstructions sharpening, dimensions switching on
and the loss terms moving — scrubbed in the page from the snapshots its run recorded (training/timeline.py)."""
from __future__ import annotations

import gradio as gr

from training import safe_text
from training.errors import UserError
from training.onnx_export import DECODER_ONNX
from training.timeline import TIMELINE_JSON, TIMELINE_TENSORS, decoder_onnx, load_timeline

from .. import web_assets

TAB = "timeline"
NO_TIMELINE = ("This checkpoint has no timeline: it was trained before timelines existed, or with `--timeline off`. "
               "Every new run of `python -m training` records one.")
VIEW_HTML = """
<div id="timeline-anchor"></div>
<div id="timeline-view" hidden>
  <div class="timeline-controls">
    <button id="timeline-play" type="button">▶ Play</button>
    <input id="timeline-step" type="range" min="0" max="0" step="1" value="0" aria-label="Snapshot">
    <span id="timeline-caption"></span>
  </div>
  <div class="timeline-panels">
    <figure><canvas id="timeline-map" width="360" height="360"></canvas><figcaption>The test subset's map (PCA,
      each snapshot turned onto the last; a 2-D latent is its own plane), coloured by class</figcaption></figure>
    <figure><canvas id="timeline-curves" width="420" height="200"></canvas><figcaption>Test loss terms on the subset
      (nats per image) against optimizer steps, log scale</figcaption>
      <canvas id="timeline-kl" width="420" height="110"></canvas><figcaption>KL per latent dimension (grey:
      inactive at that moment), in the finished model's order</figcaption></figure>
  </div>
  <p>Reconstructions of one test image per class</p><canvas id="timeline-recon" class="digits" width="28" height="28"></canvas>
  <p>Decodings of 16 fixed prior samples</p><canvas id="timeline-prior" class="digits" width="28" height="28"></canvas>
  <p id="timeline-traversal-caption"></p><canvas id="timeline-traversal" class="digits" width="28" height="28"></canvas>
</div>
"""


class Views:
    def _timeline(self, name):
        """(the checkpoint's timeline or None, why there is none), read and checked once per checkpoint."""
        if name not in self._timelines:
            ck = self.library.get(name)
            try:
                found = load_timeline(ck.path, ck.config.model.z_dim, len(ck.atlas["labels"]))
                self._timelines[name] = (found, None if found else NO_TIMELINE)
            except UserError as err:
                self._timelines[name] = (None, str(err))
        return self._timelines[name]

    def timeline_problem(self, name) -> str | None:
        """Why the open checkpoint has no timeline to show; None when it has a usable one."""
        return self._timeline(name)[1]

    def timeline_files(self, name) -> dict | None:
        """The page's URLs of the checkpoint's timeline, when it has a usable one: its two files, and for each
        snapshot that kept a decoder, that decoder as ONNX (written once into the page's folder)."""
        found, _ = self._timeline(name)
        if found is None:
            return None
        ck = self.library.get(name)
        decoders = {}
        for i, entry in enumerate(found.entries):
            if entry["decoder"] and self.sprite_dir is not None:
                path = self.sprite_dir / f"timeline-{self._timeline_ids.setdefault(name, len(self._timeline_ids))}-s{i}.onnx"
                if not path.exists():
                    path.write_bytes(decoder_onnx(ck.path / DECODER_ONNX, found, i))
                decoders[str(i)] = web_assets.file_url(path)
        return {"json": web_assets.file_url(ck.path / TIMELINE_JSON), "tensors": web_assets.file_url(ck.path / TIMELINE_TENSORS),
                "decoders": decoders}

    def timeline_offer(self, name):
        """The tab's notice (why there is no timeline) and a one-click switch to a checkpoint that has one."""
        problem = self.timeline_problem(name)
        if problem is None:
            return gr.Markdown(visible=False), gr.Button(visible=False)
        target = self.timeline_checkpoint(name)
        notice = gr.Markdown(safe_text.markdown(problem, safe_text.LONG), visible=True)
        if target is None:
            return notice, gr.Button(visible=False)
        return notice, gr.Button(f"Switch to {safe_text.plain(target)}, which has one", visible=True)

    def timeline_checkpoint(self, name) -> str | None:
        """The checkpoint to offer on this tab when `name` has no timeline: the first one that has."""
        return next((n for n in self.library.all_names() if n != name and self.library.has_timeline(n)), None)


def layout(page) -> None:
    gr.Markdown("Scrub through training: each snapshot is the model at one optimizer step (0, 5, 10, 20, 40, … and "
                "every epoch end). Everything is drawn in the page from the checkpoint's timeline files.")
    page.timeline_notice = gr.Markdown(visible=False, elem_id="timeline-notice")
    page.timeline_switch = gr.Button("Switch", variant="primary", visible=False, elem_id="timeline-switch")
    gr.HTML(VIEW_HTML)


def wire(page) -> None:
    page.then_open(page.timeline_switch.click(page.cb.timeline_checkpoint, page.ck_name, page.ck_name, api_name=False))
