"""The training timeline: what the page needs to show any moment of a run, recorded on a geometric schedule of
optimizer steps (most of the change happens in the first epoch) and at every epoch end.

Each snapshot holds the loss terms so far, KL and activity per latent dimension, the 2-D map of a fixed class-balanced
test subset (PCA, each snapshot rotated or reflected onto the previous one so that points move instead of jumping;
a 2-D latent is its own map), reconstructions of fixed test images and decodings of fixed prior samples. At the epoch
ends of a geometric schedule (1, 2, 4, 8, … and the last) it also keeps the decoder, in float16.
Written with the checkpoint (timeline.json + timeline.safetensors, atomic like the rest); read by `load_timeline`.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file

from .atlas import fit_pca
from .checkpoint import header_shapes, read_json, read_tensors
from .data import to_model_input, to_uint8
from .errors import UserError
from .evaluation import ACTIVE_UNIT_THRESHOLD
from .loss import elbo_terms, kl_per_dim
from .numbers import is_number
from .observers import Observer

TIMELINE_JSON, TIMELINE_TENSORS = "timeline.json", "timeline.safetensors"  # what the page reads
TIMELINE_DECODERS = "timeline-decoders.safetensors"  # float16 decoders at some epoch ends: for the server, not the page
TIMELINE_VERSION = 1
PER_CLASS = 200  # the map's subset: 2,000 test images, 200 of each class (fewer when a class has fewer)
RECONSTRUCTED = 10  # the first test image of each class
PRIOR_SAMPLES = 16
PRIOR_SEED = 1234
FIRST_STEP, MAX_SNAPSHOTS = 5, 2_000


def snapshot_steps(steps_per_epoch: int, epochs: int) -> list[int]:
    """Step 0 (the initial weights), then 5, 10, 20, 40, … and every epoch end, up to the last step."""
    last = steps_per_epoch * epochs
    geometric = [0] + [FIRST_STEP * 2**k for k in range(int(math.log2(max(last, 1) / FIRST_STEP)) + 1)]
    return sorted({s for s in geometric if s <= last} | {steps_per_epoch * e for e in range(1, epochs + 1)})


def decoder_epochs(epochs: int, kept: str = "geometric") -> set[int]:
    """The epoch ends whose decoder is kept: 1, 2, 4, 8, … and the last (a few MB each, so not all of them); with
    `kept` = "last" only the last (a small folder: the lessons)."""
    last = {epochs}
    return last if kept == "last" else {2**k for k in range(int(math.log2(epochs)) + 1)} | last


def balanced_subset(labels: torch.Tensor, per_class: int = PER_CLASS) -> torch.Tensor:
    """The first `per_class` test images of each class, in test-set order."""
    chosen = [torch.nonzero(labels == c).flatten()[:per_class] for c in range(10)]
    return torch.cat(chosen).sort().values


def align(previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """`current` (N, 2), centred, rotated or reflected onto `previous` (orthogonal Procrustes; no scaling, so a
    map that grows out of noise is seen growing)."""
    a, b = current - current.mean(0), previous - previous.mean(0)
    u, _, vt = torch.linalg.svd(a.T.double() @ b.double())
    return (a.double() @ (u @ vt)).float()


def map_coordinates(means: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
    """A 2-D latent is its own map; any other is its PCA (the atlas's), aligned to the previous snapshot's map."""
    if means.shape[1] == 2:
        return means.float().clone()
    coords = fit_pca(means)["pca"]
    return coords if previous is None else align(previous, coords)


@dataclass
class Timeline:
    """Snapshots of one run: JSON-ready entries and their tensors, appended as the run goes."""

    subset: torch.Tensor  # (N,) test indices of the map
    labels: torch.Tensor  # (N,) their classes
    shown: torch.Tensor  # (RECONSTRUCTED,) test indices reconstructed at every snapshot
    prior_z: torch.Tensor  # (PRIOR_SAMPLES, z) decoded at every snapshot
    entries: list[dict] = field(default_factory=list)
    tensors: dict[str, list[torch.Tensor]] = field(default_factory=lambda: {"coords": [], "recon": [], "prior": []})
    decoders: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def start(cls, test_labels: torch.Tensor, z_dim: int) -> "Timeline":
        subset = balanced_subset(test_labels)
        shown = torch.tensor([int(torch.nonzero(test_labels == c)[0]) for c in range(10) if (test_labels == c).any()])
        prior = torch.randn(PRIOR_SAMPLES, z_dim, generator=torch.Generator().manual_seed(PRIOR_SEED))
        return cls(subset, test_labels[subset].clone(), shown, prior)

    @torch.no_grad()
    def take(self, model, test_images: torch.Tensor, step: int, epoch: float, train_terms: dict | None, device,
             kind: str = "bce", keep_decoder: bool = False, autocast=contextlib.nullcontext) -> None:
        """Record the model as it is at optimizer step `step` (put back in training mode afterwards).

        Its z samples come from a generator of its own: the run's random stream, and so its weights, are the same
        with or without a timeline. The networks run in the step's precision (`autocast`), the loss in float32."""
        model.eval()
        x = to_model_input(test_images[self.subset], device)
        with autocast():
            q = model.encode(x)
            noise = torch.randn(q.mean.shape, generator=torch.Generator().manual_seed(step)).to(device)
            logits = model.decoder.logits(q.mean + q.stddev * noise)
            recon = model.decode(model.encode(to_model_input(test_images[self.shown], device)).mean)
            prior = model.decode(self.prior_z.to(device))
        q = type(q)(q.mean.float(), q.stddev.float())
        terms = elbo_terms(logits, x, q, kind=kind)
        means = q.mean.float().cpu()
        kl = kl_per_dim(q).float().mean(0).cpu()
        previous = self.tensors["coords"][-1] if self.tensors["coords"] else None
        self.tensors["coords"].append(map_coordinates(means, previous))
        self.tensors["recon"].append(to_uint8(recon))
        self.tensors["prior"].append(to_uint8(prior))
        self.entries.append({
            "step": step, "epoch": round(epoch, 4), "train": train_terms,
            "test": {"recon": float(terms.recon), "kl": float(terms.kl), "total": float(terms.recon + terms.kl)},
            "kl_per_dim": [round(float(v), 5) for v in kl],
            "active": [bool(v > ACTIVE_UNIT_THRESHOLD) for v in means.var(0)],
            "decoder": keep_decoder,
        })
        if keep_decoder:
            for name, value in model.decoder.state_dict().items():  # weights and BatchNorm statistics (a copy each)
                if value.is_floating_point():
                    self.decoders[f"s{len(self.entries) - 1}.{name}"] = value.detach().to("cpu", torch.float16, copy=True)
        model.train()

    def save(self, folder: Path, decoders: bool = True) -> None:
        """Write timeline.json and timeline.safetensors (and the kept decoders) into a checkpoint folder being saved."""
        tensors = {"subset": self.subset, "labels": self.labels, "shown": self.shown, "prior_z": self.prior_z,
                   **{k: torch.stack(v) for k, v in self.tensors.items()}}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / TIMELINE_TENSORS))
        if decoders and self.decoders:
            save_file({k: v.contiguous() for k, v in self.decoders.items()}, str(folder / TIMELINE_DECODERS))
        (folder / TIMELINE_JSON).write_text(json.dumps({"version": TIMELINE_VERSION, "snapshots": self.entries}, allow_nan=False))


