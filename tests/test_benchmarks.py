"""The benchmark harness itself runs end to end (quick mode: synthetic data, tiny sizes)."""
import pytest

from benchmarks.__main__ import main


@pytest.mark.slow
def test_quick_benchmark_writes_a_results_table(tmp_path):
    out = tmp_path / "results.md"
    assert main(["--quick", "--out", str(out)]) == 0
    text = out.read_text()
    assert "× lab" in text and "test −ELBO" in text and "IWAE bound" in text and "slider decode" in text
