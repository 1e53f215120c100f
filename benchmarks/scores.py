"""`python -m benchmarks.scores --data-dir ../shared/mnist`: what the per-image scores cost and how stable their
ranking is → benchmarks/results-scores.md.

1. Cost: every test image scored (training/scores.py, k = 8 samples) in bf16 autocast (where native) and in fp32,
   with the GEMM transposed convolution, on this CPU's threads.
2. Stability: on the first 1,000 test images, the k = 8 −log p(x) bound against k = 64 — the mean, and how much the
   ranking moves (Spearman's ρ, and how many of the 50 hardest by k = 64 are among the 50 hardest by k = 8).
"""
from __future__ import annotations

import argparse
import datetime
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from training.checkpoint import load_checkpoint
from training.data import load_split
from training.deconv import use_fast_deconvs
from training.scores import score_images
from training.train import bf16_supported

from .__main__ import cpu_flags, cpu_name, table, write_results

OUT = Path(__file__).resolve().parent / "results-scores.md"
ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/mnist")
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "default"))
    args = p.parse_args()
    ck = load_checkpoint(args.checkpoint)
    use_fast_deconvs(ck.model)
    kind = ck.config.train.reconstruction  # its own likelihood
    images = load_split(args.data_dir, train=False, dataset=ck.config.data.get("dataset")).images
    bf16 = bf16_supported(torch.device("cpu"))
    precisions = {"bf16": lambda: torch.autocast("cpu", dtype=torch.bfloat16)} if bf16 else {}
    precisions["fp32"] = nullcontext
    rows, best = [], None
    for name, autocast in precisions.items():
        started = time.perf_counter()
        scores = score_images(ck.model, images, autocast=autocast, kind=kind)
        seconds = time.perf_counter() - started
        rows.append([name, len(images), f"{seconds:.1f}", f"{scores['score_elbo'].double().mean():.2f}",
                     f"{scores['score_nll'].double().mean():.2f}"])
        best = best or autocast
    subset = images[:1000]
    k8 = score_images(ck.model, subset, k=8, autocast=best, kind=kind)["score_nll"].numpy()
    started = time.perf_counter()
    k64 = score_images(ck.model, subset, k=64, autocast=best, kind=kind)["score_nll"].numpy()
    k64_seconds = time.perf_counter() - started
    rank8, rank64 = np.argsort(np.argsort(k8)), np.argsort(np.argsort(k64))
    rho = float(np.corrcoef(rank8, rank64)[0, 1])
    top = len(set(np.argsort(-k8)[:50]) & set(np.argsort(-k64)[:50]))
    lines = [
        "# Per-image scores: cost and stability", "",
        f"{datetime.date.today()} · {cpu_name()} · {cpu_flags()} · {torch.get_num_threads()} threads · torch {torch.__version__} · "
        f"checkpoint {Path(args.checkpoint).name} · `python -m benchmarks.scores`", "",
        "## Every test image scored (k = 8)", "",
        *table(["precision", "images", "seconds", "mean −ELBO", "mean −log p(x)"], rows), "",
        f"metrics.json of the checkpoint: test −ELBO {ck.metrics['final']['test']['total']:.2f} (one z per image), "
        f"IWAE k=1000 on the first 1,000: {ck.metrics['final'].get('iwae', {}).get('nll', float('nan')):.2f}.", "",
        "## k = 8 against k = 64 (first 1,000 test images)", "",
        *table(["", "mean −log p(x)", "Spearman ρ with k = 64", "of the 50 hardest by k = 64, among k = 8's 50"],
               [["k = 8", f"{k8.mean():.2f}", f"{rho:.4f}", top], [f"k = 64 ({k64_seconds:.1f} s)", f"{k64.mean():.2f}", "1", 50]]),
    ]
    return write_results(lines, OUT)


if __name__ == "__main__":
    raise SystemExit(main())
