"""`python -m benchmarks.train_tab --data-dir ../shared/mnist`: what a visitor of the Train tab waits for, and where a
training step's time goes on this CPU → benchmarks/results-train.md.

1. Time to a model: a real run through the Train tab's machinery (explorer/train_runs.py: the subprocess, its live
   files), from Start to "in the picker" (the last epoch saved, PCA map) and to the t-SNE map, for 1 and 3 MNIST
   epochs, with the trainer's own breakdown (start-up, epochs, t-SNE) from its log.
2. The explorer stays responsive: a server request's compute (one reconstruction + one decoding, one thread, as a
   Gradio worker runs it) timed every 50 ms while a run trains on every core vs on one fewer, both at nice 10.
3. The step's profile: self time of the default step's ops (levers as the probe picks them), matrix products and
   convolutions against the memory-bound rest, and the step's fraction of this CPU's measured matmul peak.
"""
from __future__ import annotations

import argparse
import datetime
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from explorer import checkpoint_library, inference
from training.checkpoint import load_checkpoint
from explorer.train_runs import RunRequest, TrainingRuns, TrainLimits
from training.live import read_progress

from . import training_speed
from .__main__ import cpu_flags, cpu_name, table, write_results

OUT = Path(__file__).resolve().parent / "results-train.md"
COMPUTE_OPS = ("mm", "addmm", "bmm", "matmul", "linear", "conv", "convolution", "mkldnn")


