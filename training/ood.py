"""Out-of-distribution data through a checkpoint: what it makes of the other data sets' test images and of simple
transforms of its own (inverted, noise, blank, shifted), as score histograms in a small ood.json beside the weights.

The classic surprise (Nalisnick et al., "Do Deep Generative Models Know What They Don't Know?", ICLR 2019): a model
of Fashion-MNIST gives MNIST digits a *higher* likelihood than its own test images — simpler images with more
background are easier to compress, whatever they show. `finding` states what a checkpoint actually does.
"""
from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .atomic import write_atomically
from .data import load_split, split_on_disk
from .datasets import DATASETS, dataset_info
from .errors import UserError
from .scores import SCORE_SAMPLES, score_images

OOD_FILE = "ood.json"
IMAGES_PER_SET = 1000  # per foreign set: ≈ 1.3 s each in bf16 on 2 cores; the own set is the atlas's full test set
BINS = 60
HISTOGRAM_SCORES = ("score_nll", "score_elbo")
SHIFT_PIXELS = 6


def transformed_sets(images: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """Simple transforms of the own test images (uint8 N×28×28): what each does to the score."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "inverted": 255 - images,
        "uniform noise": torch.randint(0, 256, images.shape, generator=generator, dtype=torch.uint8),
        "blank": torch.zeros_like(images[:100]),  # all the same image: 100 are enough for its histogram spike
        f"shifted {SHIFT_PIXELS} px": torch.roll(images, shifts=(SHIFT_PIXELS, SHIFT_PIXELS), dims=(1, 2)),
    }


def foreign_datasets(data_dir: str | Path | None, own: str | None) -> list[str]:
    """The other known data sets whose test split is on disk (nothing is downloaded for this)."""
    if data_dir is None:
        return []
    try:
        own = dataset_info(own).key
    except UserError:
        pass
    return [key for key in DATASETS if key != own and split_on_disk(data_dir, train=False, dataset=key)]


def own_title(dataset: str | None) -> str:
    try:
        return dataset_info(dataset).title
    except UserError:  # a data set this version does not know (e.g. a synthetic test set)
        return str(dataset or "own")


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """P(an outside image scores higher −log p(x) than an inside one): 1 = the score separates them perfectly,
    0.5 = not at all, below 0.5 = the model finds the outside data *more* likely (Mann–Whitney U, ties halved)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([inside, outside]))
    u = ranks[len(inside):].sum() - len(outside) * (len(outside) + 1) / 2
    return float(u / (len(inside) * len(outside)))


def histogram_table(sets: dict[str, dict[str, np.ndarray]]) -> dict:
    """Shared log-spaced bins per score (the sets span ≈ 10–3,000 nats) and each set's fraction of images per bin."""
    table = {}
    for key in HISTOGRAM_SCORES:
        values = np.concatenate([scores[key] for scores in sets.values()])
        low, high = max(float(values.min()), 1e-3), max(float(values.max()), 1e-3)
        edges = np.geomspace(low * 0.98, high * 1.02, BINS + 1)
        table[key] = {
            "edges": [round(float(e), 4) for e in edges],
            "fractions": {name: [round(float(f), 5) for f in np.histogram(scores[key], edges)[0] / len(scores[key])]
                          for name, scores in sets.items()},
        }
    return table


def summarise(own_name: str, sets: dict[str, dict[str, np.ndarray]], k: int) -> dict:
    """ood.json's content: per set its size, mean and median scores and AUROC against the own set, the histograms,
    and the sentence that says what the model does."""
    own = sets[own_name]["score_nll"]
    summary = {
        "k": k,
        "own": own_name,
        "sets": [{
            "name": name,
            "images": int(len(scores["score_nll"])),
            **{f"median_{key[6:]}": round(float(np.median(v)), 3) for key, v in scores.items()},
            **{f"mean_{key[6:]}": round(float(np.mean(v)), 3) for key, v in scores.items()},
            "auroc": None if name == own_name else round(auroc(own, scores["score_nll"]), 4),
        } for name, scores in sets.items()],
        "histograms": histogram_table(sets),
    }
    summary["finding"] = finding(summary)
    return summary


