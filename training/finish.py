"""The end of a run, one step for every path that ends one (the last epoch of `python -m training`, and `training
evaluate` on a saved checkpoint): the t-SNE and UMAP maps, the IWAE bound, every test image's scores and ood.json —
each only where the run's `FinishConfig` asks for it."""
from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import replace
from typing import Callable

from .atlas import fit_tsne, fit_umap
from .config import FinishConfig, RunConfig
from .data import ImageSplit
from .evaluation import IWAE_SAMPLES, IWAE_SUBSET, iwae_on_subset
from .ood import ood_summary
from .scores import SCORE_SAMPLES, score_images, scores_summary

NOTHING = FinishConfig(tsne=False, umap=False, iwae=False, scores=False)


def finishing_step(model, test_split: ImageSplit, run: RunConfig, parts: FinishConfig, atlas: dict, metrics: dict,
                   ood_data_dir=None, autocast=nullcontext, log: Callable[[str], None] = print) -> dict | None:
    """Add what `parts` asks for to `atlas` (maps, scores) and `metrics` (IWAE, the scores' summary); returns ood.json's
    content when the scores were computed, else None. Each part seeds its own randomness with the run's seed."""
    seed = run.train.seed
    if parts.iwae:
        log(f"IWAE bound (k={IWAE_SAMPLES}) on the first {IWAE_SUBSET} test images…")
        metrics["final"]["iwae"] = iwae_on_subset(model, test_split, seed=seed, kind=run.train.reconstruction)
    if parts.tsne:
        atlas["tsne"] = timed(lambda: fit_tsne(atlas["means"], seed), "t-SNE map", log)
    if parts.umap:  # the slowest part: say what it costs before it starts
        log(f"UMAP map of {len(atlas['means']):,} points: 50–100 s on 2 CPU cores in a fresh process (umap-learn "
            "compiles its code first); --no-umap skips it")
        atlas["umap"] = timed(lambda: fit_umap(atlas["means"], seed), "UMAP map", log)
    ood = add_scores(model, test_split, run, atlas, metrics, ood_data_dir, autocast, log) if parts.scores else None
    model.train()
    return ood


def split_around_save(finish: FinishConfig, last: bool, dry_run: bool) -> tuple[FinishConfig, FinishConfig]:
    """What an epoch's finishing step computes before its save and after it: nothing before the last epoch; in a dry
    run only the t-SNE map; with `maps_after_save` the IWAE bound before (the checkpoint then opens with its PCA
    map) and the maps and scores after."""
    if not last:
        return NOTHING, NOTHING
    if dry_run:
        finish = replace(NOTHING, tsne=finish.tsne, maps_after_save=finish.maps_after_save)
    if not finish.maps_after_save:
        return finish, NOTHING
    return replace(NOTHING, iwae=finish.iwae), replace(finish, iwae=False, maps_after_save=False)


def add_scores(model, test_split: ImageSplit, run: RunConfig, atlas: dict, metrics: dict, ood_data_dir, autocast,
               log) -> dict:
    """Every test image's scores into the atlas (and their cost and means into metrics.json); returns ood.json's content."""
    started = time.perf_counter()
    kind = run.train.reconstruction  # the likelihood the model was trained with
    atlas.update(score_images(model, test_split.images, seed=run.train.seed, autocast=autocast, kind=kind))
    scored = time.perf_counter()
    ood = ood_summary(model, test_split.images, atlas, ood_data_dir, run.data.get("dataset"), seed=run.train.seed,
                      autocast=autocast, kind=kind)
    metrics["final"]["scores"] = scores_summary(atlas, scored - started, time.perf_counter() - scored)
    log(f"per-image scores (k={SCORE_SAMPLES}) in {scored - started:.1f} s, out-of-distribution sets in "
        f"{time.perf_counter() - scored:.1f} s")
    return ood


def timed(work, what: str, log):
    started = time.perf_counter()
    result = work()
    log(f"{what} in {time.perf_counter() - started:.1f} s")
    return result
