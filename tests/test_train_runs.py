"""The Train tab's runs (explorer/train_runs.py): settings refused in one sentence, caps, the queue, abandoned runs,
real training subprocesses stopped and finished, and a killed app that leaves a consistent runs folder."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explorer import checkpoint_library, test_sets, train_runs
from explorer.train_runs import Run, RunRequest, TrainingRuns, TrainLimits, parse_request
from tests.helpers import write_tiny_mnist
from training.checkpoint import load_checkpoint
from training.errors import UserError
from training.live import read_progress

ROOT = Path(__file__).resolve().parent.parent
LIMITS = TrainLimits(max_epochs=30, max_runs=3)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_tiny_mnist(tmp_path_factory.mktemp("data"), n_train=2048, n_test=200)


def request(name="r1", epochs=1, dataset="mnist"):
    return RunRequest(dataset, 1.0, 4, epochs, 0, name)


@pytest.mark.parametrize("field, value, says", [
    ("beta", -1, "β must be a number from 0 to 100, not -1"), ("beta", "nan", "β must be a number"),
    ("beta", "1e400", "β must be a number"), ("z_dim", 0, "z_dim must be a whole number from 1 to 256, not 0"),
    ("z_dim", 10**9, "not 1e+09"), ("z_dim", 2.5, "z_dim must be a whole number"),
    ("epochs", 31, "Epochs must be a whole number from 1 to 30, not 31"), ("seed", -3, "The seed must be"),
    ("name", "../escape", "lower-case letters"), ("name", "<b>x</b>", "lower-case letters"),
    ("name", "default", "already a checkpoint or run named default"), ("dataset", "kmnist", "whose files are on this server"),
    ("name", "x" * 41, "1–40"), ("sampling", "torch.normal", "how the decoder's z is drawn"),
    ("recon", ["bce"], "a reconstruction loss"), ("name", "lesson-default", "kept for the lessons"),
])
def test_bad_settings_are_one_sentence(field, value, says):
    form = {"dataset": "mnist", "beta": 1, "z_dim": 16, "epochs": 3, "seed": 0, "name": "", field: value}
    with pytest.raises(UserError) as err:
        parse_request(**form, limits=LIMITS, datasets_present=["mnist"], taken={"default"})
    assert says in str(err.value) and "\n" not in str(err.value) and "<b>" not in str(err.value)


def test_an_empty_name_is_made_from_the_settings_and_numbered_when_taken():
    made = parse_request("mnist", 0.5, 16, 3, 0, " ", LIMITS, ["mnist"], taken={"mnist-b0p5-z16-e3"})
    assert made == RunRequest("mnist", 0.5, 16, 3, 0, "mnist-b0p5-z16-e3-2")


def test_the_labs_lessons_are_options_of_a_run_its_name_and_its_command():
    made = parse_request("mnist", 1, 16, 3, 0, "", LIMITS, ["mnist"], set(), sampling="mean", recon="mse")
    assert made == RunRequest("mnist", 1.0, 16, 3, 0, "mnist-b1-z16-e3-mean-mse", "mean", "mse")
    command = train_runs.run_command(made, Path("runs"), Path("data"), LIMITS)
    assert command[command.index("--sampling") + 1] == "mean" and command[command.index("--recon") + 1] == "mse"


def test_a_space_gets_conservative_caps_and_a_laptop_generous_ones():
    space = TrainLimits.for_environment({"SPACE_ID": "someone/vae"}, cpu_count=2)
    assert (space.max_epochs, space.max_runs, space.threads, space.abandon_after_s) == (5, 3, 1, 120.0)
    local = TrainLimits.for_environment({}, cpu_count=2)
    assert local.threads is None and local.abandon_after_s is None and local.max_epochs == 30


def _fake_run(runs_dir: Path, name: str, age: float, size: int = 1000) -> None:
    folder = runs_dir / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"0" * size)
    os.utime(folder / "config.json", (time.time() - age, time.time() - age))


def test_the_oldest_runs_make_room_for_a_new_one_within_the_count_and_disk_caps(tmp_path):
    for i, name in enumerate(["old", "middle", "new"]):
        _fake_run(tmp_path, name, age=100 - i * 10)
    runs = TrainingRuns(tmp_path, tmp_path, TrainLimits(max_runs=3))
    assert runs.finished_names() == ["old", "middle", "new"]
    runs.make_room()
    assert runs.finished_names() == ["middle", "new"]  # one left for the new run
    runs = TrainingRuns(tmp_path, tmp_path, TrainLimits(max_runs=10, disk_budget_mb=30))
    _fake_run(tmp_path, "big", age=200, size=10 * 2**20)  # 10 MB + a run's 24 MB estimate is over 30 MB
    runs.make_room()
    assert runs.finished_names() == ["middle", "new"]


def test_one_run_at_a_time_a_second_visitor_waits_and_can_leave_the_queue(tmp_path, tiny_data):
    runs = TrainingRuns(tmp_path / "runs", tiny_data, LIMITS)
    alice, first = runs.submit(None, request("first", epochs=30))
    bob, second = runs.submit(None, request("second"))
    assert alice != bob
    runs.tick()
    assert (first.state, second.state, runs.position(second)) == ("running", "queued", 1)
    with pytest.raises(UserError, match="still running; stop it first"):
        runs.submit(alice, request("third"))
    assert runs.stop(bob) == "second left the queue."
    runs.shutdown()
    assert first.state == "stopped"


def idle_trainer(request, runs_dir, *_):
    """A stand-in for the trainer that has saved an epoch and trains until it is interrupted (the policy under test
    does not need a real one; the real one is stopped in tests/test_browser_train.py)."""
    (runs_dir / request.name).mkdir(parents=True)
    (runs_dir / request.name / "config.json").write_text("{}")
    return [sys.executable, "-c", "import time\nwhile True: time.sleep(0.02)"]


def advance(runs, now, to, step=1.0):
    """Move the injected clock to `to`, the supervisor ticking every `step` seconds as it does in the app."""
    while now[0] < to:
        now[0] = min(to, now[0] + step)
        runs.tick()


def test_an_abandoned_run_is_stopped_and_removed(tmp_path, tiny_data):
    now = [0.0]
    runs = TrainingRuns(tmp_path / "runs", tiny_data, TrainLimits(abandon_after_s=10), clock=lambda: now[0],
                        command=idle_trainer)
    watcher, run = runs.submit(None, request("left"))
    _, waiting = runs.submit(None, request("waiting"))
    runs.tick()
    advance(runs, now, 9.0)
    runs.seen(watcher)  # its visitor looks at 9 s; the queued one's never does
    advance(runs, now, 11.0)
    assert run.state == "running" and waiting.state == "stopped" and "nobody was watching" in waiting.message
    advance(runs, now, 20.0)  # nobody asked for the run's status for 11 s
    run.process.wait(timeout=10)
    runs.tick()
    assert run.state == "stopped" and "nobody was watching" in run.message
    assert not (tmp_path / "runs" / "left").exists() and not runs.live_dir("left").exists()


@pytest.mark.slow
def test_a_killed_app_leaves_a_consistent_runs_folder(tmp_path, tiny_data):
    runs_dir = tmp_path / "runs"
    app = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from explorer.train_runs import *\n"
        f"runs = TrainingRuns(Path({str(runs_dir)!r}), Path({str(tiny_data)!r}), TrainLimits())\n"
        "runs.start_supervisor(); runs.submit(None, RunRequest('mnist', 1.0, 4, 30, 0, 'orphan'))\n"
        "time.sleep(600)\n")], cwd=ROOT)
    live = runs_dir / train_runs.LIVE / "orphan"
    deadline = time.monotonic() + 90
    while (read_progress(live) or {}).get("saved_epochs", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    trainer = int(json.loads((runs_dir / ".orphan.lock").read_text())["pid"])
    app.send_signal(signal.SIGKILL)
    app.wait(timeout=10)
    deadline = time.monotonic() + 30
    while _alive(trainer) and time.monotonic() < deadline:  # SIGINT through PR_SET_PDEATHSIG: it saves and exits
        time.sleep(0.1)
    assert not _alive(trainer)
    assert read_progress(live)["state"] == "stopped"
    again = TrainingRuns(runs_dir, tiny_data, TrainLimits())  # the next app start
    assert again.finished_names() == ["orphan"]
    assert len(load_checkpoint(runs_dir / "orphan").metrics["history"]) >= 1
    assert not list(runs_dir.glob(".orphan.partial-*"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (its parent is gone) is not running
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_the_explorer_flags_default_to_the_space_caps_on_a_space(monkeypatch):
    from explorer.__main__ import build_parser

    monkeypatch.setenv("SPACE_ID", "someone/vae")
    args = build_parser().parse_args([])
    assert (args.max_train_epochs, args.max_runs, args.train_disk_mb, args.abandon_after) == (5, 3, 300, 120.0)
    assert build_parser().parse_args(["--no-train"]).train is False


def test_the_library_rereads_a_checkpoint_saved_anew_and_forgets_a_removed_run(tmp_path, trained_checkpoint):
    import shutil

    runs = TrainingRuns(tmp_path / "runs", tmp_path, LIMITS)
    shutil.copytree(trained_checkpoint, tmp_path / "runs" / "mine")
    library = checkpoint_library.CheckpointLibrary(tmp_path / "shipped", runs=runs)
    first = library.get("mine")
    assert library.get("mine") is first  # kept
    shutil.copytree(trained_checkpoint, tmp_path / "runs" / ".mine.new")  # a save swaps in a new folder
    os.replace(tmp_path / "runs" / "mine", tmp_path / "runs" / ".mine.old")
    os.replace(tmp_path / "runs" / ".mine.new", tmp_path / "runs" / "mine")
    assert library.get("mine") is not first
    runs.remove("mine")
    with pytest.raises(UserError, match="No checkpoint named 'mine'"):
        library.get("mine")


def test_the_tab_queues_reports_and_refuses_without_a_server(tmp_path, tiny_data):
    import gradio as gr

    from explorer.app import page_views

    runs = TrainingRuns(tmp_path / "runs", tiny_data, LIMITS)
    cb = page_views(checkpoint_library.CheckpointLibrary(ROOT / "checkpoints", runs=runs), test_sets.TestSets(None), tmp_path, "default",
                    runs).tab("train")
    with pytest.raises(UserError, match="β must be a number"):
        cb.train_start(None, "mnist", -1, 4, 1, 0, "")
    with pytest.raises(UserError, match="already a checkpoint or run named default"):
        cb.train_start(None, "mnist", 1, 4, 1, 0, "default")
    assert not (tmp_path / "runs" / "default").exists()
    owner, status, live, *_, shown = cb.train_start(None, "mnist", 1, 4, 1, 0, "")  # no tick: it stays queued
    assert "mnist-b1-z4-e1" in status and "number 1 in the queue" in status and json.loads(live)["state"] == "example"  # nothing trains yet: the example
    again = cb.train_status(owner, shown)
    assert all(update == gr.skip() for update in again[:-1])  # nothing changed: nothing is sent
    assert runs.stop(owner) == "mnist-b1-z4-e1 left the queue."
    off = page_views(checkpoint_library.CheckpointLibrary(ROOT / "checkpoints"), test_sets.TestSets(None), tmp_path, "default",
                     TrainingRuns(tmp_path / "off", tiny_data, TrainLimits(enabled=False))).tab("train")
    assert "turned off" in off.train_intro()
    with pytest.raises(UserError, match="turned off"):
        off.train_start(None, "mnist", 1, 4, 1, 0, "")


def test_a_visitor_with_no_run_while_nothing_trains_sees_how_the_last_run_learned(tmp_path, tiny_data, trained_checkpoint):
    import shutil

    from explorer.app import page_views
    from training.live import LiveProgress

    runs = TrainingRuns(tmp_path / "runs", tiny_data, LIMITS)
    shutil.copytree(trained_checkpoint, tmp_path / "runs" / "earlier")  # a run of an earlier start of the app
    LiveProgress(runs.live_dir("earlier"), steps_per_epoch=4, epochs=2).set_state("done")
    cb = page_views(checkpoint_library.CheckpointLibrary(tmp_path / "shipped", runs=runs), test_sets.TestSets(None), tmp_path, "earlier",
                    runs).tab("train")
    status, live, *_ = cb.train_status(None, None)
    assert "Below: how the last run, **earlier**, learned." in status
    assert json.loads(live)["name"] == "earlier" and json.loads(live)["files"]["progress"].endswith("/_live/earlier/progress.json")


def alive(runs_seen) -> int:
    return sum(r.process is not None and r.process.poll() is None for r in runs_seen)


def test_no_sequence_of_starts_and_stops_runs_two_trainers_or_loses_a_live_run(tmp_path, tiny_data):
    """Finding 1 of issue 28: ~200 queued-then-stopped runs used to push the running run off a trimmed list."""
    runs = TrainingRuns(tmp_path / "runs", tiny_data, TrainLimits(max_queue=10, max_per_client=1), command=idle_trainer)
    victim, run = runs.submit(None, request("victim"), client="10.0.0.1")
    runs.tick()
    seen = [run]
    for i in range(train_runs.HISTORY + 40):
        owner, queued = runs.submit(None, request(f"a{i}"), client=f"10.9.{i // 200}.{i % 200}")
        seen.append(queued)
        runs.tick()
        runs.stop(owner)
        runs.tick()
        assert alive(seen) == 1 and len(runs.running) == 1
    assert runs.mine(victim) is run and run.state == "running" and len(runs.history) == train_runs.HISTORY
    assert runs.stop(victim) == "Stopping victim: the last saved epoch is kept."
    runs.shutdown()
    assert alive(seen) == 0 and run.state == "stopped"


def test_ids_are_the_servers_and_a_forged_one_acts_on_nothing(tmp_path, tiny_data):
    runs = TrainingRuns(tmp_path / "runs", tiny_data, LIMITS)
    owner, run = runs.submit(None, request("mine"))
    raw, signature = owner.split(".")
    for forged in (f"{raw}.{'0' * 32}", f"{'f' * 32}.{signature}", raw, "", None, 123, "a" * 100_000):
        assert runs.mine(forged) is None
        with pytest.raises(UserError, match="no run in progress"):
            runs.stop(forged)
    other, _ = runs.submit(f"{raw}.{'0' * 32}", request("theirs"), client="10.0.0.2")  # a forged id gets its own
    assert other != owner and runs.mine(owner) is run and run.state == "queued"


def test_one_run_per_address_on_a_space_in_one_sentence(tmp_path, tiny_data):
    runs = TrainingRuns(tmp_path / "runs", tiny_data, TrainLimits(max_per_client=1))
    runs.submit(None, request("first"), client="203.0.113.5")
    with pytest.raises(UserError, match="A run from your network address is already queued or training"):
        runs.submit(None, request("second"), client="203.0.113.5")  # a new visitor id, the same address
    runs.submit(None, request("third"), client="203.0.113.6")


def test_the_client_is_the_proxys_first_forwarded_address_on_a_space_and_the_socket_elsewhere():
    from explorer.visitors import client_address

    headers = {"x-forwarded-for": "198.51.100.7, 10.0.0.1"}
    assert client_address(headers, "10.0.0.1", behind_proxy=True) == "198.51.100.7"
    assert client_address(headers, "127.0.0.1", behind_proxy=False) == "127.0.0.1"
    assert client_address({}, "10.0.0.1", behind_proxy=True) == "10.0.0.1"
    assert len(client_address({"x-forwarded-for": "x" * 10_000}, None, True)) <= 64
    assert client_address({}, "2001:db8:1:2:aaaa::1", False) == client_address({}, "2001:db8:1:2:bbbb::9", False)
    assert client_address({}, "::ffff:198.51.100.7", False) == "198.51.100.7"
    assert TrainLimits.for_environment({"SPACE_ID": "a/b"}).behind_proxy and not TrainLimits().behind_proxy


def test_runs_in_use_are_never_pruned_and_a_new_run_is_refused_when_all_are(tmp_path, tiny_data):
    now = [1000.0]
    for i, name in enumerate(["old", "middle", "new"]):
        _fake_run(tmp_path, name, age=100 - i * 10)
    runs = TrainingRuns(tmp_path, tiny_data, TrainLimits(max_runs=3), clock=lambda: now[0])
    for i, name in enumerate(("old", "middle", "new")):
        runs.used(name, client=f"198.51.100.{i}")  # each opened or downloaded by someone just now
    with pytest.raises(UserError, match="Every kept run is in use"):
        runs.submit(None, request("fresh"))
    with pytest.raises(UserError, match="Every kept run is in use"):
        runs.make_room()
    assert runs.finished_names() == ["old", "middle", "new"]
    now[0] += train_runs.RECENTLY_USED_S + 1
    runs.used("old", client="198.51.100.0")  # still open in someone's tab
    runs.make_room()
    assert runs.finished_names() == ["old", "new"]


def test_one_client_protects_only_the_run_it_used_last(tmp_path, tiny_data):
    """Opening every kept run from one address must not block everyone's training for ten minutes."""
    for i, name in enumerate(["old", "middle", "new"]):
        _fake_run(tmp_path, name, age=100 - i * 10)
    runs = TrainingRuns(tmp_path, tiny_data, TrainLimits(max_runs=3))
    for name in ("old", "middle", "new", "middle"):
        runs.used(name, client="203.0.113.7")
    assert runs.in_use() == {"middle"}
    runs.submit(None, request("fresh"))
    runs.make_room()
    assert runs.finished_names() == ["middle", "new"]


