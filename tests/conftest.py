import pytest
import torch

from tests.helpers import synthetic_digits
from training.config import FinishConfig, ModelConfig, RecordConfig, RunConfig, TrainConfig
from training.train import Invocation, train

SMALL_MODEL = ModelConfig(z_dim=4, encoder_hidden=4, decoder_hidden=8)


QUIET = Invocation(progress=False, log=lambda s: None)  # how the tests run a run: no bars, no lines


def small_run(epochs: int = 1, finish: FinishConfig | None = None, record: RecordConfig | None = None,
              **train_kw) -> RunConfig:
    """A tiny run; by default without the slow finishing steps (t-SNE, IWAE)."""
    kw = dict(epochs=epochs, batch_size=64, lr=0.005, seed=0, channels_last=False)
    kw.update(train_kw)
    return RunConfig(model=SMALL_MODEL, train=TrainConfig(**kw), data={"dataset": "synthetic"},
                     finish=finish or FinishConfig(tsne=False, iwae=False), record=record or RecordConfig())


@pytest.fixture(scope="session", autouse=True)
def onnx_template_cache(tmp_path_factory):
    """Exported ONNX graphs are cached between runs (training/onnx_export.py): in a temporary folder, not ~/.cache."""
    import os

    folder = tmp_path_factory.mktemp("vae-explorer-cache")
    previous = os.environ.get("VAE_EXPLORER_CACHE")
    os.environ["VAE_EXPLORER_CACHE"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["VAE_EXPLORER_CACHE"]
    else:
        os.environ["VAE_EXPLORER_CACHE"] = previous


@pytest.fixture(scope="session")
def train_split():
    return synthetic_digits(256, seed=1)


@pytest.fixture(scope="session")
def test_split():
    return synthetic_digits(120, seed=2)


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory, train_split, test_split):
    """A real checkpoint folder written by training/ (tiny model, synthetic digits, t-SNE and IWAE included)."""
    from training.checkpoint import load_checkpoint, write_metrics
    from training.evaluation import iwae_on_subset

    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    torch.set_num_threads(2)
    train(small_run(epochs=2, finish=FinishConfig(iwae=False)), train_split, test_split, out, QUIET)
    ck = load_checkpoint(out)  # the IWAE bound with k = 50, not the run's k = 1000 (7 s of the suite)
    write_metrics(out, {**ck.metrics, "final": {**ck.metrics["final"], "iwae": iwae_on_subset(ck.model, test_split, k=50)}})
    return out


# Property-based fuzzing (tests/test_fuzz_*.py): a fixed, derandomized example budget in CI; a long run locally with
# `pytest --hypothesis-profile=fuzz tests/test_fuzz_*.py`.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=40, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("fuzz", max_examples=1500, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("ci")
