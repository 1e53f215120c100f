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
from .common import friendly

TAB = "train"
TICK_S = 1.0  # the page's status is refreshed this often while it is open
VIEW_HTML = """
<div id="train-anchor"></div>
<div id="train-view" hidden>
  <p id="train-caption"></p>
  <div class="timeline-panels">
    <figure><canvas id="train-curves" width="420" height="200"></canvas><figcaption>Loss per image (nats): training
      batches (thin) and the test set at each epoch end (dots); −ELBO black, reconstruction blue, KL orange</figcaption>
      <canvas id="train-kl" width="420" height="110"></canvas><figcaption>KL per latent dimension at the latest
      snapshot (grey: inactive)</figcaption></figure>
    <figure><canvas id="train-map" width="360" height="360"></canvas><figcaption>The test subset's map at the latest
      snapshot (PCA; a 2-D latent is its own plane), coloured by class</figcaption></figure>
  </div>
  <p>Reconstructions of one test image per class, at the latest snapshot</p>
  <canvas id="train-recon" class="digits" width="28" height="28"></canvas>
  <p>Decodings of 16 fixed prior samples</p><canvas id="train-prior" class="digits" width="28" height="28"></canvas>
</div>
"""


def _quote(name: str) -> str:
    return f"**{safe_text.markdown(name)}**"


