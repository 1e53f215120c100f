"""Timeline: how the open checkpoint learned — its map forming, reconstructions sharpening, dimensions switching on
and the loss terms moving — scrubbed in the page from the snapshots its run recorded (training/timeline.py)."""
from __future__ import annotations

import html
import json

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
    <label>Side by side with <select id="timeline-compare"><option value="">—</option></select></label>
  </div>
  <div class="timeline-panels">
    <figure><canvas id="timeline-map" width="360" height="360"></canvas><figcaption>The test subset's map (PCA,
      each snapshot turned onto the last; a 2-D latent is its own plane), coloured by class</figcaption></figure>
    <figure id="timeline-other" hidden><canvas id="timeline-map-other" width="360" height="360"></canvas>
      <figcaption id="timeline-other-caption"></figcaption>
      <canvas id="timeline-recon-other" class="digits" width="28" height="28"></canvas></figure>
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
        """(the checkpoint's timeline or None, why there is none), read and checked once per save."""
        def read():
            ck = self.library.get(name)
            try:
                found = load_timeline(ck.path, ck.config.model.z_dim, len(ck.atlas["labels"]))
                return found, None if found else NO_TIMELINE
            except UserError as err:  # it quotes the folder's name: escaped for the tab's Markdown
                return None, safe_text.markdown(err, safe_text.LONG)

        return self.library.memo(name, "timeline", read)

    def timeline_problem(self, name) -> str | None:
        """Why the open checkpoint has no timeline to show, as Markdown; None when it has a usable one."""
        return self._timeline(name)[1]

    def timeline_files(self, name) -> dict | None:
        """The page's URLs of the checkpoint's timeline, when it has a usable one: its two files, and for each
        snapshot that kept a decoder, that decoder as ONNX (written once per save, beside the page's files)."""
        found, _ = self._timeline(name)
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

    def timeline_offer(self, name):
        """The tab's notice (why there is no timeline) and a one-click switch to a checkpoint that has one."""
        problem = self.timeline_problem(name)
        if problem is None:
            return gr.Markdown(visible=False), gr.Button(visible=False)
        target = self.timeline_checkpoint(name)
        notice = gr.Markdown(problem, visible=True)  # a constant, or an escaped error
        if target is None:
            return notice, gr.Button(visible=False)
        return notice, gr.Button(f"Switch to {safe_text.plain(target)}, which has one", visible=True)

    def timeline_compared(self, other) -> str:
        """The page's request to show another checkpoint's timeline beside the open one: its files (JSON), or why not."""
        if other == "":
            return json.dumps({})  # none: the page hides the second column
        if not isinstance(other, str) or other not in self.library.all_names():
            return json.dumps({"error": "Pick a checkpoint from the list."})
        try:
            files = self.timeline_files(other)
        except UserError as err:  # the checkpoint itself cannot be opened
            return json.dumps({"error": safe_text.plain(err, safe_text.LONG)})
        if files is None:
            return json.dumps({"error": safe_text.plain(html.unescape(self.timeline_problem(other)), safe_text.LONG)})
        return json.dumps({"name": other, "files": files})

    def timeline_checkpoint(self, name) -> str | None:
        """The checkpoint to offer on this tab when `name` has no timeline: the first one that has."""
        return next((n for n in self.library.all_names() if n != name and self.library.has_timeline(n)), None)


def layout(page) -> None:
    gr.Markdown("Scrub through training: each snapshot is the model at one optimizer step (0, 5, 10, 20, 40, … and "
                "every epoch end), drawn in the page from the checkpoint's timeline files. The other tabs show the "
                "finished model; the traversal at the bottom uses the decoder of the moment (kept at epochs 1, 2, 4, "
                "8, … and the last).")
    page.timeline_notice = gr.Markdown(visible=False, elem_id="timeline-notice")
    page.timeline_switch = gr.Button("Switch", variant="primary", visible=False, elem_id="timeline-switch")
    gr.HTML(VIEW_HTML)
    page.timeline_other = gr.Textbox(elem_id="timeline-other-name", elem_classes="bridge", show_label=False)
    page.timeline_other_files = gr.Textbox(elem_id="timeline-other-files", elem_classes="bridge", show_label=False)


def wire(page) -> None:
    # the page writes a checkpoint's name into the first bridge; the server answers with its timeline's files
    page.timeline_other.change(page.cb.timeline_compared, page.timeline_other, page.timeline_other_files, api_name=False).then(
        None, page.timeline_other_files, None, js="(files) => vae.explorer.compareTimeline(files)")
    page.then_open(page.timeline_switch.click(page.cb.timeline_checkpoint, page.ck_name, page.ck_name, api_name=False))
