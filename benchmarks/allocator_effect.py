"""The allocator lever (training/allocator.py) measured where it acts: a whole process, with and without it.

`python -m benchmarks.allocator_effect --keep-freed` prints the images/s of the default step in a fresh process;
`allocator_effect()` runs both settings in interleaved subprocesses (a setting of the C library cannot be undone
inside one process).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def allocator_effect(data_dir: str | None, levers: dict, n_batches: int, rounds: int) -> tuple[float, float]:
    """Median images/s of the step with glibc's default malloc and with freed memory kept (data_dir None: synthetic
    digits, for the quick run)."""
    samples: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for keep in (False, True):
            command = [sys.executable, "-m", "benchmarks.allocator_effect", "--batches", str(n_batches),
                       "--levers", json.dumps(levers)] + (["--keep-freed"] if keep else [])
            command += ["--data-dir", data_dir] if data_dir else ["--synthetic"]
            done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
            samples[keep].append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(samples[False]), statistics.median(samples[True])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.allocator_effect")
    p.add_argument("--data-dir", default="../shared/mnist")
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--levers", default="{}", help="TrainConfig levers as JSON")
    p.add_argument("--keep-freed", action="store_true")
    p.add_argument("--synthetic", action="store_true", help="synthetic digits instead of MNIST (quick runs, tests)")
    args = p.parse_args(argv)
    if args.keep_freed:
        from training.allocator import keep_freed_memory

        if not keep_freed_memory():
            print("nan")
            return 0
    from .training_speed import time_ours

    if args.synthetic:
        from tests.helpers import synthetic_digits

        split = synthetic_digits(3072, 1)
    else:
        from training.data import load_split

        split = load_split(args.data_dir, train=True, download=False)
    print(time_ours(split, args.batches, **json.loads(args.levers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
