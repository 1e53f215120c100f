"""The lab's warnings, measured: each lesson checkpoint is the lab's default run with one thing changed, and these
are the numbers that show what the change did — and the sentence they support, computed, never assumed.

Every figure is measured the same way for the default and the variant, on the same test images and the same prior
samples (fixed seeds), so the Lessons tab and `python -m benchmarks.lessons` report the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from training.data import to_model_input
from training.loss import kl_per_dim, reconstruction_per_image

BASELINE = "lesson-default"
MEASURED_IMAGES = 1000  # the first test images: pairs, blur, the comparable −ELBO and the nearest-image search
PRIOR_SAMPLES = 200
PAIRS = 2000
SEED = 0


@dataclass(frozen=True)
class Lesson:
    checkpoint: str
    title: str
    changed: str  # the one thing the variant changed, as its training flag
    lab_says: str  # the lab's own sentence
    settings: tuple  # (TrainConfig field, value) pairs the variant was trained with: `changed`, as config.json says it


BASELINE_SETTINGS = (("sampling", "rsample"), ("reconstruction", "bce"), ("beta", 1.0))  # the lab's
PREFIX = "lesson-"  # reserved for the lessons family: a Train-tab run cannot take such a name


LESSONS = {
    "normal": Lesson("lesson-normal", "torch.normal instead of rsample", "--sampling normal",
                     "“Do not use torch.normal(mean, stddev), as the optimizer will not backpropagate through the "
                     "expectation of that sample.”", (("sampling", "normal"),)),
    "mean": Lesson("lesson-mean", "the mean passed to the decoder", "--sampling mean",
                   "“A common mistake is to pass the mean to the decoder — this leads to blurrier images and is not "
                   "the way in which VAEs are designed to be used.”", (("sampling", "mean"),)),
    "mse": Lesson("lesson-mse", "MSE instead of BCE", "--recon mse",
                  "“Different assumptions about the distribution of the pixel brightnesses lead to different loss "
                  "functions”: BCE takes each pixel as a Bernoulli, MSE as a Gaussian.", (("reconstruction", "mse"),)),
}


def is_lesson(name: str) -> bool:
    """Whether a checkpoint is one of the lessons family (`lesson-…`)."""
    return name.startswith(PREFIX)


def not_as_trained(key: str, baseline, variant) -> str | None:
    """Why the two checkpoints (their RunConfigs) are not the lesson `key` — the baseline not the lab's settings, the
    variant not the baseline with the lesson's one change, another data set, seed or number of epochs — else None."""
    want = dict(BASELINE_SETTINGS)
    for name, config, expected in ((BASELINE, baseline, want), (LESSONS[key].checkpoint, variant,
                                                               {**want, **dict(LESSONS[key].settings)})):
        wrong = [f"{field} {getattr(config.train, field)!r}" for field, value in expected.items()
                 if getattr(config.train, field) != value]
        if wrong:
            return f"{name} was trained with {', '.join(wrong)}, not as the lesson says"
    for field in ("seed", "epochs"):
        if getattr(baseline.train, field) != getattr(variant.train, field):
            return f"the two were trained with different {'seeds' if field == 'seed' else 'numbers of epochs'}"
    if baseline.data.get("dataset") != variant.data.get("dataset") or baseline.model != variant.model:
        return "the two differ in their data set or architecture"
    return None


def blur(probabilities: torch.Tensor) -> float:
    """How grey, not black or white, the pixels are: mean of 4·p·(1 − p) — 0 for a crisp image, 1 for all grey."""
    p = probabilities.double()
    return float((4 * p * (1 - p)).mean())


def mean_pair_distance(images: torch.Tensor, seed: int = SEED, pairs: int = PAIRS) -> float:
    """Mean absolute pixel difference between random pairs of different images (N, 784): near 0 when every image is
    the same one."""
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(0, len(images), (pairs,), generator=g)
    j = (i + torch.randint(1, len(images), (pairs,), generator=g)) % len(images)
    return float((images[i] - images[j]).abs().mean())


