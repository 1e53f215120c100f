import contextlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.helpers import SHARED_CHROMIUM, running_explorer, synthetic_digits, write_tiny_mnist
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


# ------------------------------------------------------------------------------------------- browsers and shared apps

ROOT = Path(__file__).resolve().parent.parent
_STOP_AFTER_LAST_USER = {}  # fixture name → how to stop what it started, once no later test uses it


def _last_user(session, fixture: str):
    """The last collected test that uses `fixture` (directly or through another fixture)."""
    cache = session.__dict__.setdefault("_vae_last_users", {})
    if fixture not in cache:
        cache[fixture] = next((item for item in reversed(session.items) if fixture in getattr(item, "fixturenames", ())), None)
    return cache[fixture]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield  # the test's own fixtures first (a module's pages, its app)
    for fixture, stop in list(_STOP_AFTER_LAST_USER.items()):
        if _last_user(item.session, fixture) is item:
            del _STOP_AFTER_LAST_USER[fixture]
            stop()
    if SHARED_CHROMIUM.is_open and (nextitem is None or nextitem.get_closest_marker("browser") is None):
        SHARED_CHROMIUM.close()  # no Playwright event loop left running under the tests that follow


@pytest.fixture
def chromium():
    """The headless Chromium the browser tests share (tests/helpers.py, SharedChromium); the contexts and pages a test
    opens are closed after it, whatever happened."""
    browser = SHARED_CHROMIUM.browser()
    before = list(browser.contexts)
    yield browser
    for context in browser.contexts:
        if not any(context is other for other in before):
            context.close()


@pytest.fixture(scope="session")
def mnist_app(tmp_path_factory, trained_checkpoint):
    """One `python -m explorer` on a little MNIST for tests/test_browser_lessons.py and tests/test_browser_train.py
    (one start-up instead of two; stopped after the last test that uses it): the lessons family as four copies of one
    tiny checkpoint, said to be of MNIST and trained as each lesson says, with 120 test images in MNIST's layout (as
    many as its atlas encoded), and 2,048 training images (2 steps of a Train tab run's batches of 1,024) for the Train
    tab's runs, into a runs folder of its own. Yields (url, runs folder)."""
    root = tmp_path_factory.mktemp("checkpoints")
    trained_as = {"lesson-default": {}, "lesson-normal": {"sampling": "normal"}, "lesson-mean": {"sampling": "mean"},
                  "lesson-mse": {"reconstruction": "mse"}}  # what the Lessons tab checks before it shows a lesson
    for name, settings in trained_as.items():
        shutil.copytree(trained_checkpoint, root / name)
        config = json.loads((root / name / "config.json").read_text())
        config["data"]["dataset"] = "mnist"
        config["train"].update(settings)
        (root / name / "config.json").write_text(json.dumps(config))
    data = write_tiny_mnist(tmp_path_factory.mktemp("data"), n_train=2048, n_test=120)
    runs = tmp_path_factory.mktemp("runs")
    args = ["--checkpoints-dir", str(root), "--data-dir", str(data), "--no-download", "--runs-dir", str(runs),
            "--max-train-epochs", "30", "--max-runs", "3"]
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(running_explorer(args, tmp_path_factory.mktemp("log") / "app.log", ROOT))
        _STOP_AFTER_LAST_USER["mnist_app"] = stack.pop_all().close  # the app, stopped by pytest_runtest_teardown
        yield url, runs
    stop = _STOP_AFTER_LAST_USER.pop("mnist_app", None)
    if stop is not None:  # no test ran to the end of its teardown (an interrupted run)
        stop()


# Property-based fuzzing (tests/test_fuzz_*.py): a fixed, derandomized example budget in CI; a long run locally with
# `pytest --hypothesis-profile=fuzz tests/test_fuzz_*.py`.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=40, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("fuzz", max_examples=1500, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("ci")