def test_a_run_adding_its_tsne_is_counted_once_when_room_is_checked(tmp_path, tiny_data):
    from training.run_state import write_run_state

    _fake_run(tmp_path, "opened", age=50)
    runs = TrainingRuns(tmp_path, tiny_data, TrainLimits(max_runs=3), command=idle_trainer)
    runs.used("opened", client="198.51.100.1")
    runs.submit(None, request("tsne"))
    runs.tick()
    write_run_state(tmp_path / "tsne", "finishing")  # its last epoch is saved: it opens
    assert "tsne" in runs.finished_names() and runs._room_for_one_more()  # opened + tsne + a new one = 3
    runs.shutdown()


def test_a_name_in_a_visitors_status_is_not_given_to_a_new_run(tmp_path, tiny_data):
    runs = TrainingRuns(tmp_path / "runs", tiny_data, LIMITS)
    owner, run = runs.submit(None, request("mine"))
    runs.stop(owner)  # ended: its record stays in its visitor's status
    assert "mine" in runs.remembered_names()
    with pytest.raises(UserError, match="already a run named mine"):
        runs.submit(None, request("mine"), client="10.0.0.9")


def test_time_the_server_was_not_answering_does_not_count_towards_abandonment(tmp_path, tiny_data):
    """Finding 4: a flood that made status polls fail used to get other visitors' runs removed as abandoned."""
    now, busy = [0.0], [False]
    runs = TrainingRuns(tmp_path / "runs", tiny_data, TrainLimits(abandon_after_s=10), clock=lambda: now[0],
                        command=idle_trainer, busy=lambda: busy[0])
    owner, run = runs.submit(None, request("watched"))
    runs.tick()
    busy[0] = True
    advance(runs, now, 100.0)  # 100 s of a full queue: nobody's polls got through
    busy[0] = False
    now[0] += 60.0  # and one tick 60 s late (the process stalled): counts as MAX_TICK_GAP_S
    runs.tick()
    assert run.state == "running" and not run.abandoned
    advance(runs, now, now[0] + 9.0)
    assert run.abandoned and run.stop_sent is not None
    runs.shutdown()


