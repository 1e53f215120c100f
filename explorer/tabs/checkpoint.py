"""Checkpoint: the open checkpoint's config.json and final metrics, as they are in its folder."""
from __future__ import annotations

import gradio as gr

from .common import Tab


class CheckpointTab(Tab):
    ID, LABEL = "checkpoint", "Checkpoint"

    def on_open(self, name) -> dict:
        ck = self.ctx.library.get(name)
        return {self.details: {"config": ck.config.to_dict(), "final": ck.metrics.get("final", {})}}

    def layout(self, page) -> None:
        self.details = gr.JSON(label="config.json and final metrics")
        self.opened = [self.details]