def time_to_model(data_dir: Path, epochs: int, limits: TrainLimits) -> dict:
    """Seconds from Start to each moment the visitor sees, polled every 20 ms."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = TrainingRuns(Path(tmp), data_dir, limits)
        library = checkpoint_library.CheckpointLibrary(Path(tmp) / "none", runs=runs)
        name = f"bench-e{epochs}"
        started = time.perf_counter()
        _, run = runs.submit(None, RunRequest("mnist", 1.0, 16, epochs, 0, name))
        seen: dict[str, float] = {}
        while run.state in ("queued", "running"):
            runs.tick()
            progress = read_progress(runs.live_dir(name)) or {}
            now = time.perf_counter() - started
            if progress.get("step"):
                seen.setdefault("first step", now)
            if name in library.names():
                seen.setdefault("in the picker", now)
            time.sleep(0.02)
        seen["t-SNE added (run ends)"] = time.perf_counter() - started
        log = (runs.live_dir(name) / "log.txt").read_text()
        assert run.state == "done", log[-2000:]
        seen["log"] = log
        return seen


def trainer_breakdown(log: str) -> str:
    startup = re.search(r"start-up ([\d.]+) s", log)
    epochs = [float(s) for s in re.findall(r"\|\s+([\d.]+) s,\s+\d+ img/s", log)]
    rates = [int(s) for s in re.findall(r"([\d]+) img/s\n", log)]
    tsne = re.search(r"t-SNE map added in ([\d.]+) s", log)
    return (f"start-up {startup.group(1) if startup else '?'} s; epochs {' + '.join(f'{e:.1f}' for e in epochs)} s "
            f"({', '.join(f'{r:,}' for r in rates)} img/s); t-SNE {tsne.group(1) if tsne else '?'} s")


def request_latency_during(data_dir: Path, limits: TrainLimits, checkpoint: Path, seconds: float = 12.0) -> tuple[float, float]:
    """p50 and p95 (ms) of a server request's compute while a run trains (after its start-up)."""
    torch.set_num_threads(1)
    ck = load_checkpoint(checkpoint)
    image = (torch.rand(28, 28) * 255).to(torch.uint8).numpy()
    z = torch.zeros(1, ck.config.model.z_dim).numpy()

    def one() -> float:
        started = time.perf_counter()
        inference.reconstruct(ck.model, image[None])
        inference.decode(ck.model, z)
        return (time.perf_counter() - started) * 1000

    if limits is None:  # nothing training: the baseline
        times = [one() for _ in range(int(seconds / 0.05))]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            runs = TrainingRuns(Path(tmp), data_dir, limits)
            _, run = runs.submit(None, RunRequest("mnist", 1.0, 16, 3, 0, "load"))
            runs.tick()
            while not (read_progress(runs.live_dir("load")) or {}).get("step"):
                time.sleep(0.05)
            times, end = [], time.perf_counter() + seconds
            while time.perf_counter() < end:
                times.append(one())
                time.sleep(0.05)
            runs.shutdown()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def step_profile(split, steps: int = 6) -> tuple[list[list], float, float, dict]:
    """Self CPU time per op group over `steps` default steps, and the step's seconds."""
    from torch.profiler import ProfilerActivity, profile

    from training.config import RunConfig, TrainConfig
    from training.train import Stepper, make_model_and_optimizer

    levers = training_speed.probed_levers(split)
    run = RunConfig(train=TrainConfig(**levers))
    net, opt = make_model_and_optimizer(run, torch.device("cpu"))
    stepper = Stepper(net, opt, run.train, torch.device("cpu"))
    batch = split.images[:1024]
    for _ in range(3):
        stepper(batch)
    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            stepper(batch)
    seconds = (time.perf_counter() - started) / steps
    events = [(e.key, e.self_cpu_time_total) for e in prof.key_averages()]
    total = sum(t for _, t in events) or 1
    compute = sum(t for k, t in events if any(op in k.lower() for op in COMPUTE_OPS))
    top = sorted(events, key=lambda e: -e[1])[:10]
    rows = [[f"`{k}`", f"{t / total:.1%}", "matrix/conv" if any(op in k.lower() for op in COMPUTE_OPS) else "memory-bound"]
            for k, t in top]
    return rows, compute / total, seconds, levers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_tab")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--checkpoint", default=str(Path(__file__).resolve().parent.parent / "checkpoints" / "default"))
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    data_dir = Path(args.data_dir)
    from training.data import load_split

    lines = [f"# The Train tab: time to a model, a responsive server, the step's profile ({datetime.date.today()})", "",
             f"CPU: {cpu_name()} ({cpu_flags()}), {torch.get_num_threads()} torch threads; torch {torch.__version__}.", ""]
    rows = []
    for epochs in (1, 3):
        seen = time_to_model(data_dir, epochs, TrainLimits())
        rows.append([f"{epochs} epoch{'s' if epochs > 1 else ''}", f"{seen['first step']:.1f}", f"{seen['in the picker']:.1f}",
                     f"{seen['t-SNE added (run ends)']:.1f}", trainer_breakdown(seen["log"])])
        print(rows[-1], flush=True)
    lines += ["## Time to a model (MNIST, z_dim 16, β 1, every core, nice 10; seconds from Start)", ""]
    lines += table(["run", "first step", "in the picker (PCA map)", "t-SNE added", "the trainer's log"], rows)

    cores = torch.get_num_threads()
    latency = [["nothing training", *request_latency_during(data_dir, None, Path(args.checkpoint))]]
    latency.append([f"a run on {cores} threads", *request_latency_during(data_dir, TrainLimits(), Path(args.checkpoint))])
    if cores > 1:
        latency.append([f"a run on {cores - 1} thread(s)", *request_latency_during(data_dir, TrainLimits(threads=cores - 1),
                                                                                     Path(args.checkpoint))])
    torch.set_num_threads(cores)
    lines += ["", "## A server request while a run trains (one reconstruction + one decoding on 1 thread, ms)", ""]
    lines += table(["while", "p50", "p95"], [[w, f"{a:.1f}", f"{b:.1f}"] for w, a, b in latency])

    split = load_split(data_dir, train=True, download=False)
    rows, compute_share, seconds, levers = step_profile(split)
    dtype = torch.bfloat16 if levers.get("bf16") else torch.float32
    peak = training_speed.matmul_peak_gflops(dtype)
    achieved = training_speed.step_flops(1024) / seconds / 1e9
    lines += ["", f"## The default step's profile (batch 1024, levers {levers}, profiled)", "",
              f"Step {seconds * 1000:.0f} ms = {achieved:,.0f} GFLOP/s = **{achieved / peak:.0%}** of this CPU's measured "
              f"{str(dtype).split('.')[-1]} matmul peak ({peak:,.0f} GFLOP/s, 2048², same run). Matrix products and "
              f"convolutions: **{compute_share:.0%}** of the ops' self time; the rest is memory-bound (element-wise, "
              "BatchNorm, layout copies, the optimizer).", ""]
    lines += table(["op (top 10 by self time)", "share", "kind"], rows)
    return write_results(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
