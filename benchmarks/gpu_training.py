"""`python -m benchmarks.gpu_training`: the one prepared script for a lent GPU machine (issue 29) →
benchmarks/results-gpu.md.

For 3 and 10 epochs of MNIST on the same GPU: the lab's loop as a script (its model moved to the GPU, each batch
copied there, `.item()` every step) against the Train tab's own command on ZeroGPU (`python -m training` with the
flags explorer/zerogpu.py gives a GPU run), measured from Start to an explorable model (the last epoch's checkpoint
opens) and to the command's end; the epochs' own seconds from metrics.json; the step's achieved TFLOP/s (FLOPs counted
by torch's FlopCounterMode) against the GPU's measured bf16 matmul peak. Runs on a CPU too (`--device cpu`), to
check the script before a GPU session.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from explorer.train_runs import RunRequest, TrainLimits, run_command
from explorer.zerogpu import worker_args
from training.run_state import run_state

from .__main__ import cpu_name, table
from .training_speed import step_flops

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results-gpu.md"


def matmul_peak_tflops(device: str, size: int = 8192, reps: int = 20) -> float:
    """What this device's bf16 matrix multiply reaches: the physical reference for the training step."""
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    a @ b
    synchronize(device)
    started = time.perf_counter()
    for _ in range(reps):
        a @ b
    synchronize(device)
    return 2 * size**3 * reps / (time.perf_counter() - started) / 1e12


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def lab_seconds(data_dir: str, epochs: int, device: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchmarks.lab_loop", "--data-dir", data_dir, "--epochs", str(epochs),
                    "--device", device], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def train_tab_run(data_dir: str, epochs: int, device: str, out: Path) -> dict:
    """The Train tab's GPU run as a command: seconds to an explorable model and to the end, and its epochs' seconds."""
    argv = run_command(RunRequest("mnist", 1.0, 32, epochs, 0, out.name), out.parent, Path(data_dir), TrainLimits())
    command = [sys.executable, "-m", "training", *worker_args(argv), "--device", device]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    explorable = None
    while process.poll() is None:
        if explorable is None and _last_epoch_saved(out, epochs):
            explorable = time.perf_counter() - started
        time.sleep(0.05)
    ended = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"the run failed: {process.stdout.read()[-2000:]}")
    history = json.loads((out / "metrics.json").read_text())["history"]
    return {"explorable_s": explorable or ended, "end_s": ended, "epoch_s": [h["seconds"] for h in history],
            "images_per_s": max(h["images_per_s"] for h in history), "log": process.stdout.read()}


def _last_epoch_saved(out: Path, epochs: int) -> bool:
    try:
        return run_state(out).opens and len(json.loads((out / "metrics.json").read_text())["history"]) == epochs
    except (OSError, ValueError, KeyError):
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_training", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/mnist")
    p.add_argument("--device", default="cuda")
    p.add_argument("--epochs", type=int, nargs="+", default=[3, 10])
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu_name()
    peak = matmul_peak_tflops(args.device, size=8192 if args.device.startswith("cuda") else 1024, reps=20 if args.device.startswith("cuda") else 3)
    flops_per_image = step_flops(1024) / 1024
    rows = []
    for epochs in args.epochs:
        lab = lab_seconds(args.data_dir, epochs, args.device)
        with tempfile.TemporaryDirectory() as tmp:
            ours = train_tab_run(args.data_dir, epochs, args.device, Path(tmp) / f"gpu-e{epochs}")
        achieved = flops_per_image * ours["images_per_s"] / 1e12
        rows.append([epochs, f"{lab:.1f}", f"{ours['explorable_s']:.1f}", f"{ours['end_s']:.1f}",
                     f"{lab / ours['explorable_s']:.2f}", f"{sum(ours['epoch_s']) / len(ours['epoch_s']):.2f}",
                     f"{ours['images_per_s']:,.0f}", f"{achieved:.2f} ({100 * achieved / peak:.1f} % of {peak:.3g})"])
        print(rows[-1], flush=True)
    lines = [f"# Training on a GPU ({time.strftime('%Y-%m-%d')})", "",
             f"Device: **{name}** ({args.device}); torch {torch.__version__}; host CPU {cpu_name()}. Made by "
             "`python -m benchmarks.gpu_training`. The step: "
             f"{flops_per_image / 1e6:.1f} MFLOP per image (forward + backward, FlopCounterMode).", "",
             *table(["epochs", "lab loop s", "Train tab run: explorable s", "to its end s", "× lab (explorable)",
                     "s per epoch (train)", "images/s (best epoch)", "TFLOP/s (% of bf16 matmul peak)"], rows), "",
             "The lab's loop trains only (nothing to explore at its end); the Train tab's run also evaluates, maps, "
             "saves every epoch and scores the test set, and is explorable once its last epoch is saved."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
