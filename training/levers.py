"""Pick the training step's speed levers by timing them on this machine, on the run's own first steps.

The fastest combination differs between CPUs: bf16 autocast with the GEMM transposed convolution wins where bf16 runs
natively (AVX-512 BF16, AMX) and loses badly where it is emulated (AVX2 only), where the library's fp32 transposed
convolution can beat the GEMM one. So instead of a fixed rule, the first training steps of a run try the candidates
(like cuDNN's benchmark mode, but the probe's steps are real training steps: nothing is thrown away) and the rest of
the run keeps the fastest. Levers only change speed and float rounding, never the function being optimised.

`LeverProbe` is the search alone (no torch): it says which levers the next step should use and is told how long
that step took; `ProbeObserver` runs it on a training run's first steps.
"""
from __future__ import annotations

from dataclasses import replace

from .observers import Observer

LEVERS = ("bf16", "gemm_deconv", "channels_last")
# flipped one at a time from the best so far, cheapest to try first: a channels_last step costs about what the
# default does, an fp32 step 2–3× more where bf16 is native
FLIP_ORDER = ("channels_last", "gemm_deconv", "bf16")
PROBE_BUDGET_S = 1.0  # seconds the probe may lose against running its winner from the start, before it stops trying
WARMUP_STEPS = 1  # a candidate's first step pays one-time set-up (kernel choice, layout conversion): not timed
TIMED_STEPS = 2  # the faster of two steps, so one interrupted step does not decide
CLEARLY_SLOWER = 1.3  # a candidate this much slower than the best after one timed step gets no second one
# a candidate whose first step, set-up included, took this many times the best step is dropped untimed (set-up added
# ≤ 50 % to a first step in every case measured; an fp32 step where bf16 is native takes 2.5–3.5×)
HOPELESS = 2.0


def lever_options(device_type: str, bf16_native: bool, forced: dict) -> dict[str, list[bool]]:
    """Each lever's values worth trying on this device, the likeliest winner first; `forced` levers have one value.

    bf16 is tried only where it runs natively; the GEMM transposed convolution exists only on CPU.
    """
    options = {
        "bf16": [True, False] if bf16_native else [False],
        "gemm_deconv": [True, False] if device_type == "cpu" else [False],
        "channels_last": [True, False],
    }
    for name, value in forced.items():
        options[name] = [bool(value)]
    return options


class LeverProbe:
    """Coordinate search: time the likeliest levers, then flip one lever at a time from the best so far.

    Use: `levers = probe.next_levers()` before a step (None once decided: keep `probe.chosen`), then
    `probe.record(seconds, images)` after it. Each candidate gets a warm-up step and one or two timed steps, except
    one whose warm-up step alone shows it cannot win.
    """

    def __init__(self, options: dict[str, list[bool]], forced: dict | None = None, budget_s: float = PROBE_BUDGET_S):
        self.options, self.forced = options, dict(forced or {})
        self.budget_s = budget_s
        self.best: dict | None = None
        self.best_seconds = float("inf")  # seconds per image of the best candidate's fastest timed step
        self.results: list[dict] = []
        self.lost_s = 0.0  # how much slower the probe's steps ran than the best known at the time
        self.steps = 0
        self._to_flip = [name for name in FLIP_ORDER if len(options[name]) > 1]
        self._trial: dict | None = {name: options[name][0] for name in LEVERS}
        self._trial_steps = 0
        self._trial_times: list[float] = []

    @property
    def done(self) -> bool:
        return self._trial is None

    @property
    def chosen(self) -> dict:
        """The fastest levers timed so far (or those being tried, if none has been timed yet)."""
        return dict(self.best or self._trial)

    def next_levers(self) -> dict | None:
        return None if self._trial is None else dict(self._trial)

    def record(self, seconds: float, images: int) -> None:
        """The step just run with `next_levers()` took `seconds` for `images` images."""
        if self._trial is None:
            return
        self.steps += 1
        per_image = seconds / images
        if self.best is not None:
            self.lost_s += max(0.0, (per_image - self.best_seconds) * images)
        self._trial_steps += 1
        if self._trial_steps <= WARMUP_STEPS:
            if per_image > HOPELESS * self.best_seconds:
                self.results.append({**self._trial, "images_per_s": round(1 / per_image, 1), "set_up_included": True})
                self._next_trial()
            return
        self._trial_times.append(per_image)
        clearly_slower = per_image > CLEARLY_SLOWER * self.best_seconds
        if len(self._trial_times) < TIMED_STEPS and not clearly_slower:
            return
        fastest = min(self._trial_times)
        self.results.append({**self._trial, "images_per_s": round(1 / fastest, 1), "set_up_included": False})
        if fastest < self.best_seconds:
            self.best, self.best_seconds = dict(self._trial), fastest
        self._next_trial()

    def _next_trial(self) -> None:
        self._trial_steps, self._trial_times = 0, []
        if not self._to_flip or self.lost_s > self.budget_s:
            self._trial = None
            return
        name = self._to_flip.pop(0)
        flipped = next(v for v in self.options[name] if v != self.best[name])
        self._trial = {**self.best, name: flipped}

    def report(self, batch: int, device: str) -> dict:
        """What config.json records: the choice, every timed candidate, and what the probe cost."""
        return {"chosen": self.chosen, "candidates": self.results, "steps": self.steps, "lost_s": round(self.lost_s, 2),
                "finished": self.done, "batch": batch, "device": device, "forced": self.forced}


def describe(report: dict) -> str:
    """One line: which levers won, how fast, against the slowest candidate, and what the probe cost."""
    chosen = report["chosen"]
    names = [n.replace("_", " ") for n in LEVERS if chosen[n]] or ["plain fp32"]
    timed = report["candidates"]
    if not timed:
        return f"levers: {' + '.join(names)} (too few steps to time them; --no-probe skips the probe)"
    best = max(timed, key=lambda t: t["images_per_s"])
    slowest = min(timed, key=lambda t: t["images_per_s"])
    return (f"levers: {' + '.join(names)} — {best['images_per_s']:,.0f} img/s, fastest of {len(timed)} timed on this "
            f"{report['device']} in the first {report['steps']} steps (slowest {slowest['images_per_s']:,.0f} img/s); "
            f"the probe cost {report['lost_s']:.1f} s (--no-probe skips it)")


class ProbeObserver(Observer):
    """The probe in a run's loop (training/observers.py): before each full-sized step of the first epoch it sets the
    levers the probe asks for, after it reports the step's time; at the epoch's end the run keeps the fastest, and
    config.json records the probe's timings. A partly filled last batch runs with the levers it finds."""

    def __init__(self, probe: LeverProbe, device: str, log=print):
        self.probe, self.device, self.log = probe, device, log
        self.timing = False
        self.reported = False

    def step_starts(self, s) -> None:
        self.timing = not self.probe.done and not self.reported and s.batch == s.stepper.cfg.batch_size
        if self.timing:
            s.stepper.set_levers(self.probe.next_levers())
            s.wait = True  # a step's time is its own only once the loop has waited for it (on a GPU)

    def step_done(self, s) -> None:
        if not self.timing:
            return
        self.probe.record(s.seconds, s.batch)
        if self.probe.done:
            s.stepper.set_levers(self.probe.chosen)

    def epoch_trained(self, s) -> None:
        if self.reported:
            return
        self.reported = True
        batch = s.run.train.batch_size
        s.run = replace(s.run, train=replace(s.run.train, **self.probe.chosen), probe=self.probe.report(batch, self.device))
        s.stepper.set_levers(self.probe.chosen)
        self.log(describe(s.run.probe))