def test_the_supervisor_logs_a_failed_tick_and_goes_on(tmp_path, tiny_data, caplog):
    runs = TrainingRuns(tmp_path / "runs", tiny_data, LIMITS)
    calls, real_tick = [], runs.tick

    def flaky_tick():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a disk hiccup")
        real_tick()

    runs.tick = flaky_tick
    runs.start_supervisor(every=0.01)
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    runs.shutdown()
    assert len(calls) >= 3 and "a disk hiccup" in caplog.text


def test_a_newcomer_with_no_run_anywhere_sees_how_a_shipped_model_learned(tmp_path, tiny_data):
    """The Train tab draws on open: before any run, the shipped default's run as an example (its timeline, and a
    progress file rebuilt from its checkpoint in the format the page reads)."""
    from explorer.app import page_views

    runs = TrainingRuns(tmp_path / "runs", tiny_data, LIMITS)
    (tmp_path / "page").mkdir()
    cb = page_views(checkpoint_library.CheckpointLibrary(ROOT / "checkpoints", runs=runs), test_sets.TestSets(None), tmp_path / "page",
                    "default", runs).tab("train")
    status, live, *_ = cb.train_status(None, None)
    assert "as an example of what your run will draw: how **default**" in status
    live = json.loads(live)
    assert live["state"] == "example" and live["snapshots"] > 10
    progress = json.loads(Path(live["files"]["progress"].split("file=")[1]).read_text())
    metrics = json.loads((ROOT / "checkpoints" / "default" / "metrics.json").read_text())
    assert progress["epochs"] == len(metrics["history"]) and progress["steps"] == 59 * progress["epochs"]
    assert progress["train"][0][0] == 0 and len(progress["train"]) == live["snapshots"]  # from step 0, every snapshot
    assert progress["test"][-1][1] == round(metrics["history"][-1]["test"]["total"], 4)
    assert live["files"]["json"].split("?")[0].endswith("/checkpoints/default/timeline.json")
    assert cb.train_status(None, None)[1] == json.dumps(live)  # memoised: the same answer, no second write


