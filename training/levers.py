"""Pick the training step's speed levers by timing them on this machine (like cuDNN's benchmark mode).

The fastest combination differs between CPUs: bf16 autocast with the GEMM transposed convolution wins where bf16 runs
natively (AVX-512 BF16, AMX) and loses badly where it is emulated (AVX2 only). So instead of a fixed rule, a run times
one step of each candidate the device supports, on the real batch shape, within a time budget, and keeps the fastest.
Levers only change speed and float rounding, never the function being optimised.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import replace

import torch

from .config import RunConfig

LEVERS = ("bf16", "gemm_deconv", "channels_last")
PROBE_BUDGET_S = 3.0


def candidates(device: torch.device, bf16_native: bool, forced: dict) -> list[dict]:
    """Lever combinations worth timing on `device`, the likeliest winner first; `forced` levers are fixed.

    bf16 is a candidate only where it runs natively; the GEMM transposed convolution exists only on CPU.
    """
    options = {
        "bf16": [True, False] if bf16_native else [False],
        "gemm_deconv": [True, False] if device.type == "cpu" else [False],
        "channels_last": [True, False],
    }
    for name, value in forced.items():
        options[name] = [value]
    combos = [dict(zip(LEVERS, combo)) for combo in itertools.product(*(options[n] for n in LEVERS))]
    first = combos[0]  # every lever at its first option: the likeliest winner
    # then each lever flipped alone (what decides most), then the rest, so a tight budget still tests each lever once;
    # among equals, dropping bf16 last (an fp32 step is the slowest to time)
    return sorted(combos, key=lambda c: (sum(c[n] != first[n] for n in LEVERS), c["bf16"] != first["bf16"]))


def _one_step_seconds(run: RunConfig, levers: dict, images_u8: torch.Tensor, device: torch.device) -> float:
    """Seconds of one training step with these levers, after one warm-up step (allocations, kernel selection)."""
    from .train import Stepper, make_model_and_optimizer

    trial = replace(run, train=replace(run.train, **levers))
    model, optimizer = make_model_and_optimizer(trial, device)
    step = Stepper(model, optimizer, trial.train, device)
    step(images_u8)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    step(images_u8)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def probe(run: RunConfig, images_u8: torch.Tensor, device: torch.device, bf16_native: bool, forced: dict,
          budget_s: float = PROBE_BUDGET_S) -> tuple[dict, dict]:
    """Time the candidates (stopping when the budget is spent) and return (fastest levers, a report for config.json).

    The model's RNG state is restored afterwards, so probing does not change the run's initial weights or sampling.
    """
    rng = torch.get_rng_state()
    started = time.perf_counter()
    timings = []
    costs = []  # wall seconds per candidate; the first also pays the process's one-time kernel set-up
    for levers in candidates(device, bf16_native, forced):
        elapsed = time.perf_counter() - started
        # the next one would overrun: stop (the first candidate's cost includes one-time set-up, so count half of it)
        if costs and elapsed + max(costs[1:], default=costs[0] / 2) > budget_s:
            break
        began = time.perf_counter()
        seconds = _one_step_seconds(run, levers, images_u8, device)
        costs.append(time.perf_counter() - began)
        timings.append({**levers, "images_per_s": round(len(images_u8) / seconds, 1)})
    torch.set_rng_state(rng)
    best = max(timings, key=lambda t: t["images_per_s"])
    chosen = {name: best[name] for name in LEVERS}
    report = {"chosen": chosen, "candidates": timings, "seconds": round(time.perf_counter() - started, 2),
              "batch": len(images_u8), "device": str(device), "forced": forced}
    return chosen, report


def describe(report: dict) -> str:
    """One line: which levers won, how fast, against the slowest candidate, and what the probe cost."""
    best = max(report["candidates"], key=lambda t: t["images_per_s"])
    slowest = min(report["candidates"], key=lambda t: t["images_per_s"])
    names = [n.replace("_", " ") for n in LEVERS if best[n]] or ["plain fp32"]
    return (f"levers: {' + '.join(names)} — {best['images_per_s']:,.0f} img/s, fastest of {len(report['candidates'])} "
            f"timed on this {report['device']} (slowest {slowest['images_per_s']:,.0f} img/s); probe took "
            f"{report['seconds']:.1f} s (--no-probe to skip)")