@torch.inference_mode()
def measure(model, reconstruction: str, metrics: dict, test_images_u8: torch.Tensor) -> dict:
    """The figures of one model: its own test −ELBO and IWAE (metrics.json), active units and KL per dimension, and
    on the first MEASURED_IMAGES test images the −ELBO on BCE's scale (comparable across likelihoods), how different
    its reconstructions of different images are, their blur, and how close its prior samples come to a test image."""
    model.eval()
    final = metrics.get("final", {})
    x = to_model_input(test_images_u8[:MEASURED_IMAGES], "cpu")
    posterior = model.encode(x)
    noise = torch.randn(posterior.mean.shape, generator=torch.Generator().manual_seed(SEED))  # not the process's RNG
    logits = model.decoder.logits(posterior.mean + posterior.stddev * noise)
    kl = kl_per_dim(posterior).sum(1)
    recon_bce = reconstruction_per_image(logits, x, "bce")
    reconstructions = model.decode(posterior.mean).flatten(1)
    z = torch.randn(PRIOR_SAMPLES, posterior.mean.shape[1], generator=torch.Generator().manual_seed(SEED))
    samples = model.decode(z).flatten(1)
    flat = x.flatten(1)
    nearest = torch.cdist(samples.double(), flat.double(), p=1).min(1).values / flat.shape[1]
    test = final.get("test", {})
    return {
        "likelihood": reconstruction,
        "elbo": float(test.get("recon", float("nan")) + test.get("kl", float("nan"))),
        "iwae": (final.get("iwae") or {}).get("nll"),
        "elbo_bce": float((recon_bce + kl).mean()),
        "kl": float(kl.mean()),
        "kl_per_dim": [float(v) for v in final.get("kl_per_dim", [])],
        "active_units": (final.get("active_units") if final.get("active_units") is not None  # else on these images
                         else int((posterior.mean.var(0) > 0.01).sum())),
        "z_dim": int(posterior.mean.shape[1]),
        "input_spread": mean_pair_distance(flat),
        "recon_spread": mean_pair_distance(reconstructions),
        "recon_blur": blur(reconstructions),
        "prior_blur": blur(samples),
        "prior_to_nearest": float(nearest.mean()),
    }


SAME_WITHIN = 0.02  # two figures within 2 % of each other are called the same


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= SAME_WITHIN * max(abs(a), abs(b))


def _greater(a: float, b: float) -> bool:
    """a is measurably greater than b."""
    return a > b and not _same(a, b)


def _more(a: float, b: float, more: str, less: str, same: str) -> str:
    return same if _same(a, b) else more if a > b else less