def load_timeline(folder: str | Path, z_dim: int, n_test: int) -> Timeline | None:
    """A checkpoint's timeline, checked against its config and test set; None when it has none (trained before
    timelines, or with --timeline off). A damaged or mismatched one is a UserError; the checkpoint itself still opens."""
    folder = Path(folder)
    json_path, tensor_path = folder / TIMELINE_JSON, folder / TIMELINE_TENSORS
    if not json_path.exists() and not tensor_path.exists():
        return None

    def refuse(why: str):
        raise UserError(f"{folder.name}'s timeline is unusable ({why}); the rest of the checkpoint opens without it.")

    def read(reader, path: Path):
        """The checkpoint's own readers (size limits, nesting bombs, truncated or foreign files), refused as above."""
        try:
            return reader(path)
        except UserError as err:
            refuse(f"{path.name}: {str(err).split(': ', 1)[-1].split(';')[0]}")

    raw, header = read(read_json, json_path), read(header_shapes, tensor_path)
    entries = raw.get("snapshots") if isinstance(raw, dict) and raw.get("version") == TIMELINE_VERSION else None
    if not isinstance(entries, list) or not 0 < len(entries) <= MAX_SNAPSHOTS or not all(isinstance(e, dict) for e in entries):
        refuse(f"timeline.json is not version {TIMELINE_VERSION} with 1–{MAX_SNAPSHOTS:,} snapshots")
    steps = [e.get("step") for e in entries]
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in steps) or steps != sorted(set(steps)):
        refuse("its steps are not increasing whole numbers")
    for e in entries:
        kl, active, test = e.get("kl_per_dim"), e.get("active"), e.get("test")
        if not (isinstance(kl, list) and len(kl) == z_dim and all(is_number(v) for v in kl) and isinstance(active, list)
                and len(active) == z_dim and isinstance(test, dict) and all(is_number(test.get(k)) for k in ("recon", "kl", "total"))
                and is_number(e.get("epoch"))):
            refuse(f"snapshot at step {e['step']} does not match this checkpoint's {z_dim} latent dimensions")
    n, s = header.get("subset", ((0,), ""))[0][0], len(entries)
    shown = header.get("shown", ((0,), ""))[0][0]
    shapes = {"subset": (n,), "labels": (n,), "shown": (shown,), "prior_z": (PRIOR_SAMPLES, z_dim), "coords": (s, n, 2),
              "recon": (s, shown, 28, 28), "prior": (s, PRIOR_SAMPLES, 28, 28)}
    for key, shape in shapes.items():  # checked on the header, before anything is read
        if key not in header or header[key][0] != shape:
            refuse(f"'{key}' is missing or not of shape {shape}")
    tensors = read(read_tensors, tensor_path)
    if not (0 < n <= n_test and int(tensors["subset"].max()) < n_test and int(tensors["subset"].min()) >= 0
            and torch.isfinite(tensors["coords"]).all() and tensors["recon"].dtype == torch.uint8):
        refuse(f"its test subset or map does not fit this checkpoint's {n_test:,} test images")
    decoders = read(read_tensors, folder / TIMELINE_DECODERS) if (folder / TIMELINE_DECODERS).exists() else {}
    kept = {f"s{i}" for i, e in enumerate(entries) if e.get("decoder")}
    if not all(k.split(".", 1)[0] in kept and v.dtype == torch.float16 and torch.isfinite(v).all() for k, v in decoders.items()):
        refuse(f"{TIMELINE_DECODERS} holds tensors of no snapshot that kept its decoder")
    return Timeline(tensors["subset"], tensors["labels"], tensors["shown"], tensors["prior_z"], entries,
                    {k: list(tensors[k].unbind(0)) for k in ("coords", "recon", "prior")}, decoders)


