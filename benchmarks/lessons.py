"""`python -m benchmarks.lessons --data-dir ../shared/mnist`: what each of the lab's warnings does to a real model →
benchmarks/results-lessons.md.

The shipped lessons family (checkpoints/lesson-*: the lab's default settings, 10 epochs, seed 0, one thing changed in
each) measured by explorer/lessons.py on the real MNIST test set — the same figures and the same finding sentences
that the Lessons tab shows.
"""
from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import torch

from explorer import lessons
from training.checkpoint import load_checkpoint
from training.data import load_split

from .__main__ import cpu_flags, cpu_name, table, write_results

OUT = Path(__file__).resolve().parent / "results-lessons.md"
ROOT = Path(__file__).resolve().parent.parent


def figures_of(folder: Path, test_images) -> tuple[dict, float]:
    ck = load_checkpoint(folder)
    started = time.perf_counter()
    figures = lessons.measure(ck.model, ck.config.train.reconstruction, ck.metrics, test_images)
    return figures, time.perf_counter() - started


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/mnist")
    p.add_argument("--checkpoints-dir", default=str(ROOT / "checkpoints"))
    args = p.parse_args()
    folder = Path(args.checkpoints_dir)
    images = load_split(args.data_dir, train=False, dataset="mnist").images
    default, seconds = figures_of(folder / lessons.BASELINE, images)
    lines = ["# The lab's warnings, measured", "",
             f"{datetime.date.today()} · {cpu_name()} · {cpu_flags()} · {torch.get_num_threads()} threads · torch "
             f"{torch.__version__} · `python -m benchmarks.lessons` · each checkpoint is `{lessons.BASELINE}` (the lab's "
             "settings: z 32, β 1, BCE, rsample, Adam 0.002, batch 1024, 10 epochs, seed 0) trained again with one "
             f"flag changed; figures on the first {lessons.MEASURED_IMAGES:,} MNIST test images and "
             f"{lessons.PRIOR_SAMPLES} prior samples (seed {lessons.SEED}), −ELBO and IWAE (k = 1000, first 1,000 test "
             f"images) from each checkpoint's metrics.json. Measuring one model took {seconds:.1f} s.", ""]
    for key, lesson in lessons.LESSONS.items():
        variant, _ = figures_of(folder / lesson.checkpoint, images)
        names = (lessons.BASELINE, lesson.checkpoint)
        lines += [f"## {lesson.title} (`{lesson.changed}`)", "", f"The lab: {lesson.lab_says}", "",
                  *table(["figure", *names], lessons.figures_table(default, variant, names)), "",
                  lessons.finding(key, default, variant), ""]
    return write_results(lines, OUT)


if __name__ == "__main__":
    raise SystemExit(main())