def test_why_a_run_failed_comes_from_its_progress_file_not_its_log(tmp_path, tiny_data):
    """The real trainer refused before its loop (the data set is missing): its sentence reaches the visitor through
    the live progress file; the log is only for people."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    runs = TrainingRuns(tmp_path / "runs", empty, LIMITS)
    _, run = runs.submit(None, request("nodata"))
    runs.tick()
    run.process.wait(timeout=120)
    runs.tick()
    assert run.state == "failed" and "MNIST" in run.message and "\n" not in run.message
    assert read_progress(runs.live_dir("nodata")) is None  # a run that left no checkpoint is removed with its files
    (runs.live_dir("x")).mkdir(parents=True)
    (runs.live_dir("x") / "log.txt").write_text("error: a line in the log is not the run's state\n")
    stand_in = Run(request("x"), "owner", "client")
    assert runs._failure(stand_in, 1) == "the training process exited with status 1"


def test_an_app_that_allows_one_epoch_builds_and_refuses_two(tmp_path, tiny_data, trained_checkpoint):
    from explorer.app import build_demo

    runs = TrainingRuns(tmp_path / "runs", tiny_data, TrainLimits(max_epochs=1))
    library = checkpoint_library.CheckpointLibrary(trained_checkpoint.parent, runs=runs)
    build_demo(library, trained_checkpoint.name, test_sets.TestSets(str(tiny_data), download=False), runs)
    with pytest.raises(UserError, match="Epochs must be a whole number from 1 to 1"):
        parse_request("mnist", 1, 4, 2, 0, "", runs.limits, ["mnist"], set())
