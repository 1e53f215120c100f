"""The page around the tabs: what it shares with them (the picker, the open checkpoint, the drawing, the checkpoint
names), its header (title, runtime, picker, summary, link row), opening a checkpoint (every tab's on_open) and
opening a link (every tab's on_link)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import gradio as gr

from training import safe_text
from training.errors import UserError
from training.ood import OOD_FILE
from training.run_state import run_state

from . import deep_links, describe, web_assets
from .context import PageContext
from .tabs.common import SHARED, Tab, friendly


REDRAWN_WHEN_FINISHED = ("map", "likelihood")  # the tabs drawn from the maps and scores a finishing step adds


@dataclass
class Page:
    """What the page shares with every tab. Tabs read these; the page alone writes the picker (a tab opens a
    checkpoint through `open_checkpoint`), and the states carry effects from one tab to another by name."""

    demo: gr.Blocks
    checkpoint: gr.Dropdown  # the picker: the checkpoint every view reads
    active: gr.State  # the checkpoint this session last opened successfully; its change means "a checkpoint opened"
    drawing: gr.Textbox  # the drawing pad's PNG, sent by the page only when it cannot run the model itself
    drawn_mean: gr.State  # the encoded mean of the visitor's drawing or upload (the map's ★)
    names: gr.Textbox  # the checkpoint names (JSON), rewritten when a run is saved: the picker and Compare re-read the
    # library as it changes (a bridge, not a State: a State's change does not fire after an unqueued event)
    open_checkpoint: Callable  # open_checkpoint(trigger, pick, inputs): open the checkpoint `pick(*inputs)` names


class PageViews:
    """The page-level callbacks over the context and the tabs (in page order)."""

    def __init__(self, ctx: PageContext, tabs: list[Tab]):
        self.ctx, self.tabs = ctx, tabs

    def tab(self, tab_id: str) -> Tab:
        return next(t for t in self.tabs if t.ID == tab_id)

    def runtime(self, name) -> str:
        """The page's runtime component: where its model, atlas and test images are, and how to show its dimensions."""
        ctx = self.ctx
        ck = ctx.library.get(name)
        dims = ctx.dimensions(name)
        version = ctx.library.version(ck.path)
        config = web_assets.runtime_config(name, ck.path, ck.config.model.z_dim, ctx.sprite(name), version)
        ood = ck.path / OOD_FILE
        config.update(ood=web_assets.file_url(ood, version) if ood.is_file() else None,
                      likelihood=ck.config.train.reconstruction,  # how the page scores a drawing: as the server does
                      classes=describe.checkpoint_classes(ck), dataset=describe.dataset_title(ck), order=dims.order,
                      active=dims.active, kl=[round(v, 4) for v in dims.kl], tabs={t.ID: t.LABEL for t in self.tabs},
                      timeline=ctx.timeline_files(name),
                      timeline_names=[n for n in ctx.library.names() if n != name and ctx.library.has_timeline(n)])
        return web_assets.runtime_html(config)

    def opened(self, name) -> dict:
        """Everything that changes with the checkpoint: the header's and every tab's on_open."""
        finishing = self.finishing(name)  # before loading: a save in between costs one more refresh, never the maps
        ck = self.ctx.library.get(name)
        updates = {self.summary: describe.checkpoint_summary(ck, len(self.ctx.dimensions(name).informative), finishing),
                   self.runtime_html: self.runtime(name), self.refresh: gr.Timer(active=finishing)}
        for tab in self.tabs:
            updates.update(tab.on_open(name))
        return updates

    def finishing(self, name) -> bool:
        """Whether the checkpoint's maps and scores are still being added (its run's state says so, training/run_state.py)."""
        return run_state(self.ctx.library.folder(name)).state == "finishing"

    def refresh_when_finished(self, name, active) -> dict:
        """While the open checkpoint is finishing, nothing (a stat of its state file); once it is done, the header
        and the views its maps and scores feed — the map and the likelihood lens — are drawn again, and the other
        views keep what the visitor set. On any error the timer stops."""
        try:
            if name != active or self.finishing(name):
                return {self.refresh: gr.skip()}
            ck = self.ctx.library.get(name)
            updates = {self.summary: describe.checkpoint_summary(ck, len(self.ctx.dimensions(name).informative)),
                       self.runtime_html: self.runtime(name), self.refresh: gr.Timer(active=False)}
            for tab_id in REDRAWN_WHEN_FINISHED:
                updates.update(self.tab(tab_id).on_open(name))
            return updates
        except (UserError, OSError):
            return {self.refresh: gr.Timer(active=False)}

    def switch_checkpoint(self, name, active, request: gr.Request = None) -> dict:
        """Open checkpoint `name`; if it cannot be loaded, warn and put the picker back on `active`, which keeps working.
        A run opened here is in use: it is not pruned for a while."""
        try:
            self.ctx.library.get(name)
        except UserError as err:
            if active is None or active == name:
                raise
            gr.Warning(safe_text.html_text(f"{err} Still showing {active}.", safe_text.LONG))
            return {self.page.checkpoint: gr.Dropdown(value=active), self.page.active: active}
        if self.ctx.runs is not None:
            self.ctx.runs.used(name, self.ctx.client_of(request))
        return {self.page.active: name, **self.opened(name)}

    def read_link(self, request: gr.Request):
        """The page's URL query → the checkpoint and tab to open, a notice for what was refused, and the view (JSON)."""
        library = self.ctx.library
        params = dict(request.query_params) if request is not None else {}
        query_chars = len(str(request.url.query)) if request is not None and getattr(request, "url", None) else 0
        link = deep_links.parse_view_link(params, library.names(), query_chars)
        name = link.checkpoint or self.ctx.default_name
        try:
            ck = library.get(name)
        except UserError:
            return gr.skip(), gr.skip(), "⚠️ The link's checkpoint could not be opened.", ""
        link = deep_links.fit_to_checkpoint(link, ck.config.model.z_dim, len(ck.atlas["labels"]))
        notice = " ".join(f"⚠️ {safe_text.markdown(n, safe_text.LONG)}" for n in link.notices)
        return (name if link.checkpoint else gr.skip(), gr.Tabs(selected=link.tab) if link.tab else gr.skip(), notice,
                json.dumps(link.to_dict()))

    def apply_link(self, name, link) -> dict:
        """Set what the link asks for once its checkpoint is open (slider values, the comparison, the ranking)."""
        link = json.loads(link) if link else None  # written by read_link
        updates = {}
        if link:
            for tab in self.tabs:
                updates.update(tab.on_link(name, link))
        # Gradio reads an empty dict as one output value, not as "no updates"
        return updates or {self._linked[0]: gr.skip()}

    # --- the page's components

    def header(self, demo: gr.Blocks) -> Page:
        """The title, the page's runtime (where its model is), the picker with the summary, the link row, and the
        shared states."""
        ctx = self.ctx
        gr.Markdown("# VAE explorer\nHow a variational autoencoder sees images: what it keeps, what it samples, how its "
                    "latent space is laid out, and how models with another β, latent size or data set compare.")
        self.runtime_html = gr.HTML(self.runtime(ctx.default_name), head=web_assets.head_html(), elem_id="vae-runtime",
                                    js_on_load="vae.explorer.attach(element); watch('value', () => vae.explorer.attach(element));")
        default_images = ctx.images_of(ctx.default_name)
        if default_images.split is None:
            gr.Markdown(f"ℹ️ {safe_text.markdown(default_images.message, safe_text.LONG)}")
        names = ctx.library.names()
        with gr.Row():
            checkpoint = gr.Dropdown(names, value=ctx.default_name, label="Checkpoint", scale=1)
            self.summary = gr.Markdown()
        # ticks only while the open checkpoint is finishing: the page then adds its maps and scores by itself
        self.refresh = gr.Timer(2.0, active=False)
        self.link_notice = gr.Markdown(elem_id="link-notice")
        with gr.Row():
            self.view_link = gr.Textbox(label="Link to this view", elem_id="view-link", interactive=False, scale=3,
                                        buttons=["copy"])
            self.copy_link = gr.Button("Copy link to this view", elem_id="copy-link", scale=1)
        drawing = gr.Textbox(elem_id="drawing-data", elem_classes="bridge", show_label=False)
        self.page = Page(demo=demo, checkpoint=checkpoint, active=gr.State(None), drawing=drawing,
                         drawn_mean=gr.State(None), open_checkpoint=self._open_checkpoint,
                         names=gr.Textbox(json.dumps(names), elem_id="checkpoint-names", elem_classes="bridge",
                                          show_label=False))
        return self.page

    def _open_checkpoint(self, trigger, pick, inputs):
        """A tab's action that opens a checkpoint: `pick(*inputs)` names it; the page moves the picker and opens it."""
        def picked(*values):  # the name among the picker's choices, whatever the session's picker offered so far
            return gr.Dropdown(choices=self.ctx.library.names(), value=pick(*values))

        return self._then_open(trigger(picked, inputs, self.page.checkpoint, api_name=False))

    def _then_open(self, event):
        page = self.page
        return event.then(friendly(self.switch_checkpoint), [page.checkpoint, page.active], self._open_outputs,
                          **SHARED, api_name=False)

    def wire(self, tabs_component: gr.Tabs) -> None:
        """Open a checkpoint (the picker, a link, a tab's action) and open a link's view; offer new names."""
        page = self.page
        self._open_outputs = [page.checkpoint, page.active, self.summary, self.runtime_html, self.refresh,
                              *[c for tab in self.tabs for c in tab.opened]]
        # A link opens its view: read the query, open its checkpoint, then set the view. The picker listens to .input
        # (a user's pick) so the checkpoint the link sets does not trigger a second switch that would reset the view.
        link = gr.Textbox(elem_id="view-link-request", elem_classes="bridge", show_label=False)  # JSON: the page reads it too
        self._linked = linked = [c for tab in self.tabs for c in tab.linked]
        plan = self.tab("compare").plan
        self._then_open(page.demo.load(self.read_link, None, [page.checkpoint, tabs_component, self.link_notice, link],
                                       api_name=False)).then(
            friendly(self.apply_link), [page.checkpoint, link], linked, **SHARED, api_name=False).then(
            None, [link, plan], None, js="(link, plan) => vae.explorer.openLink(link, plan)")
        page.checkpoint.input(friendly(self.switch_checkpoint), [page.checkpoint, page.active], self._open_outputs,
                              **SHARED, api_name=False)
        # unqueued: a stat a tick, which a flood of slow requests cannot delay; the redraw comes once per finished run
        self.refresh.tick(self.refresh_when_finished, [page.checkpoint, page.active], self._open_outputs,
                          show_progress="hidden", api_name=False, queue=False)
        page.names.change(lambda: gr.Dropdown(choices=self.ctx.library.names()), None, page.checkpoint, queue=False,
                          show_progress="hidden", api_name=False)
        self.copy_link.click(None, None, self.view_link, js="() => vae.explorer.copyLink()")
