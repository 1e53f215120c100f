"""Training-side measurements: step throughput per speed lever against the lab loop, equal-epoch quality, IWAE,
and how the step and the atlas scale."""
from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from training.atlas import encode_all, fit_pca, fit_tsne
from training.config import ModelConfig, RunConfig, TrainConfig
from training.data import ImageSplit, shuffled_batches, to_model_input
from training.loss import iwae_bound
from training.model import VAE
from training.train import Stepper, evaluate, make_model_and_optimizer

from . import lab_loop

CPU = torch.device("cpu")


def lab_batches(split: ImageSplit, batch_size: int, seed: int):
    """The lab's DataLoader(ToTensor) pipeline over the same images: one PIL image at a time."""
    from PIL import Image
    from torch.utils.data import Dataset
    from torchvision import transforms

    class PilDataset(Dataset):
        def __len__(self):
            return len(split.images)

        def __getitem__(self, i):
            return transforms.ToTensor()(Image.fromarray(split.images[i].numpy(), mode="L")), int(split.labels[i])

    return (x for x, _ in lab_loop.lab_dataloader(PilDataset(), batch_size, seed))


def in_memory_batches(split: ImageSplit, batch_size: int, seed: int, epoch: int = 0):
    """This project's pipeline: uint8 tensors already in memory, indexed by a seeded permutation."""
    return (split.images[idx] for idx in shuffled_batches(len(split.images), batch_size, seed, epoch))


def _images_per_second(step, batches, n_batches: int) -> float:
    step(next(batches))  # warm-up: first-call allocations and kernel selection
    start, seen = time.perf_counter(), 0
    for _ in range(n_batches):
        batch = next(batches)
        step(batch)
        seen += len(batch)
    return seen / (time.perf_counter() - start)


def time_lab(split: ImageSplit, n_batches: int, in_memory: bool = False, batch_size: int = 1024) -> float:
    """Images/s of the lab's own model, loss and optimizer, fed by its DataLoader or by in-memory uint8 batches."""
    vae, opt = lab_loop.make_lab()
    if in_memory:
        return _images_per_second(lambda u8: lab_loop.lab_step(vae, opt, to_model_input(u8)),
                                  in_memory_batches(split, batch_size, 0), n_batches)
    return _images_per_second(lambda x: lab_loop.lab_step(vae, opt, x), lab_batches(split, batch_size, 0), n_batches)


def time_ours(split: ImageSplit, n_batches: int, threads: int | None = None, model: ModelConfig | None = None,
              **levers) -> float:
    """Images/s of this project's training step with the given TrainConfig levers (and optionally thread count)."""
    run = RunConfig(model=model or ModelConfig(), train=TrainConfig(**levers))
    net, opt = make_model_and_optimizer(run, CPU)
    stepper = Stepper(net, opt, run.train, CPU)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        return _images_per_second(stepper, in_memory_batches(split, run.train.batch_size, 0), n_batches)
    finally:
        torch.set_num_threads(previous)


FP32 = dict(channels_last=False, bf16=False, gemm_deconv=False)


@dataclass(frozen=True)
class Variant:
    name: str
    lab: bool = False
    in_memory: bool = False
    levers: dict | None = None
    threads: int | None = None


def native_variants(variants, bf16_native: bool) -> tuple[list, list[str]]:
    """The variants this machine runs natively, and the names of those skipped (bf16 where it would be emulated:
    on AVX2-only CPUs those ran ≈ 10× slower than fp32 and took most of a quick run's time)."""
    kept = [v for v in variants if bf16_native or not (v.levers or {}).get("bf16")]
    return kept, [v.name for v in variants if v not in kept]


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, reps: int = 5) -> float:
    """Best-of-`reps` GFLOP/s of one size×size matrix product on this CPU's threads: the ceiling a step is held to."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def step_flops(batch_size: int = 1024, model: ModelConfig | None = None) -> float:
    """Floating-point operations of one training step (forward + backward), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    run = RunConfig(model=model or ModelConfig(), train=TrainConfig(bf16=False, gemm_deconv=False, channels_last=False,
                                                                    batch_size=batch_size))
    net, opt = make_model_and_optimizer(run, CPU)
    stepper = Stepper(net, opt, run.train, CPU)
    with FlopCounterMode(display=False) as counter:
        stepper(torch.zeros(batch_size, 28, 28, dtype=torch.uint8))
    return float(counter.get_total_flops())


