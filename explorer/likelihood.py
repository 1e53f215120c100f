"""What the model finds hard, from the atlas's per-image scores (training/scores.py): rankings, percentiles and the
map's colour scale. Pure functions: the Likelihood tab, the map and the API call them; explorer/web/likelihood_view.js
applies the same rules in the page."""
from __future__ import annotations

import numpy as np

from training.errors import UserError
from training.scores import SCORE_KEYS, SCORE_NAMES

CLASS = "class"
# what a "colour by" or "rank by" control offers: its label → the atlas key (the API takes either)
SCORE_CHOICES = {SCORE_NAMES[key]: key for key in ("score_elbo", "score_recon", "score_kl", "score_nll")}
COLOUR_CHOICES = [CLASS, *SCORE_CHOICES]
RANKS = ("hardest", "easiest")
GALLERY_SIZE = 24
MAX_RANKED = 200
COLOUR_QUANTILES = (0.01, 0.99)  # a few extreme images would otherwise squash every other colour


def has_scores(atlas: dict) -> bool:
    return all(key in atlas for key in SCORE_KEYS)


def score_key(choice: str | None) -> str:
    """The atlas key of a score named by its label ("−ELBO"), its key ("score_elbo") or its short name ("elbo")."""
    for label, key in SCORE_CHOICES.items():
        if choice in (label, key, key[6:]):
            return key
    raise UserError(f"Unknown score {str(choice)[:40]!r}: choose one of {', '.join(k[6:] for k in SCORE_CHOICES.values())}.")


def require_scores(atlas: dict, name: str) -> None:
    if not has_scores(atlas):
        raise UserError(f"Checkpoint {name} has no per-image scores (trained before them): run "
                        f"`python -m training evaluate` on its folder to add them.")


def ranked(atlas: dict, key: str, which: str = "hardest", label: int | None = None, n: int = GALLERY_SIZE) -> np.ndarray:
    """Indices of the n test images with the highest (hardest) or lowest (easiest) score, optionally of one class;
    ties in index order."""
    if which not in RANKS:
        raise UserError(f"Rank must be one of {', '.join(RANKS)}.")
    values = atlas[key].numpy().astype(np.float64)
    indices = np.arange(len(values))
    if label is not None:
        indices = indices[atlas["labels"].numpy() == label]
    order = np.argsort(-values[indices] if which == "hardest" else values[indices], kind="stable")
    return indices[order[: max(1, min(int(n), MAX_RANKED))]]


def image_scores(atlas: dict, index: int) -> dict[str, float]:
    """One test image's scores by their names, and its −ELBO's percentile among the test set."""
    scores = {SCORE_NAMES[key]: round(float(atlas[key][index]), 3) for key in SCORE_CHOICES.values()}
    scores["percentile"] = percentile(atlas, "score_elbo", float(atlas["score_elbo"][index]))
    return scores


def percentile(atlas: dict, key: str, value: float) -> float:
    """The share of test images (in %) whose score is below `value`: 97 = more unusual than 97 % of them."""
    values = atlas[key].numpy()
    return round(100.0 * float((values < value).mean()), 1)


def colour_range(values: np.ndarray) -> tuple[float, float]:
    """The colour scale's ends: the 1st and 99th percentile of the scores."""
    low, high = np.quantile(np.asarray(values, dtype=np.float64), COLOUR_QUANTILES)
    return float(low), float(max(high, low + 1e-6))
