"""Assembles the page: the header, the shared states and the tabs (explorer/page.py, explorer/tabs/), into one
Gradio Blocks."""
from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from . import web_assets
from .checkpoint_library import CheckpointLibrary
from .context import PageContext
from .page import PageViews
from .tabs import make_tabs
from .test_sets import TestSets

# Every response image is a file in Gradio's cache: every 10 minutes, delete those older than 10 minutes, so a
# long-running public app does not fill its disk.
CACHE_CLEANUP = (600, 600)
# Views have a browser output (a canvas, shown while the model runs in the page) and a server output (shown when it
# cannot): explorer.js puts `vae-browser` or `vae-server` on <body>.
CSS = """
.bridge { display: none !important; }
/* all 13 tabs fit a 1280 px window: the tab buttons and the hidden copies Gradio measures for its overflow menu */
.tab-wrapper .tab-container button { padding-left: 10px !important; padding-right: 10px !important; }
.pixelated img, canvas.digits { image-rendering: pixelated; }
canvas.digits { display: inline-block !important; margin: 4px 8px 4px 0; vertical-align: top; }
body:not(.vae-browser) .browser-only, body:not(.vae-server) .server-only { display: none !important; }
.vae-thumbs { position: absolute; pointer-events: none; }
.vae-star { position: absolute; transform: translate(-50%, -55%); font-size: 28px; color: #000; pointer-events: none;
            text-shadow: 0 0 3px #fff, 0 0 3px #fff; }
.slider-row:not(:has(.latent-slider)) { display: none !important; }  /* a row whose sliders are all folded away */
.compare-row { display: flex; align-items: center; gap: 8px; }
.compare-label { min-width: 140px; font-family: monospace; }
#drawpad canvas { width: 252px; height: 252px; touch-action: none; cursor: crosshair; border-radius: 4px; }
.timeline-controls { display: flex; align-items: center; gap: 12px; margin-bottom: 8px; }
#timeline-step { flex: 1; }
.timeline-panels { display: flex; flex-wrap: wrap; gap: 16px; }
.timeline-panels figure { margin: 0; }
.timeline-panels canvas { border: 1px solid #ddd; display: block; }
.timeline-panels figcaption { font-size: 12px; color: #666; max-width: 420px; }
"""



def page_views(library: CheckpointLibrary, test_sets: TestSets, sprite_dir: Path | None = None,
               default_name: str | None = None, runs=None) -> PageViews:
    """The page's callbacks and its tabs over one context, before any component exists (tests call them directly)."""
    ctx = PageContext(library, test_sets, sprite_dir, default_name, runs)
    return PageViews(ctx, make_tabs(ctx))


def lay_out(views: PageViews) -> gr.Blocks:
    """The page of these views: header, tabs, events."""
    with gr.Blocks(title="VAE explorer", delete_cache=CACHE_CLEANUP) as demo:
        page = views.header(demo)
        with gr.Tabs() as tabs:
            for tab in views.tabs:
                with gr.Tab(tab.LABEL, id=tab.ID):
                    tab.layout(page)
        views.wire(tabs)
        for tab in views.tabs:
            tab.wire(page)
    return demo


def build_demo(library: CheckpointLibrary, default_name: str, test_sets: TestSets, runs=None) -> gr.Blocks:
    """The whole app; building it starts no server (tests build it freely). `runs`: the Train tab's TrainingRuns."""
    sprite_dir = Path(tempfile.mkdtemp(prefix="vae-explorer-web-"))
    gr.set_static_paths(web_assets.static_folders(library.folders(), sprite_dir))
    return lay_out(page_views(library, test_sets, sprite_dir, default_name, runs))