class Views:
    """Needs `self.runs` (a TrainingRuns, or None when the app has no runs folder) and `self.sprite_dir`."""

    def train_intro(self) -> str:
        runs = self.runs
        if runs is None or not runs.limits.enabled:
            return "Training is turned off on this server (`--no-train`). Train on your own machine with `python -m training`."
        if not runs.datasets():
            return (f"No data set is on this server (looked for torchvision's layout under "
                    f"{safe_text.markdown_code(runs.data_dir)}), so training is not available here.")
        return ("Train your own VAE here: pick a data set, β (the KL weight), the latent size and the epochs, and press "
                "Start. It trains in a separate process into the runs folder; the curves, the map and the digits below "
                "follow it live. When it ends it is in the checkpoint picker, in Compare and in every tab. "
                + safe_text.markdown(runs.limits.describe(), safe_text.LONG))

    def train_datasets(self) -> list[tuple[str, str]]:
        present = set(train_runs.datasets_present(self.runs.data_dir)) if self.runs is not None else set()
        offered = self.runs.datasets() if self.runs is not None else []
        return [(DATASETS[k].title + ("" if k in present else " (downloaded first)"), k) for k in offered]

    def _taken(self) -> set[str]:
        return set(self.library.all_names()) | self.runs.remembered_names()

    def train_start(self, owner, dataset, beta, z_dim, epochs, seed, name, request: gr.Request = None):
        """Queue the visitor's run (it starts at once when nobody else's is training)."""
        runs = self.runs
        if runs is None or not runs.limits.enabled:
            raise UserError("Training is turned off on this server (--no-train).")
        run = train_runs.parse_request(dataset, beta, z_dim, epochs, seed, name, runs.limits, runs.datasets(),
                                       self._taken())
        owner, _ = runs.submit(owner, run, self.client_of(request))
        return owner, *self.train_status(owner, None, request)

    def train_stop(self, owner, request: gr.Request = None):
        message = self.runs.stop(owner) if self.runs is not None else "Training is turned off on this server."
        gr.Info(safe_text.html_text(message))
        return self.train_status(owner, None, request)

    def train_status(self, owner, shown, request: gr.Request = None):
        """What the tab shows now, as updates of its outputs — skipped where nothing changed since `shown` (the
        session's last answer), so an idle page costs a few file stats a second and sends nothing."""
        runs = self.runs
        if runs is None:
            return [gr.skip()] * 7
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
        names = self.library.all_names()
        # the visitor's run opens once its last epoch is saved (the library lists it then), t-SNE or not
        opens = mine.name if mine is not None and mine.name in names else None
        saved = list(self.library.stamp(self.library.folder(opens)) or ()) if opens else None
        now = {"status": status, "live": live, "names": names, "opens": opens, "saved": saved}
        old = shown or {}
        same = {k: old.get(k) == now[k] for k in now}
        return [
            gr.skip() if same["status"] else status,
            gr.skip() if same["live"] else live,
            gr.skip() if same["opens"] else gr.Button(f"Open {opens}" if opens else "Open", visible=bool(opens)),
            gr.skip() if same["saved"] else gr.DownloadButton(value=self._zip(opens, self.client_of(request)) if opens else None,
                                                          visible=bool(opens)),
            gr.skip() if same["names"] else gr.Dropdown(choices=names),
            gr.skip() if same["names"] else gr.CheckboxGroup(choices=names),
            now,
        ]

    def _status_markdown(self, mine, watched) -> str:
        runs = self.runs
        lines = []
        if mine is not None:
            what = (f"{_quote(mine.name)} ({safe_text.markdown(DATASETS[mine.request.dataset].title)}, β {mine.request.beta:g}, "
                    f"z_dim {mine.request.z_dim}, {mine.request.epochs} epoch{'s' if mine.request.epochs > 1 else ''})")
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
                opens = mine.name in self.library.all_names()
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
        folder = self.runs.live_dir(name)
        progress = self.runs.progress(name)
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
        name = self.default_name if self.library.has_timeline(self.default_name) else self.timeline_checkpoint(None)
        if name is None or self.timeline_problem(name) is not None:
            return json.dumps({})

        def describe():
            ck, (found, _) = self.library.get(name), self._timeline(name)
            path = self.page_file(name, "example-progress.json")
            if path is None:
                return json.dumps({})
            batch = ck.config.train.batch_size
            steps = -(-int(ck.config.data.get("train_images") or batch) // batch)
            progress = finished_progress(ck.metrics.get("history", []), steps, found.entries)
            self.write_page_file(path, lambda tmp: tmp.write_text(json.dumps(progress, allow_nan=False)))
            files = self.timeline_files(name)
            return json.dumps({"name": name, "state": "example", "version": path.parent.name, "snapshots": len(found.entries),
                               "files": {"progress": web_assets.file_url(path), "json": files["json"],
                                         "tensors": files["tensors"]}})

        return self.library.memo(name, "example-live", describe)

    def _zip(self, name: str, client: str) -> str | None:
        """The run's checkpoint as one zip (the files the Hub gets), written once per saved version; offering it
        counts as using the run (it is not pruned while its visitor may be downloading it)."""
        path = self.page_file(name, f"{name}.zip")
        if path is None:
            return None
        folder = self.library.folder(name)

        def write(tmp):
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in PUBLISHED_FILES:
                    if (folder / file).is_file():
                        archive.write(folder / file, f"{name}/{file}")

        self.write_page_file(path, write)
        self.runs.used(name, client)
        return str(path)


def layout(page) -> None:
    cb = page.cb
    page.train_intro = gr.Markdown(cb.train_intro(), elem_id="train-intro")
    limits = cb.runs.limits if cb.runs is not None else train_runs.TrainLimits(enabled=False)
    datasets = cb.train_datasets()
    with gr.Row():
        page.train_dataset = gr.Dropdown(datasets, value=datasets[0][1] if datasets else None, label="Data set",
                                         elem_id="train-dataset")
        page.train_beta = gr.Number(1.0, label="β (KL weight)", minimum=0, maximum=train_runs.MAX_BETA, elem_id="train-beta")
        page.train_z = gr.Number(16, label="z_dim", precision=0, minimum=1, maximum=256, elem_id="train-z")
        page.train_epochs = gr.Slider(1, limits.max_epochs, value=min(3, limits.max_epochs), step=1, label="Epochs",
                                      elem_id="train-epochs")
        page.train_seed = gr.Number(0, label="Seed", precision=0, elem_id="train-seed")
        page.train_name = gr.Textbox(label="Name (empty: from the settings)", max_length=40, elem_id="train-name")
    with gr.Row():
        page.train_start = gr.Button("Start training", variant="primary", elem_id="train-start",
                                     interactive=bool(datasets) and limits.enabled)
        page.train_stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
        page.train_open = gr.Button("Open", visible=False, elem_id="train-open")
        page.train_download = gr.DownloadButton("Download as zip", visible=False, elem_id="train-download")
    page.train_status = gr.Markdown(elem_id="train-status")
    gr.HTML(VIEW_HTML)
    page.train_live = gr.Textbox(elem_id="train-live", elem_classes="bridge", show_label=False)
    page.train_owner = gr.BrowserState(None, storage_key="vae-explorer-train")
    page.train_shown = gr.State(None)
    page.train_timer = gr.Timer(TICK_S)


def wire(page) -> None:
    cb = page.cb
    status_outputs = [page.train_status, page.train_live, page.train_open, page.train_download, page.ck_name,
                      page.compare_pick, page.train_shown]
    # the status never waits in Gradio's queue (it is a dictionary look-up and a stat or two): a flood of slow
    # requests cannot make a visitor's polls fail and their run look abandoned
    quiet = dict(show_progress="hidden", api_name=False, queue=False)
    page.train_start.click(friendly(cb.train_start), [page.train_owner, page.train_dataset, page.train_beta, page.train_z,
                                                     page.train_epochs, page.train_seed, page.train_name],
                           [page.train_owner, *status_outputs], api_name=False)
    page.train_stop.click(friendly(cb.train_stop), page.train_owner, status_outputs, api_name=False)
    page.train_timer.tick(cb.train_status, [page.train_owner, page.train_shown], status_outputs, **quiet)
    # no id is given on arrival: Gradio restores a BrowserState after the page's load events, so one given there
    # would replace the id of a visitor who reloads; Start gives it
    page.demo.load(cb.train_status, [page.train_owner, page.train_shown], status_outputs, **quiet)
    page.train_live.change(None, page.train_live, None, js="(live) => vae.trainStatus(live)")
    page.then_open(page.train_open.click(lambda shown: shown["opens"], page.train_shown, page.ck_name, api_name=False))

