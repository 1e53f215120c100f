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
    assert "keeps freed memory for reuse" in text and "images/s** (" in text  # the allocator lever, fresh processes