def probed_levers(split: ImageSplit, batch_size: int = 1024) -> dict:
    """The levers `python -m training` would pick on this machine: its probe, on the first steps of a run."""
    from training.levers import LeverProbe, lever_options
    from training.train import bf16_supported, timed_step

    run = RunConfig(train=TrainConfig(batch_size=batch_size))
    net, opt = make_model_and_optimizer(run, CPU)
    stepper = Stepper(net, opt, run.train, CPU)
    probe = LeverProbe(lever_options(CPU.type, bf16_supported(CPU), forced={}))
    batches = itertools.chain.from_iterable(in_memory_batches(split, run.train.batch_size, 0, epoch)
                                            for epoch in itertools.count())  # small (quick) sets: several epochs
    while not probe.done:
        timed_step(stepper, next(batches), probe)
    return probe.chosen


VARIANTS = (
    Variant("lab loop (DataLoader + ToTensor, Sigmoid + BCELoss, Adam)", lab=True),
    Variant("lab loop on in-memory uint8 batches", lab=True, in_memory=True),
    Variant("ours fp32: + BCE-with-logits, closed-form KL, fused Adam", levers=FP32),
    Variant("+ channels_last", levers=dict(FP32, channels_last=True)),
    Variant("+ channels_last + bf16 autocast, library ConvTranspose2d", levers=dict(FP32, channels_last=True, bf16=True)),
    Variant("+ channels_last + GEMM ConvTranspose2d, fp32", levers=dict(FP32, channels_last=True, gemm_deconv=True)),
    Variant("+ channels_last + GEMM ConvTranspose2d + bf16",
            levers=dict(channels_last=True, bf16=True, gemm_deconv=True)),
)


def with_default(variants, levers: dict) -> list:
    """The variants plus the levers the probe picked here (the trainer's default), on 2 threads and on 1."""
    return [*variants, Variant("levers the probe picks on this CPU (**default**): " + lever_names(levers), levers=levers),
            Variant("default on 1 thread instead of 2", levers=levers, threads=1)]


def lever_names(levers: dict) -> str:
    return " + ".join(n.replace("_", " ") for n in ("bf16", "gemm_deconv", "channels_last") if levers.get(n)) or "plain fp32"


@dataclass(frozen=True)
class EndToEnd:
    """Median wall seconds of one epoch from the command to its exit, and where ours went (in its median warm run)."""

    lab_s: float
    ours_s: float  # ONNX graphs already in the cache (every run after a machine's first)
    ours_cold_s: float  # empty cache: the first run on a machine also exports the ONNX graphs
    start_up_s: float  # command → first step, as `python -m training` prints it
    epoch_s: float  # the training epoch, the probe's first steps included
    probe_lost_s: float  # how much slower the probe's steps ran than its winner

    @property
    def rest_s(self) -> float:
        """Evaluation, atlas, checkpoint and exit."""
        return self.ours_s - self.start_up_s - self.epoch_s


