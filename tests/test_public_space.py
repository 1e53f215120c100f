"""The app as a public Space shared by hostile visitors (issue 28): hundreds of runs come and go without memory or
disk growing (a stand-in trainer and an injected clock), and the running app, driven over raw HTTP as a script would
drive it, keeps one trainer and every visitor's run whatever one client sends."""
import gc
import json
import shutil
import threading
import time
import uuid
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from explorer import checkpoint_library, test_sets, train_runs
from explorer.train_runs import RunRequest, TrainingRuns, TrainLimits
from explorer.app import page_views
from tests.helpers import running_explorer, write_tiny_mnist

ROOT = Path(__file__).resolve().parent.parent

SOAK_RUNS = 200
OPENED_EVERY = 5  # opening one loads and checks it (≈ 0.25 s): every fifth run is opened


def finished_trainer(checkpoint):
    """A stand-in trainer: a process that writes its checkpoint folder (a copy of a real one) and exits. `cp`, not a
    Python interpreter, which would cost 20 ms more per run to start and do nothing more that the app can see."""
    def command(request, runs_dir, *_):
        return ["cp", "-r", str(checkpoint), str(runs_dir / request.name)]
    return command


def test_hundreds_of_runs_leave_memory_and_disk_flat(tmp_path, trained_checkpoint, monkeypatch):
    # The launcher is the app's own (train_runs.start_subprocess: its environment, its log file, its Popen) without the
    # child's set-up before exec (a lower priority, SIGINT when the app dies: nothing the app itself holds), so that
    # Python starts each stand-in with vfork instead of forking this whole test process (≈ 45 ms a run, 9 s of 200).
    monkeypatch.setattr(train_runs, "_child_setup", None)
    now = [0.0]
    runs = TrainingRuns(tmp_path / "runs", tmp_path, TrainLimits(max_runs=3), clock=lambda: now[0],
                        command=finished_trainer(trained_checkpoint))
    library = checkpoint_library.CheckpointLibrary(tmp_path / "shipped", runs=runs)
    views = page_views(library, test_sets.TestSets(None), tmp_path / "page", None, runs)
    train_tab = views.tab("train")
    (tmp_path / "page").mkdir()
    process, sizes = psutil.Process(), {}
    for i in range(SOAK_RUNS):
        owner, run = runs.submit(None, RunRequest("mnist", 1.0, 4, 1, 0, f"run-{i}"))
        runs.tick()
        run.process.wait(timeout=30)
        runs.tick()
        assert run.state == "done", run.message
        status = train_tab.train_status(owner, None)  # opens: the library loads it, the zip is written
        assert status[3].value is not None  # the download button got the zip
        if i % OPENED_EVERY == 0:
            views.runtime(run.name)  # what opening it in the page computes: dimensions, timeline decoders
        now[0] += train_runs.RECENTLY_USED_S + 1  # nobody uses it any more: it may be pruned
        if i in (SOAK_RUNS // 4, SOAK_RUNS - 1):  # after the warm-up, and at the end
            gc.collect()
            sizes[i] = (process.memory_info().rss, train_runs.folder_bytes(tmp_path / "runs"),
                        train_runs.folder_bytes(tmp_path / "page"))
    first, last = sizes[SOAK_RUNS // 4], sizes[SOAK_RUNS - 1]
    print(f"\nsoak, run {SOAK_RUNS // 4} → {SOAK_RUNS}: RSS {first[0] / 2**20:.0f} → {last[0] / 2**20:.0f} MiB, runs folder "
          f"{first[1] / 2**20:.1f} → {last[1] / 2**20:.1f} MiB, page folder {first[2] / 2**10:.0f} → {last[2] / 2**10:.0f} kiB")
    assert last[0] - first[0] < 40 * 2**20, f"RSS grew {(last[0] - first[0]) / 2**20:.0f} MiB"
    assert last[1] <= first[1] * 1.1 and last[2] <= first[2] * 1.1 + 4096, (first, last)
    assert len(runs.finished_names()) <= 3 and len(list((tmp_path / "runs" / train_runs.PAGE).iterdir())) <= 3
    assert len(library._loaded) <= 3 and len(library._memos) <= 3 and len(runs._progress) <= 3
    assert len(runs.history) <= train_runs.HISTORY


def test_a_name_reused_after_its_run_was_removed_is_never_served_the_old_runs_files(tmp_path, trained_checkpoint):
    """Finding 5: caches and page files keyed by a name (or an inode, which the file system reuses) outlived the run."""
    from training.checkpoint import write_metrics
    from training.checkpoint import load_checkpoint

    runs = TrainingRuns(tmp_path / "runs", tmp_path, TrainLimits())
    library = checkpoint_library.CheckpointLibrary(tmp_path / "shipped", runs=runs)
    views = page_views(library, test_sets.TestSets(None), tmp_path / "page", None, runs)
    train_tab = views.tab("train")
    (tmp_path / "page").mkdir()
    shutil.copytree(trained_checkpoint, tmp_path / "runs" / "same")
    first_zip, first_dims = train_tab.zip_of("same", "198.51.100.1"), views.ctx.dimensions("same")
    assert runs.disk_bytes() >= train_runs.folder_bytes(tmp_path / "runs" / "same") + Path(first_zip).stat().st_size
    runs.remove("same")
    assert not runs.page_dir("same").exists() and "same" not in library.names()
    shutil.copytree(trained_checkpoint, tmp_path / "runs" / "same")  # another run, the same name
    metrics = load_checkpoint(tmp_path / "runs" / "same").metrics
    write_metrics(tmp_path / "runs" / "same", {**metrics, "final": {**metrics["final"], "kl_per_dim": [9.0, 0, 0, 0]}})
    second_zip, second_dims = train_tab.zip_of("same", "198.51.100.1"), views.ctx.dimensions("same")
    assert second_zip != first_zip and not Path(first_zip).exists() and Path(second_zip).name == "same.zip"
    assert second_dims.kl[0] == 9.0 != first_dims.kl[0]


# ---------------------------------------------------------------------------------------------------- as an attacker

ATTACK_CYCLES = train_runs.HISTORY + 10  # start-then-stop cycles, each as a new visitor: beyond any list's bound


class RawVisitor:
    """One visitor as a script drives the app: Gradio's queue (join + the data stream) and its direct route, from a
    network address of its own (as a Space's proxy reports it in X-Forwarded-For). Visitors reach the app through
    the proxy's connections, as on a Space: `proxy` is one shared HTTP client (a new one per visitor costs 20 ms)."""

    def __init__(self, base: str, deps: dict, proxy, address: str, token: str | None = None):
        self.api, self.deps, self.proxy, self.address, self.token = base + "gradio_api/", deps, proxy, address, token
        self.session = uuid.uuid4().hex[:12]
        self.headers = {"x-forwarded-for": address}

    def queued(self, what: str, data: list) -> dict:
        """Join the queue and read the stream to this event's end: {"success": …, "output": …}."""
        fn, trigger = self.deps[what]
        joined = self.proxy.post(self.api + "queue/join", headers=self.headers, json={
            "data": data, "fn_index": fn, "trigger_id": trigger, "session_hash": self.session, "event_data": None})
        joined.raise_for_status()
        with self.proxy.stream("GET", self.api + "queue/data", params={"session_hash": self.session},
                               headers=self.headers) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed" and message.get("event_id") == joined.json()["event_id"]:
                    return message
        raise AssertionError("the stream ended without the event's result")

    def start(self, name: str) -> dict:
        done = self.queued("start", [self.token, "mnist", 1, 4, 30, 0, name, "rsample", "bce"])
        if done["success"]:
            self.token = done["output"]["data"][0]
        return done

    def stop(self) -> dict:
        return self.queued("stop", [self.token])

    def status(self) -> str:
        """The Train tab's status line, by the route the page's timer takes (the queue, or the direct route for an
        event outside it); a session of its own, so the whole line comes back (a session is sent only what changed
        since its last answer)."""
        if self.deps["status_queued"]:
            polled = RawVisitor(self.api[: -len("gradio_api/")], self.deps, self.proxy, self.address, self.token)
            return polled.queued("status", [self.token, None])["output"]["data"][0]
        fn, _ = self.deps["status"]
        answer = self.proxy.post(self.api + "run/predict", headers=self.headers, json={
            "data": [self.token, None], "fn_index": fn, "session_hash": uuid.uuid4().hex[:12]})
        answer.raise_for_status()
        return answer.json()["data"][0]


def dependencies(config: dict) -> dict:
    """The fn_index and trigger of the Train tab's events, from the page's own config (what a script reads)."""
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
    found = {}
    for dep in config["dependencies"]:
        for target, event in dep["targets"]:
            if (target, event) == (ids["train-start"], "click"):
                found["start"] = (dep["id"], target)
            elif (target, event) == (ids["train-stop"], "click"):
                found["stop"] = (dep["id"], target)
            elif event == "tick" and ids["train-status"] in dep["outputs"]:
                found["status"] = (dep["id"], target)
                found["status_queued"] = dep["queue"]
    found["traversal"] = next(d["id"] for d in config["dependencies"] if d["api_name"] == "traversal")
    return found


def trainers(runs_dir) -> int:
    """Training processes writing into this app's runs folder, counted by the operating system."""
    count = 0
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "training" in cmdline and any(str(runs_dir) in arg for arg in cmdline) and proc.status() != psutil.STATUS_ZOMBIE:
            count += 1
    return count


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """The app as a simulated public Space ($SPACE_ID: its caps on), its Gradio cache in a folder of its own; started
    once for the module's tests (≈ 7 s)."""
    root = tmp_path_factory.mktemp("space")
    data = write_tiny_mnist(root / "data", n_train=2048, n_test=200)
    args = ["--data-dir", str(data), "--no-download", "--runs-dir", str(root / "runs"), "--max-train-epochs", "30",
            "--abandon-after", "5"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SPACE_ID", "someone/vae-explorer")
        env.setenv("GRADIO_TEMP_DIR", str(root / "gradio-cache"))
        with running_explorer(args, root / "app.log", ROOT) as url:
            yield url, root


@pytest.fixture(scope="module")
def deps(space):
    """The page's events as a script finds them (its config is read once: it does not change while the app runs)."""
    import httpx

    return dependencies(httpx.get(space[0] + "config", timeout=30).json())


@pytest.fixture(scope="module")
def proxy():
    """The Space's proxy: every visitor's requests go over its connections, each with the visitor's own address."""
    import httpx

    with httpx.Client(timeout=60) as client:
        yield client


def test_one_client_cannot_run_a_second_trainer_or_touch_anothers_run(space, deps, proxy):
    url, root = space
    victim = RawVisitor(url, deps, proxy, "198.51.100.1")
    assert victim.start("victim")["success"]
    deadline = time.monotonic() + 60
    while "Training **victim**" not in victim.status() and time.monotonic() < deadline:
        time.sleep(0.2)
    most, started = 0, time.monotonic()
    for i in range(ATTACK_CYCLES):  # each cycle a new visitor from a new address: queued behind the victim, then stopped
        attacker = RawVisitor(url, deps, proxy, f"203.0.{i // 200}.{i % 200 + 1}")
        assert attacker.start(f"flood-{i}")["success"]
        assert attacker.stop()["success"]
        if i % 10 == 0:
            assert "Training **victim**" in victim.status()  # polled as the page would, so it is not abandoned
            most = max(most, trainers(root / "runs"))
    print(f"\n{2 * ATTACK_CYCLES} queue requests in {time.monotonic() - started:.0f} s: at most {most} trainer(s)")
    assert most == 1 and trainers(root / "runs") == 1
    for forged in (victim.token.split(".")[0] + "." + "0" * 32, victim.token.split(".")[0], "f" * 32 + "." + "0" * 32):
        thief = RawVisitor(url, deps, proxy, "203.0.113.99", token=forged)
        assert not thief.stop()["success"]  # "You have no run in progress to stop."
    same_place = RawVisitor(url, deps, proxy, "198.51.100.1")  # a new id from the victim's address
    refused = same_place.start("second")
    assert not refused["success"] and "network address" in json.dumps(refused)
    assert "Training **victim**" in victim.status()
    assert victim.stop()["success"]  # its owner can always stop it
    deadline = time.monotonic() + 60
    while trainers(root / "runs") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert trainers(root / "runs") == 0 and "victim** (MNIST" in victim.status()


def test_a_flooded_queue_does_not_silence_a_visitors_status(space, deps, proxy):
    """Finding 4: the status poll answers while the model's queue is full of one client's slow requests (a poll that
    waited there used to fail, and the visitor's run was then removed as abandoned)."""
    import httpx

    url, _ = space
    flood = httpx.Client(timeout=60, headers={"x-forwarded-for": "203.0.113.50"})
    # The client fills the queue from one session of its own (as a browser tab sends its events: 0.7 s to fill it,
    # where a new session per request takes 6 s, each new session's state being made first), then keeps sending
    # requests, each from a new session, while the visitor polls.
    filling, filled = uuid.uuid4().hex[:12], threading.Event()

    def join(_):
        return flood.post(url + "gradio_api/queue/join", json={
            "data": ["default", "zero", 0, 0, 8, 11], "fn_index": deps["traversal"], "trigger_id": None,
            "session_hash": uuid.uuid4().hex[:12] if filled.is_set() else filling, "event_data": None}).status_code

    codes, flooding = [], threading.Event()

    def keep_flooding():
        while not flooding.is_set():
            codes.append(join(None))

    visitor, answered = RawVisitor(url, deps, proxy, "198.51.100.2"), []
    with ThreadPoolExecutor(12) as pool:
        for _ in range(12):
            pool.submit(keep_flooding)
        while codes.count(503) < 50:  # the queue is full and refusing
            time.sleep(0.05)
        filled.set()
        for _ in range(10):  # the visitor's page polls meanwhile
            started = time.monotonic()
            try:
                answered.append(("You have no run yet" in visitor.status(), time.monotonic() - started))
            except Exception as err:  # noqa: BLE001 — a refused poll is what this test is about
                answered.append((False, repr(err)))
            time.sleep(0.2)
        flooding.set()
    print(f"\nflood: {codes.count(200)} joined, {codes.count(503)} refused (queue full); polls: {answered}")
    assert all(ok and seconds < 2 for ok, seconds in answered), answered


def test_a_huge_upload_is_refused_before_anything_is_stored(space):
    import httpx

    url, root = space
    cache = root / "gradio-cache"
    before = train_runs.folder_bytes(cache) if cache.exists() else 0
    boundary = "vae-explorer-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    size = 150 * 2**20

    def body():
        yield head
        for _ in range(size // 2**20):
            yield b"\0" * 2**20
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"content-type": f"multipart/form-data; boundary={boundary}",
               "content-length": str(len(head) + size + len(f"\r\n--{boundary}--\r\n"))}
    try:
        answer = httpx.post(url + "gradio_api/upload", content=body(), headers=headers, timeout=60)
        assert answer.status_code == 413
    except httpx.TransportError:  # refused before reading: the server may close while the client still sends
        pass
    try:  # sent in chunks, declaring no length: read until it is too much, then Gradio's partial files are removed
        chunked = httpx.post(url + "gradio_api/upload", content=body(), headers={"content-type": headers["content-type"]},
                             timeout=60)
        assert chunked.status_code == 413
    except httpx.TransportError:
        pass
    big_json = httpx.post(url + "gradio_api/queue/join", content=b"[" + b"0," * 2**20 + b"0]",
                          headers={"content-type": "application/json"}, timeout=60)
    assert big_json.status_code == 413
    chunked_json = httpx.post(url + "gradio_api/queue/join", content=iter([b"[" + b"0," * 2**20 + b"0]"]),
                              headers={"content-type": "application/json"}, timeout=60)
    assert 400 <= chunked_json.status_code < 500  # FastAPI turns the cut-short body into its own 400
    after = train_runs.folder_bytes(cache) if cache.exists() else 0
    assert after - before < 2**20, f"{after - before} bytes stored"


def test_the_server_counts_as_busy_while_its_event_loop_is_blocked_or_its_queue_half_full():
    """What pauses the abandonment clock: a late heartbeat on the server's loop (a flood that never touches the queue)
    or a half-full queue."""
    import asyncio

    from explorer.server_health import LATE_S, ServerHealth

    waiting = [0]
    health = ServerHealth(queue_size=lambda: (waiting[0], 256))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    beating = asyncio.run_coroutine_threadsafe(health.beat(), loop)
    time.sleep(0.2)
    assert not health.busy()
    loop.call_soon_threadsafe(time.sleep, LATE_S + 1.0)  # something holds the loop
    time.sleep(LATE_S + 0.5)
    assert health.busy()
    released = time.monotonic() + 1.5  # the next beat comes once the loop is released (≈ 0.5 s from here)
    while health.busy() and time.monotonic() < released:
        time.sleep(0.05)
    assert not health.busy()
    waiting[0] = 128
    assert health.busy()
    beating.cancel()
    time.sleep(0.1)  # the loop runs the cancellation before it stops
    loop.call_soon_threadsafe(loop.stop)