class Recorder(Observer):
    """Takes a run's snapshots, as one of its loop's observers (training/observers.py): the initial weights at the
    start, then after every step of `snapshot_steps` (with the training loss since the previous snapshot).

    A resumed run (`resume_from`, its folder) continues the folder's timeline; one whose folder has no usable timeline
    goes on without one (its first snapshot would not be the initial weights)."""

    def __init__(self, train_images: int, test_split, device, resume_from: Path | None = None, done_epochs: int = 0,
                 log=print, on_snapshot=None):
        self.train_images, self.test_split, self.device, self.log = train_images, test_split, device, log
        self.resume_from, self.done_epochs = resume_from, done_epochs
        self.on_snapshot = on_snapshot  # called with the timeline after each snapshot (training/live.py)
        self.timeline: Timeline | None = None
        self.seconds = 0.0  # spent taking snapshots: reported, so that a run's speed can be read without them
        self.sums, self.seen = torch.zeros(3, dtype=torch.float64), 0

    def start(self, s) -> None:
        """The schedule of the run as it trains (a resumed run's own settings), and its first snapshot."""
        self.run, self.autocast = s.run, s.stepper.autocast  # the step's precision: bf16 where the run trains in it
        self.steps_per_epoch = -(-self.train_images // s.run.train.batch_size)
        self.step = self.done_epochs * self.steps_per_epoch
        self.schedule = set(snapshot_steps(self.steps_per_epoch, s.run.train.epochs))
        self.keep_decoder_at = {self.steps_per_epoch * e
                                for e in decoder_epochs(s.run.train.epochs, s.run.record.timeline_decoders)}
        self.timeline = s.timeline = self._started_or_continued()
        if self.timeline is not None and not self.timeline.entries:
            self.snapshot(s.model, 0, None)

    def _started_or_continued(self) -> Timeline | None:
        z_dim, labels = self.run.model.z_dim, self.test_split.labels
        if self.resume_from is None:
            return Timeline.start(labels, z_dim)
        try:
            timeline = load_timeline(self.resume_from, z_dim, len(labels))
        except UserError as err:
            self.log(f"{err} Continuing without a timeline.")
            return None
        if timeline is None:
            self.log(f"{self.resume_from} has no timeline to continue (trained without one): continuing without a timeline.")
        return timeline

    def step_done(self, s) -> None:
        if self.timeline is None:
            return
        self.step += 1
        self.sums = self.sums.to(s.terms.device) + s.terms.double() * s.batch  # on the step's device: nothing waits
        self.seen += s.batch
        if self.step not in self.schedule:
            return
        total, recon, kl = (self.sums / self.seen).tolist()  # the training loss since the previous snapshot
        self.snapshot(s.model, self.step, {"total": total, "recon": recon, "kl": kl})
        self.sums, self.seen = torch.zeros(3, dtype=torch.float64), 0

    def snapshot(self, model, step: int, train_terms: dict | None) -> None:
        started = time.perf_counter()
        self.timeline.take(model, self.test_split.images, step, step / self.steps_per_epoch, train_terms, self.device,
                           self.run.train.reconstruction, keep_decoder=step in self.keep_decoder_at, autocast=self.autocast)
        if self.on_snapshot is not None:
            self.on_snapshot(self.timeline)
        self.seconds += time.perf_counter() - started

    def end(self, outcome: str, message: str = "") -> None:
        if outcome == "done" and self.timeline is not None:
            self.log(f"timeline: {len(self.timeline.entries)} snapshots, {self.seconds:.1f} s of the run")


def decoder_onnx(template: Path, timeline: Timeline, snapshot: int) -> bytes:
    """The checkpoint's own decoder.onnx (checked against its weights by the loader) carrying the decoder that
    snapshot `snapshot` kept: the same graph, other weights, so the page can decode at that moment of training."""
    import onnx

    from .onnx_export import graph_with_weights

    prefix = f"s{snapshot}."
    state = {f"decoder.{k[len(prefix):]}": v.float().numpy() for k, v in timeline.decoders.items() if k.startswith(prefix)}
    if not state:
        raise UserError(f"Snapshot {snapshot} of the timeline kept no decoder.")
    return graph_with_weights(onnx.load(str(template)), "decoder", state)
