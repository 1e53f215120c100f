"""ZeroGPU (explorer/zerogpu.py) without the real platform: `spaces`' decorator is a no-op elsewhere; with
SPACES_ZERO_GPU=true and a stand-in device API on 127.0.0.1 the app registers its GPU function before launch and its
own process never initialises CUDA; a stand-in for ZeroGPU's fork runs a tiny real training through the decorated
entry's function, in the visitor's request context, and the Train tab follows it, opens it and stops it."""
import contextvars
import html
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import base64
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from explorer import checkpoint_library, test_sets, zerogpu
from explorer.app import page_views
from explorer.train_runs import RunRequest, TrainingRuns, TrainLimits
from tests.helpers import free_port, write_tiny_mnist
from training.run_state import run_state

ROOT = Path(__file__).resolve().parent.parent
VISITOR = contextvars.ContextVar("visitor")  # stands for Gradio's request, which `spaces` reads from the context


def test_off_zero_gpu_the_decorator_changes_nothing():
    import spaces

    assert not zerogpu.on_zero_gpu() and zerogpu.spaces is spaces
    assert zerogpu.train_on_gpu is zerogpu.run_in_this_process

    def f(x):
        return x + 1

    assert spaces.GPU(f) is f and spaces.GPU(duration=30)(f) is f
    assert zerogpu.on_zero_gpu({"SPACES_ZERO_GPU": "true"}) and not zerogpu.on_zero_gpu({"SPACES_ZERO_GPU": "0"})


def test_the_duration_asked_for_fits_a_visitors_quota_and_follows_what_runs_took():
    time_ = zerogpu.GpuTime()
    assert zerogpu.MAX_EPOCHS == 10 and time_.duration_s(10) <= zerogpu.UNAUTHENTICATED_QUOTA_S < time_.duration_s(30)
    assert [time_.duration_s(e) for e in (1, 5, 10)] == sorted({time_.duration_s(e) for e in (1, 5, 10)})
    assert time_.most_epochs(time_.duration_s(7), cap=30) == 7 and time_.most_epochs(1, cap=30) == 1
    slower = time_.after_run(epochs=10, seconds=time_.start_s + time_.finish_s + 10 * 9.0)  # 9 s an epoch measured
    assert slower.epoch_s == pytest.approx(9.0) and slower.duration_s(10) > time_.duration_s(10)
    assert time_.after_run(10, 1.0).epoch_s == 1.0  # never below a second an epoch
    limits = TrainLimits.for_environment({"SPACE_ID": "a/b", "SPACES_ZERO_GPU": "true"})
    assert limits.gpu and limits.max_epochs == zerogpu.MAX_EPOCHS and limits.max_per_client == 1 and limits.behind_proxy
    assert f"asks for {time_.duration_s(10)} s" in limits.describe()
    assert not TrainLimits.for_environment({"SPACE_ID": "a/b"}).gpu


