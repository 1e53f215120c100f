"""`python -m benchmarks.timeline_alignment`: do the timeline's maps move or jump, and what does recording it cost?

A real run (MNIST, the default model) with and without its timeline; from the recorded snapshots, the median
displacement of a point between consecutive snapshots as a fraction of the map's extent, for the aligned maps the
timeline stores (PCA turned onto the previous snapshot by orthogonal Procrustes) and for plain PCA per snapshot (what
the same points would do unaligned: PCA's axes flip and swap between fits) → benchmarks/results-timeline.md.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

import torch

from training.atlas import fit_pca
from training.config import FinishConfig, ModelConfig, RecordConfig, RunConfig, TrainConfig
from training.data import load_split
from training.timeline import TIMELINE_DECODERS, TIMELINE_JSON, TIMELINE_TENSORS, load_timeline
from training.train import Invocation, train

BARE = FinishConfig(tsne=False, iwae=False)  # as the benchmark has always run: no t-SNE, no IWAE

from .__main__ import cpu_flags, cpu_name, table, write_results

OUT = Path(__file__).resolve().parent / "results-timeline.md"


def displacement(before: torch.Tensor, after: torch.Tensor) -> float:
    """Median distance a point moves from one map to the next, over the later map's extent (its bounding-box diagonal)."""
    extent = float((after.max(0).values - after.min(0).values).norm())
    return float((after - before).norm(dim=1).median()) / extent


def pair_displacements(maps: list[torch.Tensor]) -> list[float]:
    return [displacement(a - a.mean(0), b - b.mean(0)) for a, b in zip(maps, maps[1:])]


def summary(values: list[float]) -> str:
    t = torch.tensor(values)
    return f"{float(t.median()):.3f} / {float(t.quantile(0.9)):.3f} / {float(t.max()):.3f}"


def timed_run(train_split, test_split, out: Path, epochs: int, timeline: bool, batch: int) -> tuple[float, list[str]]:
    run = RunConfig(model=ModelConfig(), train=TrainConfig(epochs=epochs, batch_size=batch, bf16=False), data={"dataset": "mnist"},
                    record=RecordConfig(timeline=timeline), finish=BARE)
    logged: list[str] = []
    started = time.perf_counter()
    train(run, train_split, test_split, out, Invocation(progress=False, log=logged.append))
    return time.perf_counter() - started, logged


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.timeline_alignment", description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/mnist")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="synthetic data, one epoch: checks the harness")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    if args.quick:
        from tests.helpers import synthetic_digits

        train_split, test_split, epochs, batch = synthetic_digits(2048, 1), synthetic_digits(500, 2), 1, 256
    else:
        train_split, test_split = load_split(args.data_dir, True), load_split(args.data_dir, False)
        epochs, batch = args.epochs, 1024
    work = Path(tempfile.mkdtemp())
    run = RunConfig(model=ModelConfig(), train=TrainConfig(epochs=1, batch_size=batch), data={"dataset": "mnist"}, finish=BARE)
    # the ONNX export and the kernels' first calls are paid here, by neither run below
    train(run, train_split, test_split, work / "warm-up", Invocation(progress=False, log=lambda s: None, dry_run=True))
    without, _ = timed_run(train_split, test_split, work / "without", epochs, False, batch)
    with_timeline, logged = timed_run(train_split, test_split, work / "with", epochs, True, batch)
    timeline = load_timeline(work / "with", 32, len(test_split.labels))
    aligned = timeline.tensors["coords"]
    unaligned = [fit_pca(c)["pca"] for c in aligned]  # each snapshot's own PCA: the same points, axes as the fit gives them
    sizes = {name: (work / "with" / name).stat().st_size / 2**20 for name in (TIMELINE_JSON, TIMELINE_TENSORS, TIMELINE_DECODERS)}
    spent = next((line for line in logged if line.startswith("timeline:")), "timeline: ?")
    lines = [f"Measured {datetime.date.today()} on {cpu_name()} ({cpu_flags()}) · {torch.get_num_threads()} threads · "
             f"torch {torch.__version__}{' · QUICK (synthetic) run' if args.quick else ''}", "",
             f"### Timeline: {len(aligned)} snapshots of {aligned[0].shape[0]:,} test images over {epochs} epoch(s), "
             f"batch {batch}, fp32", ""]
    lines += table(["map between consecutive snapshots", "median displacement / extent: median / p90 / max over pairs"], [
        ["PCA per snapshot, unaligned", summary(pair_displacements(unaligned))],
        ["PCA aligned by orthogonal Procrustes (what the timeline stores)", summary(pair_displacements(aligned))],
    ])
    lines += ["", f"Recording it: {spent.removeprefix('timeline: ')}; the whole run {with_timeline:.1f} s with the "
              f"timeline against {without:.1f} s without ({with_timeline / without - 1:+.1%}). Files: "
              + ", ".join(f"{name} {mib:.2f} MiB" for name, mib in sizes.items()) + "."]
    return write_results(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
