import time

import pytest
import torch

from tests.conftest import small_run
from training.levers import LEVERS, candidates, probe
from training.train import train


def test_candidates_only_what_the_device_runs_and_each_lever_flipped_early():
    cpu = torch.device("cpu")
    native = candidates(cpu, bf16_native=True, forced={})
    assert len(native) == 8 and native[0] == {"bf16": True, "gemm_deconv": True, "channels_last": True}
    assert all(sum(c[n] != native[0][n] for n in LEVERS) == 1 for c in native[1:4])  # one lever flipped each
    assert all(not c["bf16"] for c in candidates(cpu, bf16_native=False, forced={}))  # emulated bf16 never timed
    assert all(not c["gemm_deconv"] for c in candidates(torch.device("cuda"), bf16_native=True, forced={}))
    assert {c["channels_last"] for c in candidates(cpu, True, {"channels_last": False})} == {False}


def test_probe_stays_within_its_budget_keeps_the_fastest_and_leaves_the_rng_alone(train_split):
    run = small_run()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    started = time.perf_counter()
    chosen, report = probe(run, train_split.images[:64], torch.device("cpu"), bf16_native=False, forced={}, budget_s=1.0)
    assert time.perf_counter() - started < 2.5
    assert torch.equal(torch.get_rng_state(), before)
    best = max(report["candidates"], key=lambda c: c["images_per_s"])
    assert chosen == {n: best[n] for n in LEVERS} and not chosen["bf16"]


@pytest.mark.parametrize("levers", [dict(gemm_deconv=False, channels_last=False), dict(gemm_deconv=True, channels_last=True),
                                    dict(gemm_deconv=True, channels_last=False)])
def test_one_epoch_gives_the_same_loss_whatever_the_levers(train_split, test_split, tmp_path, levers):
    """fp32 levers change only float rounding: the same seed gives the same epoch loss (bf16 is checked by the
    benchmark's equal-quality row, on real data)."""
    reference = train(small_run(epochs=1), train_split, test_split, tmp_path / "ref", progress=False, log=lambda s: None,
                      tsne=False, iwae=False)
    other = train(small_run(epochs=1, **levers), train_split, test_split, tmp_path / "other", progress=False,
                  log=lambda s: None, tsne=False, iwae=False)
    assert other["history"][0]["train"]["total"] == pytest.approx(reference["history"][0]["train"]["total"], rel=1e-4)


def test_the_benchmark_skips_bf16_variants_where_bf16_is_emulated():
    from benchmarks.training_speed import VARIANTS, native_variants

    kept, skipped = native_variants(VARIANTS, bf16_native=False)
    assert skipped and all("bf16" in name for name in skipped)
    assert not any((v.levers or {}).get("bf16") for v in kept) and any(v.lab for v in kept)
    assert native_variants(VARIANTS, bf16_native=True) == (list(VARIANTS), [])
