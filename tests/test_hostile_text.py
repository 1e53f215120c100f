"""A checkpoint's text reaches the server's views only as text: hostile folder names, data set titles and class names,
fuzzed through the summary, the notices, the map and the compare view (each output read as its renderer reads it)."""
import dataclasses
import json
import re
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from explorer import compare, figures, checkpoint_library, describe, test_sets
from explorer.app import lay_out, page_views
from tests.test_safe_text import TEXT, Tags, markdown_html
from training import safe_text
from training.checkpoint import load_checkpoint

SHORT_TEXT = TEXT.map(lambda t: t.replace("/", "")).filter(lambda t: 0 < len(t) <= 40 and safe_text.plain(t))  # a folder name has no /


def markdown_tags(text: str) -> set[str]:
    """The elements a Markdown string renders to."""
    return set(Tags(markdown_html(text)).tags)


def plotly_strings(fig) -> list[str]:
    """Every string plotly renders as rich text in a figure: titles, trace names, hover templates."""
    layout = fig.to_plotly_json()["layout"]
    titles = [a.get("text", "") for a in layout.get("annotations", [])] + [layout.get("title", {}).get("text") or ""]
    traces = [t.name or "" for t in fig.data] + [t.hovertemplate or "" for t in fig.data]
    return titles + traces


def assert_plotly_safe(fig) -> None:
    for text in plotly_strings(fig):
        text = text.replace("<extra></extra>", "").replace("%{customdata[0]}", "").replace("%{customdata}", "")
        text = text.replace("%{x}", "").replace("%{y:.3f}", "")
        text = re.sub(r"<br>|%\{customdata\[\d\]:\.1f\}", "", text)  # the map's own hover lines for the scores
        assert "<" not in text and "%{" not in text and "$" not in text, text


@pytest.fixture(scope="module")
def real(trained_checkpoint):
    return load_checkpoint(trained_checkpoint)


def hostile(ck, name: str, dataset: str, classes: list[str]):
    data = {**ck.config.data, "dataset": dataset, "class_names": classes}
    return dataclasses.replace(ck, path=ck.path.parent / name, config=dataclasses.replace(ck.config, data=data))


@given(name=SHORT_TEXT, dataset=TEXT, classes=st.lists(SHORT_TEXT, min_size=10, max_size=10))
def test_the_summary_and_the_figures_show_hostile_strings_as_text(real, name, dataset, classes):
    ck = hostile(real, name, dataset, classes)
    summary = describe.checkpoint_summary(ck, 2)
    assert markdown_tags(summary) <= {"p", "strong"}
    assert safe_text.plain(name) in "".join(Tags(markdown_html(summary)).data)  # shown, as itself
    atlas = ck.atlas
    fig = figures.latent_map(atlas["pca"].numpy(), atlas["labels"].numpy(), "PCA", None, describe.checkpoint_classes(ck),
                             describe.dataset_title(ck))
    assert_plotly_safe(fig)
    assert_plotly_safe(figures.kl_bars_compared([(name, [0.1, 0.2], [True, False])]))
    assert_plotly_safe(figures.maps_compared([(name, atlas["pca"].numpy(), atlas["labels"].numpy(), describe.checkpoint_classes(ck))]))
    groups = [compare.CompareGroup(describe.dataset_title(ck), [name]), compare.CompareGroup("MNIST", ["b"])]
    assert markdown_tags(compare.separation_note(groups)) <= {"p"}
    row = compare.metrics_row(name, ck, 2)
    assert row[0] == safe_text.plain(name) and row[1] == describe.dataset_title(ck)  # the table shows cells as text


def test_an_unknown_data_set_is_noticed_without_repeating_it():
    images = test_sets.TestSets(None).get("<img src=x class=pwn>")
    assert images.split is None and "pwn" not in images.message and "not one the explorer knows" in images.message


def test_a_hostile_checkpoint_folder_opens_with_every_server_view_escaped(trained_checkpoint, tmp_path, test_split):
    name = "<img src=pwn class=pwn>**b**"
    root = tmp_path / "checkpoints"
    folder = root / name
    shutil.copytree(trained_checkpoint, folder)
    config = json.loads((folder / "config.json").read_text())
    config["data"].update(dataset="![p](pwn.png)", class_names=[f"<b class=pwn>{d}</b>" for d in range(10)])
    (folder / "config.json").write_text(json.dumps(config))
    library = checkpoint_library.CheckpointLibrary(root)
    views = page_views(library, test_sets.TestSets.of(test_sets.TestImages(test_split)))
    lay_out(views)
    summary = views.opened(name)[views.summary]
    assert markdown_tags(summary) <= {"p", "strong"} and "<img" in "".join(Tags(markdown_html(summary)).data)
    _, _, caption = views.tab("map").map_click(name, "0")
    assert markdown_tags(caption) <= {"p", "strong"} and "pwn" in caption
    assert_plotly_safe(views.tab("map").latent_map(name, "PCA"))
    runtime = Tags(views.runtime(name))
    assert runtime.tags == ["div", "span"]  # the config travels as one escaped attribute
    assert np.isfinite(describe.negative_test_elbo(library.get(name).metrics["final"]))
