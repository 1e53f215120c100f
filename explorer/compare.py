"""Comparing checkpoints: which ones, grouped by data set, and the numbers that put them side by side.

Checkpoints trained on different data sets are never scored against each other: each group is shown on its own
test images, and the table says which data set each number comes from.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.checkpoint import Checkpoint
from training.errors import UserError
from training.safe_text import markdown, plain

from .describe import dataset_title, negative_test_elbo
from .lessons import is_lesson

MIN_COMPARED, MAX_COMPARED = 2, 4
TABLE_COLUMNS = ["checkpoint", "data set", "β", "z_dim", "epochs", "train min", "test −ELBO (recon + KL)", "recon", "KL",
                 "IWAE k=1000", "active units"]
IMAGES_PER_GROUP = 10  # one test image of each class


@dataclass(frozen=True)
class CompareGroup:
    """Checkpoints of one data set, compared on that data set's test images."""

    dataset: str
    names: list[str]


def first_selection(names: list[str], default_name: str, dataset_of) -> list[str]:
    """What the compare tab starts with: the open checkpoint and the first other one of the same data set — a
    lesson's baseline only for a lesson (the Lessons tab pairs those; beside `default` it would say little)."""
    others = sorted((n for n in names if n != default_name), key=lambda n: is_lesson(n) != is_lesson(default_name))
    same = [n for n in others if dataset_of(n) == dataset_of(default_name)]
    return [default_name, *(same or others)[:1]]


def checked_selection(names, available: list[str]) -> list[str]:
    """2–4 distinct, known checkpoint names, in the order given."""
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise UserError("Pick the checkpoints to compare from the list.")
    chosen = list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise UserError(f"Unknown checkpoint {plain(unknown[0])!r}; available: {', '.join(available)}.")
    if not MIN_COMPARED <= len(chosen) <= MAX_COMPARED:
        raise UserError(f"Pick {MIN_COMPARED}–{MAX_COMPARED} checkpoints to compare (you picked {len(chosen)}).")
    return chosen


def group_by_dataset(checkpoints: dict[str, Checkpoint]) -> list[CompareGroup]:
    """Groups in the order their first checkpoint was picked."""
    groups: dict[str, list[str]] = {}
    for name, ck in checkpoints.items():
        groups.setdefault(dataset_title(ck), []).append(name)
    return [CompareGroup(dataset, names) for dataset, names in groups.items()]


def separation_note(groups: list[CompareGroup]) -> str:
    """Markdown: one sentence when the picks span data sets (their numbers are not comparable), else nothing."""
    if len(groups) < 2:
        return ""
    parts = "; ".join(f"{markdown(g.dataset)}: {', '.join(markdown(n) for n in g.names)}" for g in groups)
    return (f"These checkpoints were trained on different data sets ({parts}). Each group is shown on its own test "
            "images, and likelihoods are comparable only within a data set.")


def likelihood_note(names: list[str], likelihood_of) -> str:
    """Markdown: one sentence when the picks were trained with different likelihoods (their nats measure different
    things), else nothing."""
    kinds = {n: likelihood_of(n) for n in names}
    if len(set(kinds.values())) < 2:
        return ""
    mse = ", ".join(markdown(n) for n, k in kinds.items() if k == "mse")
    return (f"{mse} trained with MSE: its −ELBO and IWAE are nats of a Gaussian density (σ² = ½ per pixel), not "
            "comparable with the BCE models' (the Lessons tab compares them on one scale).")


def metrics_row(name: str, ck: Checkpoint, n_active: int) -> list:
    """One table row: the checkpoint's settings and its final test metrics (blank where metrics.json lacks one)."""
    final = ck.metrics.get("final", {}) if isinstance(ck.metrics, dict) else {}
    test = final.get("test", {}) if isinstance(final.get("test"), dict) else {}
    iwae = final.get("iwae", {}) if isinstance(final.get("iwae"), dict) else {}
    seconds = final.get("train_seconds")

    def number(value, digits=2):
        return round(float(value), digits) if isinstance(value, (int, float)) and np.isfinite(value) else None

    return [plain(name), dataset_title(ck), ck.config.train.beta, ck.config.model.z_dim, final.get("epochs"),
            number(seconds / 60 if isinstance(seconds, (int, float)) else None, 1), number(negative_test_elbo(final)),
            number(test.get("recon")), number(test.get("kl")), number(iwae.get("nll")), n_active]


def one_per_class(labels: np.ndarray, n_classes: int = IMAGES_PER_GROUP) -> list[int]:
    """The first test image of each class (the same images for every checkpoint of a data set)."""
    labels = np.asarray(labels)
    return [int(np.flatnonzero(labels == c)[0]) for c in range(n_classes) if (labels == c).any()]


def markdown_table(library) -> str:
    """The README's table of checkpoints: `python -m explorer.compare [CHECKPOINTS_DIR]` prints it."""
    from training.evaluation import active_units

    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * 2 + "---:|" * (len(TABLE_COLUMNS) - 2)]
    for name in library.names():
        ck = library.get(name)
        row = metrics_row(name, ck, int(active_units(ck.atlas["means"].numpy()).sum()))
        cells = [f"`{plain(row[0]).replace('`', '')}`", *("—" if v is None else markdown(v) if isinstance(v, str) else str(v) for v in row[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    from .checkpoint_library import CheckpointLibrary

    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "checkpoints")
    print(markdown_table(CheckpointLibrary(root)))
