"""The shipped checkpoints load with the one loader, and the README's table is theirs."""
from explorer.compare import markdown_table
from explorer.checkpoint_library import CheckpointLibrary
from tests.test_browser import ROOT


def test_the_readme_table_is_the_shipped_checkpoints_metrics():
    library = CheckpointLibrary(ROOT / "checkpoints")
    assert library.names() == ["default", "fashion-mnist", "lesson-default", "lesson-mean", "lesson-mse", "lesson-normal",
                               "mnist-beta4", "mnist-z2"]
    assert markdown_table(library) in (ROOT / "README.md").read_text()