def finding(summary: dict) -> str:
    """What the numbers say, in one or two sentences (plain text: the page sets it as text, names may come from files)."""
    sets = {s["name"]: s for s in summary["sets"]}
    own = sets[summary["own"]]
    foreign = [s for s in summary["sets"] if s["name"] != own["name"] and s["name"].endswith("test")]
    parts = []
    for s in foreign:
        more_likely = s["median_nll"] < own["median_nll"]
        parts.append(
            f"It gives {s['name']} images a {'lower' if more_likely else 'higher'} −log p(x) than its own test images "
            f"(median {s['median_nll']:.0f} vs {own['median_nll']:.0f} nats; AUROC {s['auroc']:.2f}): "
            + ("it finds the foreign data more likely — the surprise of Nalisnick et al. (2019) holds here."
               if more_likely else "it finds the foreign data less likely — the paper's surprise does not happen here."))
    blank = next((s for s in summary["sets"] if s["name"].startswith("blank")), None)
    if blank:
        parts.append(f"A blank image scores {blank['median_nll']:.0f} nats"
                     + (", more likely than a typical own test image: simpler images with more background get higher "
                        "likelihood, the reason the paper gives." if blank["median_nll"] < own["median_nll"] else "."))
    return " ".join(parts) or "No other data set was on disk to compare with; only transforms of the own test images."


@torch.inference_mode()
def ood_summary(model, own_images: torch.Tensor, own_scores: dict[str, torch.Tensor], data_dir: str | Path | None,
                own_dataset: str | None, seed: int = 0, autocast: Callable = nullcontext, k: int = SCORE_SAMPLES,
                kind: str = "bce") -> dict:
    """Score the foreign sets under the model's likelihood `kind` (the own set's scores come from the atlas) and
    summarise them."""
    title = own_title(own_dataset)
    own_name = f"{title} test"
    sets = {own_name: {key: own_scores[key].numpy() for key in HISTOGRAM_SCORES}}
    foreign = {f"{dataset_info(key).title} test": load_split(data_dir, train=False, dataset=key).images[:IMAGES_PER_SET]
               for key in foreign_datasets(data_dir, own_dataset)}
    foreign |= {f"{name} ({title})": images for name, images in transformed_sets(own_images[:IMAGES_PER_SET], seed).items()}
    for name, images in foreign.items():
        scores = score_images(model, images, k=k, seed=seed, autocast=autocast, kind=kind)
        sets[name] = {key: scores[key].numpy() for key in HISTOGRAM_SCORES}
    return summarise(own_name, sets, k)


def write_ood(folder: str | Path, summary: dict) -> None:
    """Replace a checkpoint's ood.json atomically: the explorer may be reading it."""
    write_atomically(Path(folder) / OOD_FILE, json.dumps(summary, allow_nan=False) + "\n")


def read_ood(folder: str | Path) -> dict | None:
    """A checkpoint's ood.json, checked (None when it has none); a damaged one is a UserError naming the file."""
    path = Path(folder) / OOD_FILE
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > 2 * 2**20:
            raise ValueError("larger than 2 MB")
        summary = json.loads(path.read_text())
        check_ood(summary)
    except (OSError, ValueError, TypeError, KeyError, OverflowError, RecursionError) as err:
        raise UserError(f"{path} is damaged ({type(err).__name__}); run `python -m training evaluate` on the checkpoint again.") from None
    return summary


def _require(condition: bool, what: str) -> None:
    """An explicit check, not `assert`: `python -O` strips asserts, and this one guards a file anyone could write."""
    if not condition:
        raise ValueError(f"bad {what}")


def check_ood(summary) -> None:
    """Raise ValueError (KeyError, TypeError for a missing or mistyped field) unless `summary` is an ood.json the
    page can draw: named sets including the own one, a finding, and finite medians and histograms."""
    names = [s["name"] for s in summary["sets"]]
    _require(all(isinstance(n, str) for n in names) and summary["own"] in names, "set names")
    _require(isinstance(summary["finding"], str), "finding")
    for key in HISTOGRAM_SCORES:
        _check_histogram(summary["histograms"][key], names)
    for s in summary["sets"]:
        _require(all(np.isfinite(float(s[f"median_{key[6:]}"])) for key in HISTOGRAM_SCORES), "medians")


def _check_histogram(table: dict, names: list[str]) -> None:
    """Increasing finite bin edges, and for each set one non-negative finite fraction per bin."""
    edges = np.asarray(table["edges"], dtype=float)
    _require(edges.ndim == 1 and len(edges) >= 2 and np.isfinite(edges).all() and (np.diff(edges) > 0).all(), "edges")
    fractions = table["fractions"]
    _require(isinstance(fractions, dict) and sorted(fractions) == sorted(names), "histogram sets")
    for values in fractions.values():
        f = np.asarray(values, dtype=float)
        _require(f.shape == (len(edges) - 1,) and np.isfinite(f).all() and (f >= 0).all(), "fractions")