class DeviceApi(BaseHTTPRequestHandler):
    """ZeroGPU's device API as far as this machine can go without a GPU: it records what it is told, accepts the
    app's start-up report, and answers a GPU request (/schedule) as for a visitor whose daily quota is spent."""

    calls: list = []

    def do_POST(self):
        DeviceApi.calls.append(self.path)
        refused = urlparse(self.path).path == "/schedule"
        body = json.dumps({"left": 30, "wait": 18000} if refused else {}).encode()
        self.send_response(429 if refused else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# (SIGINT is given its default handler back: a test run started in the background by a script, as CI may start it,
# hands its children SIGINT ignored, and the app would then never see the SIGINT that stops it)
AFTER_EXIT = """
import atexit, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
def report():
    import torch
    print("CUDA initialised in the app's process:", torch.cuda.is_initialized(), flush=True)
atexit.register(report)
from explorer.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_on_zero_gpu_the_app_registers_its_gpu_function_before_launch_and_never_initialises_cuda(tmp_path):
    """Also: a visitor's Start reaches ZeroGPU's scheduler through the real `spaces` package with that visitor's
    X-IP-Token (so the run is charged to them), and the platform's refusal is the run's sentence in their Train tab."""
    DeviceApi.calls = []
    api = ThreadingHTTPServer(("127.0.0.1", 0), DeviceApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    data, port = write_tiny_mnist(tmp_path / "data", n_train=64, n_test=64), free_port()
    env = {**os.environ, "SPACES_ZERO_GPU": "true", "SPACE_ID": "someone/vae-explorer", "PYTHONUNBUFFERED": "1",
           "SPACES_ZERO_DEVICE_API_URL": f"http://127.0.0.1:{api.server_port}", "ZEROGPU_OFFLOAD_DIR": str(tmp_path / "z"),
           "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}
    log = open(tmp_path / "app.log", "w+")
    app = subprocess.Popen([sys.executable, "-c", AFTER_EXIT, "--data-dir", str(data), "--no-download", "--port", str(port),
                            "--runs-dir", str(tmp_path / "runs")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        import httpx

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and app.poll() is None:
            try:
                config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=5)
                if config.status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert app.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
        assert "/startup-report" in DeviceApi.calls  # what `spaces` sends at launch only when a GPU function exists
        assert "ZeroGPU GPU, on your own daily GPU time" in json.dumps(config.json())  # the Train tab says so
        from PIL import Image

        # Gradio's HTTP API, as `curl` would call it (gradio_client's heartbeat stream would hold the server's shutdown
        # for Gradio's 5 s grace period)
        call = f"http://127.0.0.1:{port}/gradio_api/call/prior_samples"
        event = httpx.post(call, json={"data": ["default", 0]}, timeout=30).json()["event_id"]
        answer = httpx.get(f"{call}/{event}", timeout=60).text
        assert "event: complete" in answer, answer
        samples = json.loads(answer.split("event: complete\ndata: ", 1)[1].splitlines()[0])[0]
        image = httpx.get(samples["url"], timeout=30)
        assert Image.open(io.BytesIO(image.content)).size[0] > 28  # served by the app's process under ZeroGPU's patched torch

        from tests.test_public_space import RawVisitor, dependencies

        token = "e30." + base64.urlsafe_b64encode(b'{"sub": "visitor-b"}').decode().rstrip("=") + ".sig"  # a JWT's shape
        with httpx.Client(timeout=60) as proxy:
            visitor = RawVisitor(f"http://127.0.0.1:{port}/", dependencies(config.json()), proxy, "198.51.100.9")
            visitor.headers["x-ip-token"] = token
            started = visitor.queued("start", [None, "mnist", 1, 4, 10, 0, "charged", "rsample", "bce"])
            assert started["success"]
            visitor.token = started["output"]["data"][0]  # the visitor's id, kept by their page
            deadline = time.monotonic() + 60
            while "quota" not in (said := visitor.status()) and time.monotonic() < deadline:
                time.sleep(0.3)
        asked = [parse_qs(urlparse(c).query) for c in DeviceApi.calls if c.startswith("/schedule")]
        assert asked and asked[0]["token"] == [token], DeviceApi.calls  # the visitor's own token, from their request
        assert asked[0]["durationSeconds"] == [str(zerogpu.GpuTime().duration_s(10))]
        said = html.unescape(said)  # shown as text: its punctuation escaped in the Markdown
        assert f"failed: You have exceeded your ZeroGPU quota ({zerogpu.GpuTime().duration_s(10)}s requested vs. 30s left)" \
            in said, said
    finally:
        app.send_signal(signal.SIGINT)
        try:
            app.wait(timeout=30)
        finally:
            if app.poll() is None:
                app.kill()  # never left running, whatever failed
            api.shutdown()
    said = (tmp_path / "app.log").read_text()
    assert "CUDA initialised in the app's process: False" in said, said[-3000:]


def fork_stand_in(entry, calls: list):
    """What ZeroGPU does with a call, without a GPU: the function runs in a process forked from the app's, and its
    return value comes back (here through a pipe); the caller's context is checked to be the visitor's."""
    def call(*args):
        assert VISITOR.get() == "visitor-a", "the call must run in the context of the visitor who started the run"
        calls.append((args[0], args[3]))  # argv, duration
        reader, writer = multiprocessing.get_context("fork").Pipe(duplex=False)

        def child():
            import torch

            torch.set_num_threads(1)  # a forked process's own thread pool
            writer.send(entry(*args))

        worker = multiprocessing.get_context("fork").Process(target=child, daemon=True)
        worker.start()
        worker.join()
        return reader.recv() if reader.poll() else 1
    return call


@pytest.fixture(scope="module")
def gpu_space(tmp_path_factory):
    root = tmp_path_factory.mktemp("zerogpu")
    data = write_tiny_mnist(root / "data", n_train=2048, n_test=200)
    calls = []
    launcher = zerogpu.GpuLauncher(fork_stand_in(zerogpu.run_in_this_process, calls))
    runs = TrainingRuns(root / "runs", data, TrainLimits.on_zero_gpu(), launcher=launcher)
    library = checkpoint_library.CheckpointLibrary(root / "shipped", runs=runs)
    (root / "page").mkdir()
    views = page_views(library, test_sets.TestSets(None), root / "page", None, runs)
    runs.start_supervisor(every=0.1)
    yield runs, views.tab("train"), calls
    runs.shutdown()


def submitted(runs, request):
    """Start a run as the visitor's Start event does, inside that visitor's context."""
    def start():
        VISITOR.set("visitor-a")
        return runs.submit(None, request, client="198.51.100.7")
    return contextvars.copy_context().run(start)


def wait_for(predicate, seconds=120):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_run_trains_through_the_gpu_entry_and_the_train_tab_follows_and_opens_it(gpu_space):
    runs, train_tab, calls = gpu_space
    owner, run = submitted(runs, RunRequest("mnist", 1.0, 4, 2, 0, "gpu-run"))
    wait_for(lambda: run.state != "queued")
    assert run.state == "running"
    argv, duration = calls[-1]
    assert "--no-tsne" in argv and "--tsne-after" not in argv and argv[argv.index("--epochs") + 1] == "2"
    assert duration == zerogpu.GpuTime().duration_s(2)
    wait_for(lambda: run.state != "running")
    assert run.state == "done", (run.message, (runs.live_dir("gpu-run") / "log.txt").read_text()[-2000:])
    assert run_state(runs.runs_dir / "gpu-run").opens
    status = train_tab.train_status(owner, None)
    assert "gpu-run" in status[0] and "Open gpu-run" in status[2].value and status[3].value is not None
    assert json.loads(status[1])["state"] == "done"  # its curves drawn from the run's live files
    assert "gpu-run" in train_tab.ctx.library.names()
    assert "checkpoint written to" in (runs.live_dir("gpu-run") / "log.txt").read_text()  # the trainer's own output
    assert runs.launcher.gpu_time.epoch_s != zerogpu.GpuTime().epoch_s  # corrected by what the run took


def test_stop_reaches_the_gpu_worker_through_the_stop_file(gpu_space):
    runs, _, _ = gpu_space
    owner, run = submitted(runs, RunRequest("mnist", 1.0, 4, 10, 0, "gpu-stopped"))
    wait_for(lambda: (runs.progress("gpu-stopped") or {}).get("saved_epochs", 0) >= 1)
    assert "Stopping gpu-stopped" in runs.stop(owner)
    wait_for(lambda: run.state != "running", 60)
    assert run.state == "stopped" and run.message == "stopped; the last saved epoch is kept", run.message
    saved = json.loads((runs.runs_dir / "gpu-stopped" / "metrics.json").read_text())["history"]
    assert 1 <= len(saved) < 10


def test_a_refusal_by_zerogpu_ends_the_run_with_its_sentence(tmp_path):
    def refused(*_):
        raise RuntimeError("You have exceeded your free ZeroGPU quota (112s requested vs. 40s left). Try again in 5:00:00.")

    data = write_tiny_mnist(tmp_path / "data", n_train=64, n_test=32)
    runs = TrainingRuns(tmp_path / "runs", data, TrainLimits.on_zero_gpu(), launcher=zerogpu.GpuLauncher(refused))
    owner, run = runs.submit(None, RunRequest("mnist", 1.0, 4, 1, 0, "refused"), client="198.51.100.8")
    runs.tick()
    wait_for(lambda: run.process.poll() is not None, 10)
    runs.tick()
    assert run.state == "failed" and run.message.startswith("You have exceeded your free ZeroGPU quota"), run.message
    assert not (tmp_path / "runs" / "refused").exists()  # nothing of it to open