def end_to_end_epoch(data_dir: str, out: Path, rounds: int = 3) -> EndToEnd:
    """Interleaved rounds of: the lab's loop as a script, `python -m training` with an empty ONNX cache, then again."""
    import json
    import os
    import re
    import subprocess
    import sys
    import tempfile

    root = Path(__file__).resolve().parent.parent
    ours = [sys.executable, "-m", "training", "--data-dir", data_dir, "--epochs", "1", "--no-tsne", "--no-iwae",
            "--no-progress", "--overwrite", "--out", str(out)]
    times: dict[str, list[float]] = {"lab": [], "cold": []}
    warm_runs: list[tuple[float, float, float, float]] = []  # (wall, start-up, epoch, probe lost) of each warm run
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "VAE_EXPLORER_CACHE": cache}
            for kind, command in (("lab", [sys.executable, "-m", "benchmarks.lab_loop", "--data-dir", data_dir]),
                                  ("cold", ours), ("warm", ours)):
                started = time.perf_counter()
                done = subprocess.run(command, cwd=root, check=True, capture_output=True, text=True, env=env)
                wall = time.perf_counter() - started
                if kind != "warm":
                    times[kind].append(wall)
                    continue
                start_up = float(re.search(r"start-up ([0-9.]+) s", done.stdout).group(1))
                epoch = json.loads((out / "metrics.json").read_text())["history"][0]["seconds"]
                lost = json.loads((out / "config.json").read_text())["probe"]["lost_s"]
                warm_runs.append((wall, start_up, epoch, lost))
    median = statistics.median
    wall, start_up, epoch, lost = sorted(warm_runs)[len(warm_runs) // 2]  # the median run, so its parts add up
    return EndToEnd(median(times["lab"]), wall, median(times["cold"]), start_up, epoch, lost)


def throughput(split: ImageSplit, n_batches: int, rounds: int, variants, batch_size: int = 1024) -> list[tuple[Variant, float]]:
    """Interleaved rounds (every variant once per round, so machine noise hits all alike); median images/s."""
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(rounds):
        for v in variants:
            ips = (time_lab(split, n_batches, v.in_memory, batch_size=batch_size) if v.lab
                   else time_ours(split, n_batches, threads=v.threads, **{"batch_size": batch_size, **v.levers}))
            samples[v.name].append(ips)
    return [(v, statistics.median(samples[v.name])) for v in variants]


def quality(train_split: ImageSplit, test_split: ImageSplit, epochs: int, levers: dict) -> dict[str, dict]:
    """Test −ELBO after the same epochs and seed: the lab loop (its pipeline) vs this trainer (its defaults)."""
    vae, opt = lab_loop.make_lab(seed=0)
    for epoch in range(epochs):
        for x in lab_batches(train_split, 1024, epoch):
            lab_loop.lab_step(vae, opt, x)
    run = RunConfig(train=TrainConfig(**levers))
    lab_as_ours = VAE()
    lab_as_ours.load_state_dict(lab_loop.to_project_state_dict(vae.state_dict()))
    results = {}
    torch.manual_seed(0)
    results["lab loop"] = evaluate(lab_as_ours, test_split, run.train, CPU)
    ours, opt = make_model_and_optimizer(run, CPU)
    stepper = Stepper(ours, opt, run.train, CPU)
    for epoch in range(epochs):
        for batch in in_memory_batches(train_split, 1024, 0, epoch):
            stepper(batch)
    torch.manual_seed(0)
    results["this trainer (defaults)"] = evaluate(ours, test_split, run.train, CPU)
    return results


def iwae(checkpoint: Path, test_split: ImageSplit, n_images: int, k: int) -> tuple[float, float]:
    """(IWAE bound on −log p(x) with k samples, −ELBO) in nats per image, on the first n test images."""
    from training.checkpoint import load_checkpoint

    ck = load_checkpoint(checkpoint)
    subset = ImageSplit(test_split.images[:n_images], test_split.labels[:n_images])
    torch.manual_seed(0)
    with torch.inference_mode():
        log_px = torch.cat([iwae_bound(ck.model, chunk, k=k) for chunk in to_model_input(subset.images).split(50)])
    elbo = evaluate(ck.model, subset, ck.config.train, CPU)
    return -log_px.mean().item(), elbo["total"]


def step_scaling(split: ImageSplit, n_batches: int, batch_sizes, z_dims, levers: dict) -> list[tuple[int, int, float]]:
    """(batch size, z_dim, images/s) of the default step; the epoch time is len(train set) / images/s."""
    rows = [(bs, 32, time_ours(split, n_batches, batch_size=bs, **levers)) for bs in batch_sizes]
    rows += [(1024, z, time_ours(split, n_batches, model=ModelConfig(z_dim=z), **levers)) for z in z_dims if z != 32]
    return rows


def atlas_scaling(checkpoint: Path, images: torch.Tensor, sizes) -> list[tuple[int, float, float, float]]:
    """(points, encode s, PCA s, t-SNE s) for the first N images: what the end of a training run spends on the map."""
    from training.checkpoint import load_checkpoint

    model = load_checkpoint(checkpoint).model
    rows = []
    for n in sizes:
        t0 = time.perf_counter()
        means, _ = encode_all(model, images[:n])
        t1 = time.perf_counter()
        fit_pca(means)
        t2 = time.perf_counter()
        fit_tsne(means)
        rows.append((n, t1 - t0, t2 - t1, time.perf_counter() - t2))
    return rows
