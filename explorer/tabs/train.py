"""Train: a visitor trains their own VAE (data set, β, z_dim, epochs, seed, name) and watches it learn — progress,
loss curves, the map forming, reconstructions and prior samples at the latest snapshot, dimensions switching on —
drawn in the page from the run's live files (training/live.py). When it ends it is in the picker and in Compare, and
downloads as a zip. The runs themselves: explorer/train_runs.py."""
from __future__ import annotations

import json
import os
import zipfile

import gradio as gr

from training import safe_text
from training.datasets import DATASETS
from training.errors import UserError
from training.hub import PUBLISHED_FILES
from training.live import PROGRESS, finished_progress
from training.timeline import TIMELINE_JSON, TIMELINE_TENSORS

from .. import train_runs, web_assets
from .common import Tab, friendly, panel_html

TICK_S = 1.0  # the page's status is refreshed this often while it is open


def _quote(name: str) -> str:
    return f"**{safe_text.markdown(name)}**"


SAMPLING_CHOICES = [  # one line each on what the lab says
    ("rsample: z = mean + std·ε, the reparameterisation trick (the lab's)", "rsample"),
    ("torch.normal: the lab says “do not use”: no gradient reaches the encoder through z", "normal"),
    ("the mean: the lab says “a common mistake”: blurrier images", "mean"),
]
RECON_CHOICES = [("BCE: each pixel a Bernoulli (the lab's)", "bce"), ("MSE: each pixel a Gaussian", "mse")]


