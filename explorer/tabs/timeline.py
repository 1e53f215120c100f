"""Timeline: how the open checkpoint learned — its map forming, reconstructions sharpening, dimensions switching on
and the loss terms moving — scrubbed in the page from the snapshots its run recorded (training/timeline.py)."""
from __future__ import annotations

import html
import json

import gradio as gr

from training import safe_text
from training.errors import UserError

from .common import Tab, panel_html


class TimelineTab(Tab):
    ID, LABEL = "timeline", "Timeline"

    def timeline_offer(self, name):
        """The tab's notice (why there is no timeline) and a one-click switch to a checkpoint that has one."""
        problem = self.ctx.timeline_problem(name)
        if problem is None:
            return gr.Markdown(visible=False), gr.Button(visible=False)
        target = self.ctx.timeline_checkpoint(name)
        notice = gr.Markdown(problem, visible=True)  # a constant, or an escaped error
        if target is None:
            return notice, gr.Button(visible=False)
        return notice, gr.Button(f"Switch to {safe_text.plain(target)}, which has one", visible=True)

    def timeline_compared(self, other) -> str:
        """The page's request to show another checkpoint's timeline beside the open one: its files (JSON), or why not."""
        if other == "":
            return json.dumps({})  # none: the page hides the second column
        if not isinstance(other, str) or other not in self.ctx.library.names():
            return json.dumps({"error": "Pick a checkpoint from the list."})
        try:
            files = self.ctx.timeline_files(other)
        except UserError as err:  # the checkpoint itself cannot be opened
            return json.dumps({"error": safe_text.plain(err, safe_text.LONG)})
        if files is None:
            return json.dumps({"error": safe_text.plain(html.unescape(self.ctx.timeline_problem(other)), safe_text.LONG)})
        return json.dumps({"name": other, "files": files})

    def on_open(self, name) -> dict:
        notice, switch = self.timeline_offer(name)
        return {self.notice: notice, self.switch: switch}

    def layout(self, page) -> None:
        gr.Markdown("Scrub through training: each snapshot is the model at one optimizer step (0, 5, 10, 20, 40, … and "
                    "every epoch end), drawn in the page from the checkpoint's timeline files. The other tabs show the "
                    "finished model; the traversal at the bottom uses the decoder of the moment (kept at epochs 1, 2, 4, "
                    "8, … and the last).")
        self.notice = gr.Markdown(visible=False, elem_id="timeline-notice")
        self.switch = gr.Button("Switch", variant="primary", visible=False, elem_id="timeline-switch")
        gr.HTML(panel_html("timeline_view"))
        self.other = gr.Textbox(elem_id="timeline-other-name", elem_classes="bridge", show_label=False)
        self.other_files = gr.Textbox(elem_id="timeline-other-files", elem_classes="bridge", show_label=False)
        self.opened = [self.notice, self.switch]

    def wire(self, page) -> None:
        # the page writes a checkpoint's name into the first bridge; the server answers with its timeline's files
        self.other.change(self.timeline_compared, self.other, self.other_files, api_name=False).then(
            None, self.other_files, None, js="(files) => vae.explorer.compareTimeline(files)")
        page.open_checkpoint(self.switch.click, self.ctx.timeline_checkpoint, page.checkpoint)
