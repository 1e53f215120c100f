"""Assembles the page: the header, the checkpoint picker, the link row and the tabs (one module each, explorer/tabs/),
and the page-level events: opening a checkpoint and opening a link."""
from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from training import safe_text

from . import core, web_assets
from .tabs import (checkpoint, compare, interpolate, latent_map, likelihood, manifold, reconstructions, sample, sliders,
                   timeline, train, traversals)
from .tabs.common import SHARED, friendly
from .views import TAB_LABELS, Callbacks

# In page order. Each module has TAB, layout(page) and wire(page): every layout runs first, so a tab can wire events
# to another tab's components (a drawing moves the map's ★; the comparison reconstructs the drawing).
TABS = (reconstructions, sample, sliders, traversals, latent_map, manifold, interpolate, likelihood, timeline, compare,
        train, checkpoint)

# Every response image is a file in Gradio's cache: every 10 minutes, delete those older than 10 minutes, so a
# long-running public app does not fill its disk.
CACHE_CLEANUP = (600, 600)
# Views have a browser output (a canvas, shown while the model runs in the page) and a server output (shown when it
# cannot): explorer.js puts `vae-browser` or `vae-server` on <body>.
CSS = """
.bridge { display: none !important; }
/* all 12 tabs fit a 1280 px window: the tab buttons and the hidden copies Gradio measures for its overflow menu */
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


def header(page) -> None:
    """The title, the page's runtime (where its model is), the picker with the summary, and the link row."""
    cb = page.cb
    gr.Markdown("# VAE explorer\nHow a variational autoencoder sees images: what it keeps, what it samples, how its "
                "latent space is laid out, and how models with another β, latent size or data set compare.")
    page.runtime = gr.HTML(cb.runtime(cb.default_name), head=web_assets.head_html(), elem_id="vae-runtime",
                           js_on_load="vae.explorer.attach(element); watch('value', () => vae.explorer.attach(element));")
    default_images = cb.images_of(cb.default_name)
    if default_images.split is None:
        gr.Markdown(f"ℹ️ {safe_text.markdown(default_images.message, safe_text.LONG)}")
    with gr.Row():
        page.ck_name = gr.Dropdown(cb.library.all_names(), value=cb.default_name, label="Checkpoint", scale=1)
        page.summary = gr.Markdown()
    page.link_notice = gr.Markdown(elem_id="link-notice")
    with gr.Row():
        page.view_link = gr.Textbox(label="Link to this view", elem_id="view-link", interactive=False, scale=3, buttons=["copy"])
        page.copy_link = gr.Button("Copy link to this view", elem_id="copy-link", scale=1)


def wire_page(page) -> None:
    """Open a checkpoint (the picker, a link, the 2-D tab's switch) and open a link's view."""
    cb = page.cb
    info_outputs = [page.summary, page.details, page.runtime, page.method, page.digit, page.sv_digit, page.show_inactive,
                    page.kl_plot, page.manifold_notice, page.manifold_switch, page.manifold_view, page.index_a,
                    page.index_b, page.timeline_notice, page.timeline_switch, *page.sliders]
    switch_outputs = [page.ck_name, page.active, *info_outputs]

    switch = (friendly(cb.switch_checkpoint), [page.ck_name, page.active], switch_outputs)
    page.then_open = then_open = lambda event: event.then(*switch, **SHARED, api_name=False)
    # A link opens its view: read the query, open its checkpoint, then set the view. The picker listens to .input
    # (a user's pick) so the checkpoint the link sets does not trigger a second switch that would reset the view.
    link = gr.Textbox(elem_id="view-link-request", elem_classes="bridge", show_label=False)  # JSON: the page reads it too
    linked = [page.slider_image, *page.sliders, page.compare_pick, page.compare_note, page.compare_table, page.compare_kl,
              page.compare_maps, page.compare_plan, page.rank_which, page.rank_score, page.rank_class]
    then_open(page.demo.load(cb.read_link, None, [page.ck_name, page.tabs, page.link_notice, link], api_name=False)).then(
        friendly(cb.apply_link), [page.ck_name, link], linked, **SHARED, api_name=False).then(
        None, [link, page.compare_plan], None, js="(link, plan) => vae.explorer.openLink(link, plan)")
    page.ck_name.input(*switch, **SHARED, api_name=False)
    page.copy_link.click(None, None, page.view_link, js="() => vae.explorer.copyLink()")


def build_demo(library: core.CheckpointLibrary, default_name: str, test_sets: core.TestSets, runs=None) -> gr.Blocks:
    """The whole app; building it starts no server (tests build it freely). `runs`: the Train tab's TrainingRuns."""
    sprite_dir = Path(tempfile.mkdtemp(prefix="vae-explorer-web-"))
    gr.set_static_paths(web_assets.static_folders(library.folders(), sprite_dir))
    cb = Callbacks(library, test_sets, sprite_dir, default_name, runs)
    page = SimpleNamespace(cb=cb, default_methods=core.map_methods(library.get(default_name).atlas))
    with gr.Blocks(title="VAE explorer", delete_cache=CACHE_CLEANUP) as page.demo:
        header(page)
        with gr.Tabs() as page.tabs:
            for tab in TABS:
                with gr.Tab(TAB_LABELS[tab.TAB], id=tab.TAB):
                    tab.layout(page)
        page.my_mean = gr.State(None)  # the encoded mean of the user's drawing or upload (the map's ★)
        page.active = gr.State(None)  # the checkpoint this session last opened successfully
        wire_page(page)
        for tab in TABS:
            tab.wire(page)
    return page.demo
