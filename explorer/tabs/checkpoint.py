"""Checkpoint: the open checkpoint's config.json and final metrics, as they are in its folder."""
from __future__ import annotations

import gradio as gr

TAB = "checkpoint"


def layout(page) -> None:
    page.details = gr.JSON(label="config.json and final metrics")


def wire(page) -> None:
    """Nothing of its own: the details change with the checkpoint (Callbacks.checkpoint_info)."""
