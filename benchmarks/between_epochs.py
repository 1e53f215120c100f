"""What a run does between two epochs, part by part, against the lab's own test pass.

A real 2-epoch MNIST run of `train(...)` (the default record: timeline and live files on; the finishing extras off,
so only the per-epoch work is timed), its parts timed by wrapping the functions the loop calls: the test set's
evaluation, the atlas (10,000 means and their PCA), samples.png's grid, the ONNX export (first save) or refresh, the
rest of the save, and the timeline snapshots. The reference is the lab's test pass: its model over the 10,000 test
images with DataLoader(ToTensor), batch 1024, no gradients — what the lab runs after each epoch.

`python -m benchmarks.between_epochs --data-dir DIR` writes benchmarks/results-between-epochs.md.
"""
from __future__ import annotations

import argparse
import contextlib
import platform
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

from benchmarks.lab_loop import kl_divergence_loss, make_lab, reconstruction_loss
from training import checkpoint, onnx_export, timeline, train
from training.config import FinishConfig, ModelConfig, RecordConfig, RunConfig, TrainConfig
from training.data import load_split

OUT = Path(__file__).resolve().parent / "results-between-epochs.md"
PARTS = {  # (module, attribute) → what the row says
    (train, "evaluate"): "test-set evaluation",
    (train, "build_atlas"): "atlas: 10,000 means + PCA",
    (train, "reconstruction_grid"): "samples.png grid",
    (onnx_export.OnnxExporter, "export"): "ONNX export / weight refresh",
    (checkpoint, "save_checkpoint"): "save (files, ONNX included)",
    (timeline.Recorder, "snapshot"): "timeline snapshots",
    (train, "_train_one_epoch"): "the epoch's training steps",
}


def cpu_line() -> str:
    flags, model = set(), platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    shown = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    return f"{model}, {torch.get_num_threads()} threads, flags: {' '.join(shown) or 'none of avx2/avx512/amx'}"


@contextlib.contextmanager
def timed_parts(spent: dict[str, list[float]]):
    """Wrap each part so every call's seconds are recorded; the originals come back afterwards."""
    originals = {}
    for (owner, name), label in PARTS.items():
        original = getattr(owner, name)
        originals[(owner, name)] = original

        def wrapper(*args, _original=original, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label].append(time.perf_counter() - started)

        setattr(owner, name, wrapper)
    try:
        yield
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)


@torch.no_grad()
def lab_test_pass(data_dir: str) -> float:
    """The lab's evaluation after an epoch: its model over the test set, as its notebook loads it."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    vae, _ = make_lab()
    vae.eval()
    dataset = datasets.MNIST(data_dir, train=False, download=False, transform=transforms.ToTensor())
    started = time.perf_counter()
    total = 0.0
    for images, _ in DataLoader(dataset, batch_size=1024):
        recon, q = vae(images)
        total += float(reconstruction_loss(recon, images) + kl_divergence_loss(q).sum())
    return time.perf_counter() - started


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.between_epochs")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    train_split, test_split = load_split(args.data_dir, train=True), load_split(args.data_dir, train=False)
    lab_s = sorted(lab_test_pass(args.data_dir) for _ in range(3))[1]
    run = RunConfig(model=ModelConfig(), train=TrainConfig(epochs=2), data={"dataset": "mnist"},
                    finish=FinishConfig(tsne=False, umap=False, iwae=False, scores=False), record=RecordConfig())
    spent: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp, timed_parts(spent):
        started = time.perf_counter()
        train.train(run, train_split, test_split, Path(tmp) / "run",
                    train.Invocation(progress=False, log=lambda line: None))
        total = time.perf_counter() - started
    epochs = spent.pop("the epoch's training steps")
    snapshots = spent["timeline snapshots"]
    # per epoch end: evaluation, atlas, grid and save are called once each; the ONNX export's first call is the export
    rows = [["the lab's test pass (reference)", f"{lab_s:.2f}", "1.00"]]
    for label in ("test-set evaluation", "atlas: 10,000 means + PCA", "samples.png grid", "save (files, ONNX included)"):
        last = spent[label][-1]
        rows.append([f"{label} (epoch 2)", f"{last:.2f}", f"{last / lab_s:.2f}"])
    onnx = spent["ONNX export / weight refresh"]
    rows.append(["… of which ONNX (epoch 1: export; epoch 2: refresh)", f"{onnx[0]:.2f} / {onnx[-1]:.2f}",
                 f"{onnx[-1] / lab_s:.2f}"])
    between = sum(spent[label][-1] for label in ("test-set evaluation", "atlas: 10,000 means + PCA",
                                                 "samples.png grid", "save (files, ONNX included)"))
    rows.append(["**between two epochs, in all**", f"**{between:.2f}**", f"**{between / lab_s:.2f}**"])
    rows.append([f"timeline snapshots ({len(snapshots)} in 2 epochs, inside the epochs)", f"{sum(snapshots):.2f}",
                 f"{sum(snapshots) / lab_s:.2f}"])
    lines = ["# Between two epochs: each part against the lab's test pass", "",
             f"{time.strftime('%Y-%m-%d')}, {cpu_line()}, torch {torch.__version__}. A 2-epoch MNIST run "
             f"(z_dim 32, batch 1024; t-SNE, UMAP, IWAE and scores off) took {total:.1f} s; its epochs' training steps "
             f"{epochs[0]:.1f} s and {epochs[1]:.1f} s. Median of 3 lab test passes. "
             "Written by `python -m benchmarks.between_epochs`.", "",
             "| part | seconds | × the lab's test pass |", "|---|---|---|",
             *("| " + " | ".join(r) + " |" for r in rows)]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