class TrainTab(Tab):
    """Reads the context's runs: a TrainingRuns, or None when the app has no runs folder."""

    ID, LABEL = "train", "Train"

    def train_intro(self) -> str:
        runs = self.ctx.runs
        if runs is None or not runs.limits.enabled:
            return "Training is turned off on this server (`--no-train`). Train on your own machine with `python -m training`."
        if not runs.datasets():
            return (f"No data set is on this server (looked for torchvision's layout under "
                    f"{safe_text.markdown_code(runs.data_dir)}), so training is not available here.")
        where = ("on a GPU lent for your request (ZeroGPU; the t-SNE map is skipped, the PCA map is drawn)"
                 if runs.limits.gpu else "in a separate process")
        return ("Train your own VAE here: pick a data set, β (the KL weight), the latent size and the epochs, and press "
                f"Start. It trains {where} into the runs folder; the curves, the map and the digits below "
                "follow it live. When it ends it is in the checkpoint picker, in Compare and in every tab. "
                + safe_text.markdown(runs.limits.describe(), safe_text.LONG))

    def train_datasets(self) -> list[tuple[str, str]]:
        present = set(train_runs.datasets_present(self.ctx.runs.data_dir)) if self.ctx.runs is not None else set()
        offered = self.ctx.runs.datasets() if self.ctx.runs is not None else []
        return [(DATASETS[k].title + ("" if k in present else " (downloaded first)"), k) for k in offered]

    def _taken(self) -> set[str]:
        return set(self.ctx.library.names()) | self.ctx.runs.remembered_names()

    def train_start(self, owner, dataset, beta, z_dim, epochs, seed, name, sampling="rsample", recon="bce",
                    request: gr.Request = None):
        """Queue the visitor's run (it starts at once when nobody else's is training)."""
        runs = self.ctx.runs
        if runs is None or not runs.limits.enabled:
            raise UserError("Training is turned off on this server (--no-train).")
        run = train_runs.parse_request(dataset, beta, z_dim, epochs, seed, name, runs.limits, runs.datasets(),
                                       self._taken(), sampling, recon)
        owner, _ = runs.submit(owner, run, self.ctx.client_of(request))
        return owner, *self.train_status(owner, None, request)

    def train_stop(self, owner, request: gr.Request = None):
        message = self.ctx.runs.stop(owner) if self.ctx.runs is not None else "Training is turned off on this server."
        gr.Info(safe_text.html_text(message))
        return self.train_status(owner, None, request)

    def train_status(self, owner, shown, request: gr.Request = None):
        """What the tab shows now, as updates of its outputs — skipped where nothing changed since `shown` (the
        session's last answer), so an idle page costs a few file stats a second and sends nothing."""
        runs = self.ctx.runs
        if runs is None:
            return [gr.skip()] * 6
        runs.seen(owner)
        mine = runs.mine(owner)
        # the visitor's own run while it trains (or after, when nothing else trains); else the run training now
        active = runs.active()
        watched = mine if mine is not None and (mine.state == "running" or (mine.state != "queued" and active is None)) else active
        status = self._status_markdown(mine, watched)
        if watched is not None:
            live = self._live(watched.name, watched.state)
        else:  # nothing to follow: the last finished run that left its live files, so the tab is never empty
            last = next((n for n in reversed(runs.finished_names()) if runs.progress(n)), None)
            live = self._live(last, "done") if last else self._example_live()
            example = None if last else json.loads(live).get("name")
            if last and mine is None:
                status += f" Below: how the last run, {_quote(last)}, learned."
            elif example:
                status += (f" Below, as an example of what your run will draw: how {_quote(example)}, a model shipped "
                           "with the explorer, learned.")
        names = self.ctx.library.names()
        # the visitor's run opens once its last epoch is saved (the library lists it then), t-SNE or not
        opens = mine.name if mine is not None and mine.name in names else None
        saved = list(self.ctx.library.stamp(self.ctx.library.folder(opens)) or ()) if opens else None
        now = {"status": status, "live": live, "names": names, "opens": opens, "saved": saved}
        old = shown or {}
        same = {k: old.get(k) == now[k] for k in now}
        return [
            gr.skip() if same["status"] else status,
            gr.skip() if same["live"] else live,
            gr.skip() if same["opens"] else gr.Button(f"Open {opens}" if opens else "Open", visible=bool(opens)),
            gr.skip() if same["saved"] else gr.DownloadButton(value=self.zip_of(opens, self.ctx.client_of(request)) if opens else None,
                                                          visible=bool(opens)),
            gr.skip() if same["names"] else json.dumps(names),
            now,
        ]

    def _status_markdown(self, mine, watched) -> str:
        runs = self.ctx.runs
        lines = []
        if mine is not None:
            what = (f"{_quote(mine.name)} ({safe_text.markdown(DATASETS[mine.request.dataset].title)}, β {mine.request.beta:g}, "
                    f"z_dim {mine.request.z_dim}, {mine.request.epochs} epoch{'s' if mine.request.epochs > 1 else ''}"
                    + ("" if mine.request.sampling == "rsample" else f", z by {mine.request.sampling}")
                    + ("" if mine.request.recon == "bce" else f", {mine.request.recon}") + ")")
            if mine.state == "queued":
                active = runs.active()
                other = f"; {_quote(active.name)} is training now" if active is not None else ""
                lines.append(f"Your run {what} is number {runs.position(mine)} in the queue{other}. Stop takes it out.")
            elif mine.state == "running":
                lines.append(f"Training {what}: {train_runs.describe_progress(runs.progress(mine.name))}")
            elif mine.state == "done":
                folder = runs.runs_dir / mine.name
                shown = os.path.relpath(folder) if not os.path.relpath(folder).startswith("..") else str(folder)
                lines.append(f"✔ {what} is trained: open it, download it, or publish it on the Hub with "
                             f"{safe_text.markdown_code(f'python -m training push {shown} OWNER/NAME')}.")
            else:
                why = safe_text.markdown(mine.message, safe_text.LONG)
                opens = mine.name in self.ctx.library.names()
                lines.append(f"{'' if mine.state == 'stopped' else '⚠️ '}{what} {mine.state}: {why}."
                             + (" Its saved epochs open like any checkpoint." if opens else ""))
        if watched is not None and watched is not mine and watched.state == "running":
            lines.append(f"Another visitor's run {_quote(watched.name)} is training: "
                         f"{train_runs.describe_progress(runs.progress(watched.name))}")
        waiting = len(runs.queue)
        if waiting and (mine is None or mine.state != "queued"):
            lines.append(f"{waiting} run{'s' if waiting > 1 else ''} waiting in the queue.")
        return "\n\n".join(lines) or "You have no run yet: set it up above and press Start."

    def _live(self, name: str, state: str) -> str:
        """What the page needs to draw a run: its live files' URLs and a version that changes when they do."""
        if state == "queued":
            return json.dumps({})
        folder = self.ctx.runs.live_dir(name)
        progress = self.ctx.runs.progress(name)
        if progress is None:
            return json.dumps({"name": name, "state": state})
        files = {"progress": web_assets.file_url(folder / PROGRESS)}
        if (folder / TIMELINE_JSON).is_file():
            files.update(json=web_assets.file_url(folder / TIMELINE_JSON), tensors=web_assets.file_url(folder / TIMELINE_TENSORS))
        version = f"{progress['step']}-{progress['state']}-{progress['snapshots']}-{len(progress['test'])}"
        return json.dumps({"name": name, "state": state, "version": version, "snapshots": progress["snapshots"],
                           "files": files})

    def _example_live(self) -> str:
        """Before any run: a shipped model's run drawn as a finished one (its timeline, and a progress file rebuilt
        from its checkpoint, written once per save beside the page's files); `{}` when no checkpoint has a timeline."""
        name = self.ctx.default_name if self.ctx.library.has_timeline(self.ctx.default_name) else self.ctx.timeline_checkpoint(None)
        if name is None or self.ctx.timeline_problem(name) is not None:
            return json.dumps({})

        def describe():
            ck, (found, _) = self.ctx.library.get(name), self.ctx.timeline(name)
            path = self.ctx.page_file(name, "example-progress.json")
            if path is None:
                return json.dumps({})
            batch = ck.config.train.batch_size
            steps = -(-int(ck.config.data.get("train_images") or batch) // batch)
            progress = finished_progress(ck.metrics.get("history", []), steps, found.entries)
            self.ctx.write_page_file(path, lambda tmp: tmp.write_text(json.dumps(progress, allow_nan=False)))
            files = self.ctx.timeline_files(name)
            return json.dumps({"name": name, "state": "example", "version": path.parent.name, "snapshots": len(found.entries),
                               "files": {"progress": web_assets.file_url(path), "json": files["json"],
                                         "tensors": files["tensors"]}})

        return self.ctx.library.memo(name, "example-live", describe)

    def zip_of(self, name: str, client: str) -> str | None:
        """The run's checkpoint as one zip (the files the Hub gets), written once per saved version; offering it
        counts as using the run (it is not pruned while its visitor may be downloading it)."""
        path = self.ctx.page_file(name, f"{name}.zip")
        if path is None:
            return None
        folder = self.ctx.library.folder(name)

        def write(tmp):
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in PUBLISHED_FILES:
                    if (folder / file).is_file():
                        archive.write(folder / file, f"{name}/{file}")

        self.ctx.write_page_file(path, write)
        self.ctx.runs.used(name, client)
        return str(path)


    def layout(self, page) -> None:
        self.intro = gr.Markdown(self.train_intro(), elem_id="train-intro")
        runs = self.ctx.runs
        limits = runs.limits if runs is not None else train_runs.TrainLimits(enabled=False)
        datasets = self.train_datasets()
        with gr.Row():
            self.dataset = gr.Dropdown(datasets, value=datasets[0][1] if datasets else None, label="Data set",
                                       elem_id="train-dataset")
            self.beta = gr.Number(1.0, label="β (KL weight)", minimum=0, maximum=train_runs.MAX_BETA, elem_id="train-beta")
            self.z_dim = gr.Number(16, label="z_dim", precision=0, minimum=1, maximum=256, elem_id="train-z")
            # Gradio refuses a slider whose ends meet: with one epoch allowed, the slider shows 1–2 and is fixed at 1
            self.epochs = gr.Slider(1, max(2, limits.max_epochs), value=min(3, limits.max_epochs), step=1,
                                    label="Epochs", interactive=limits.max_epochs > 1, elem_id="train-epochs")
            self.seed = gr.Number(0, label="Seed", precision=0, elem_id="train-seed")
            self.name = gr.Textbox(label="Name (empty: from the settings)", max_length=40, elem_id="train-name")
        with gr.Row():  # the lab's warnings, as choices: explorer/lessons.py shows what each does
            self.sampling = gr.Radio(SAMPLING_CHOICES, value="rsample", label="The decoder's z (the lab's lessons)",
                                     elem_id="train-sampling")
            self.recon = gr.Radio(RECON_CHOICES, value="bce", label="Reconstruction loss", elem_id="train-loss")
        with gr.Row():
            self.start = gr.Button("Start training", variant="primary", elem_id="train-start",
                                   interactive=bool(datasets) and limits.enabled)
            self.stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
            self.open = gr.Button("Open", visible=False, elem_id="train-open")
            self.download = gr.DownloadButton("Download as zip", visible=False, elem_id="train-download")
        self.status = gr.Markdown(elem_id="train-status")
        gr.HTML(panel_html("train_view"))
        self.live = gr.Textbox(elem_id="train-live", elem_classes="bridge", show_label=False)
        self.owner = gr.BrowserState(None, storage_key="vae-explorer-train")
        self.shown = gr.State(None)
        self.timer = gr.Timer(TICK_S)

    def wire(self, page) -> None:
        # what train_status returns, in order: a saved run's name reaches the picker and Compare through page.names
        status_outputs = [self.status, self.live, self.open, self.download, page.names, self.shown]
        # the status never waits in Gradio's queue (it is a dictionary look-up and a stat or two): a flood of slow
        # requests cannot make a visitor's polls fail and their run look abandoned
        quiet = dict(show_progress="hidden", api_name=False, queue=False)
        self.start.click(friendly(self.train_start), [self.owner, self.dataset, self.beta, self.z_dim, self.epochs,
                                                       self.seed, self.name, self.sampling, self.recon],
                         [self.owner, *status_outputs], api_name=False)
        self.stop.click(friendly(self.train_stop), self.owner, status_outputs, api_name=False)
        self.timer.tick(self.train_status, [self.owner, self.shown], status_outputs, **quiet)
        # no id is given on arrival: Gradio restores a BrowserState after the page's load events, so one given there
        # would replace the id of a visitor who reloads; Start gives it
        page.demo.load(self.train_status, [self.owner, self.shown], status_outputs, **quiet)
        self.live.change(None, self.live, None, js="(live) => vae.trainStatus(live)")
        page.open_checkpoint(self.open.click, lambda shown: shown["opens"], self.shown)