def finding(key: str, default: dict, variant: dict) -> str:
    """What the numbers say about lesson `key`, and whether the lab's warning holds for this model — from the figures
    of `measure`, both ways."""
    d, v = default, variant
    elbo = f"test −ELBO {v['elbo_bce']:.1f} nats against the default's {d['elbo_bce']:.1f} (BCE scale, sampled z)"
    if key == "normal":
        collapsed = v["active_units"] == 0 or v["kl"] < 1.0
        same = v["recon_spread"] < 0.25 * d["recon_spread"]
        state = (f"KL {v['kl']:.2f} nats per image against {d['kl']:.1f}, {v['active_units']} of {v['z_dim']} units "
                 f"active against {d['active_units']}; its reconstructions of different images differ by "
                 f"{v['recon_spread']:.3f} per pixel against {d['recon_spread']:.3f}")
        if collapsed and same:
            return (f"Measured: the encoder collapsed to the prior ({state}) — one image for every input; {elbo}. The "
                    "lab's warning holds: the sample torch.normal draws carries no gradient, so the reconstruction "
                    "never taught the encoder, and the KL term alone pulled q(z|x) onto N(0, I).")
        return (f"Measured: the encoder did not collapse ({state}); {elbo}. The lab's warning does not show as a "
                "collapse here: something other than the reconstruction kept the encoder informative.")
    if key == "mean":
        blurrier = _greater(v["recon_blur"], d["recon_blur"])
        samples_worse = _greater(v["prior_to_nearest"], d["prior_to_nearest"])
        hidden = v["kl"] < 0.25 * d["kl"] and v["elbo_bce"] > 2 * d["elbo_bce"]
        look = _more(v["recon_blur"], d["recon_blur"], "blurrier than", "not blurrier than", "as blurry as")
        measured = (f"Measured: its reconstructions are {look} the default's (blur {v['recon_blur']:.3f} against {d['recon_blur']:.3f}), and its samples "
                    f"from the prior are {_more(v['prior_to_nearest'], d['prior_to_nearest'], 'farther from', 'no farther from', 'as close to')} "
                    f"the nearest test digit ({v['prior_to_nearest']:.3f} per pixel against {d['prior_to_nearest']:.3f}; "
                    f"blur {v['prior_blur']:.3f} against {d['prior_blur']:.3f}); {elbo}.")
        why = (f" Its KL is {v['kl']:.2f} nats per image against {d['kl']:.1f} with {v['active_units']} of "
               f"{v['z_dim']} units active: the code is written in shifts of the mean far smaller than σ, which only a "
               "decoder always given the mean can read — a z sampled from its own q(z|x) decodes so badly that its "
               "sampled −ELBO is the number above." if hidden else "")
        if blurrier:
            verdict = " The lab's warning holds: blurrier images."
        elif samples_worse or hidden:
            verdict = (" The lab's “blurrier” does not show in its reconstructions; its “not the way VAEs are designed "
                       "to be used” does: what a VAE is for — sampling — broke." + why)
        else:
            verdict = " The lab's warning does not show here: neither reconstructions nor samples got worse."
        return measured + verdict
    if key == "mse":
        greyer = _greater(v["recon_blur"], d["recon_blur"])
        look = _more(v["recon_blur"], d["recon_blur"], "greyer", "crisper", "as grey as the default's")
        return (f"Measured: with each pixel a Gaussian, its reconstructions are {look} "
                f"(blur {v['recon_blur']:.3f} against {d['recon_blur']:.3f}) and its prior samples "
                f"{_more(v['prior_to_nearest'], d['prior_to_nearest'], 'farther from', 'closer to', 'as close to')} the nearest test "
                f"digit ({v['prior_to_nearest']:.3f} against {d['prior_to_nearest']:.3f}); {elbo} — its own −ELBO, "
                f"{v['elbo']:.1f} nats, is of a density, not comparable. The lab's point holds: another assumption "
                f"about the pixels is another loss, and {'a blurrier' if greyer else 'not a blurrier'} model.")
    raise KeyError(key)


def figures_table(default: dict, variant: dict, names: tuple[str, str]) -> list[list]:
    """The lesson's numbers, one row per figure, for the tab's table and the benchmark's report."""
    def fmt(value, digits=2):
        return "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    rows = [("test −ELBO, own likelihood (nats)", "elbo", 2), ("test −ELBO on BCE's scale, 1,000 images", "elbo_bce", 2),
            ("−log p(x), IWAE k=1000, own likelihood (nats)", "iwae", 2), ("KL per image (nats)", "kl", 2),
            ("active units", "active_units", 0), ("reconstructions: difference between inputs", "recon_spread", 3),
            ("(the inputs themselves)", "input_spread", 3), ("reconstructions: blur", "recon_blur", 3),
            ("prior samples: blur", "prior_blur", 3), ("prior samples: distance to the nearest test image", "prior_to_nearest", 3)]
    return [[label, fmt(default[key], digits), fmt(variant[key], digits)] for label, key, digits in rows]
