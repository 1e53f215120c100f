"""The live progress file a run writes for the Train tab (training/live.py)."""
import json

import pytest

from training.live import LiveProgress, read_progress


def test_progress_says_the_step_rate_and_time_left_and_is_rewritten_at_most_every_interval(tmp_path):
    now = [0.0]
    live = LiveProgress(tmp_path, steps_per_epoch=10, epochs=2, every=0.5, clock=lambda: now[0])
    assert read_progress(tmp_path)["state"] == "starting"
    live.begin_steps()
    for _ in range(10):  # 0.1 s a step, 100 images each
        now[0] += 0.1
        live.after_step([300.0, 290.0, 10.0], 100)
    live.epoch_end()
    now[0] += 2.0  # the epoch end (evaluation, map, save) takes 2 s
    live.saved(1, {"total": 250.0, "recon": 240.0, "kl": 10.0})
    progress = read_progress(tmp_path)
    assert progress["state"] == "evaluating" and progress["images_per_s"] == 1000.0
    # 10 steps left at 0.1 s + one epoch end at its measured 2 s
    assert abs(progress["eta_s"] - 3.0) < 1e-6 and progress["test"] == [[1, 250.0, 240.0, 10.0]]
    live.begin_steps()
    now[0] += 0.1
    live.after_step([200.0, 195.0, 5.0], 100)  # within 0.5 s of the last write: not rewritten yet
    assert read_progress(tmp_path)["step"] == 10
    now[0] += 0.5
    live.after_step([200.0, 195.0, 5.0], 100)
    assert read_progress(tmp_path)["step"] == 12 and len(read_progress(tmp_path)["train"]) == 12


def test_an_unreadable_or_foreign_progress_file_reads_as_none(tmp_path):
    (tmp_path / "progress.json").write_text('{"state": "<script>"}')
    assert read_progress(tmp_path) is None
    (tmp_path / "progress.json").write_text("{trunc")
    assert read_progress(tmp_path) is None
    assert read_progress(tmp_path / "missing") is None


class Timeline:
    """What a snapshot needs of training/timeline.py's Timeline: its entries, and save() by fixed file names."""

    def __init__(self, entries: int, fail: bool = False):
        self.entries, self.fail = [{"step": s} for s in range(entries)], fail

    def save(self, folder, decoders=True):
        (folder / "timeline.safetensors").write_bytes(b"t" * len(self.entries))
        if self.fail:
            raise OSError(28, "No space left on device")
        (folder / "timeline.json").write_text(json.dumps(self.entries))


def test_a_snapshot_replaces_both_timeline_files_or_neither_and_leaves_no_temporary_folder(tmp_path):
    live = LiveProgress(tmp_path, steps_per_epoch=10, epochs=1)
    live.snapshot(Timeline(2))
    with pytest.raises(OSError):
        live.snapshot(Timeline(3, fail=True))  # the disk filled half-way: the page keeps the whole previous timeline
    assert json.loads((tmp_path / "timeline.json").read_text()) == [{"step": 0}, {"step": 1}]
    assert (tmp_path / "timeline.safetensors").read_bytes() == b"tt"
    live.snapshot(Timeline(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.json", "timeline.json", "timeline.safetensors"]
    assert read_progress(tmp_path)["snapshots"] == 4
