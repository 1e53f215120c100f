"""The benchmark harness itself runs end to end (quick mode: synthetic data, tiny sizes)."""
import pytest

from benchmarks.__main__ import main


@pytest.mark.slow
def test_quick_benchmark_writes_a_results_table(tmp_path):
    out = tmp_path / "results.md"
    assert main(["--quick", "--out", str(out)]) == 0
    text = out.read_text()
    for heading in ("× lab", "−ELBO", "IWAE", "k = 50", "epoch (s)", "t-SNE (s)", "slider decode, server side"):
        assert heading in text, heading
    lab_row = next(line for line in text.splitlines() if line.startswith("| lab loop (DataLoader"))
    assert lab_row.endswith("| 1.00 |")  # the baseline is its own unit
    assert "GFLOP/s" in text and "matmul peak" in text and "levers the probe picks on this CPU" in text
    assert "allocator lever" in text and "measured in full runs only" in text


@pytest.mark.slow
def test_the_allocator_lever_is_measured_in_fresh_processes():
    from benchmarks.allocator_effect import allocator_effect

    plain, kept = allocator_effect(None, {"batch_size": 64, "bf16": False}, n_batches=1, rounds=1)
    assert plain > 0 and kept > 0  # images/s of the same step with glibc's default malloc and with freed memory kept
