"""Per-image scores (training/scores.py), out-of-distribution summaries (training/ood.py) and what the explorer does
with them (explorer/likelihood.py, the Likelihood tab, the map's colouring, links)."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from explorer import deep_links, checkpoint_library, likelihood, atlas_maps, describe, test_sets
from explorer.app import page_views
from tests.test_browser import ROOT
from training.checkpoint import ATLAS, load_checkpoint
from training.errors import UserError
from training.ood import OOD_FILE, auroc, finding, read_ood, summarise
from training.scores import SCORE_KEYS, score_images

SHIPPED = ("default", "fashion-mnist", "mnist-beta4", "mnist-z2")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_checkpoint_scores_its_test_images_and_they_average_to_its_test_elbo(name):
    ck = load_checkpoint(ROOT / "checkpoints" / name, check_onnx=False)
    test = ck.metrics["final"]["test"]
    mean = {key: float(ck.atlas[key].double().mean()) for key in SCORE_KEYS}
    # the metrics' −ELBO uses one z per image, the scores eight: equal within sampling noise (≈ 0.1 nats here)
    assert mean["score_recon"] == pytest.approx(test["recon"], abs=0.5)
    assert mean["score_kl"] == pytest.approx(test["kl"], abs=0.1)  # closed form in both; the scores' encoder ran in bf16
    assert mean["score_elbo"] == pytest.approx(test["recon"] + test["kl"], abs=0.5)
    assert mean["score_nll"] < mean["score_elbo"]  # the importance-weighted bound is tighter
    ood = read_ood(ck.path)
    assert ood["own"].endswith("test") and ood["finding"] and len(ood["sets"]) >= 5
    # and the map's third projection, computed by `training evaluate` (issue 24)
    assert tuple(ck.atlas["umap"].shape) == (len(ck.atlas["labels"]), 2) and "UMAP" in atlas_maps.map_methods(ck.atlas)


def test_the_importance_weighted_bound_is_never_looser_than_the_elbo_and_a_seed_repeats(trained_checkpoint, test_split):
    model = load_checkpoint(trained_checkpoint).model
    a = score_images(model, test_split.images[:40], seed=3)
    b = score_images(model, test_split.images[:40], seed=3)
    assert all(torch.equal(a[k], b[k]) for k in SCORE_KEYS)
    assert (a["score_nll"] <= a["score_elbo"] + 1e-4).all()  # log-mean-exp ≥ mean, for the same 8 samples
    assert torch.allclose(a["score_elbo"], a["score_recon"] + a["score_kl"])


def test_a_trained_checkpoint_carries_scores_and_an_ood_file(trained_checkpoint):
    ck = load_checkpoint(trained_checkpoint)
    assert all(tuple(ck.atlas[k].shape) == (len(ck.atlas["labels"]),) for k in SCORE_KEYS)
    assert ck.metrics["final"]["scores"]["k"] == 8
    ood = read_ood(trained_checkpoint)
    assert [s["name"] for s in ood["sets"]][0] == ood["own"]
    assert {"inverted (synthetic)", "blank (synthetic)"} <= {s["name"] for s in ood["sets"]}


@pytest.mark.parametrize("damage, words", [
    (lambda a: a.update(score_elbo=torch.full_like(a["score_elbo"], float("nan"))), "NaN"),
    (lambda a: a.update(score_kl=a["score_kl"][:5]), "shape"),
    (lambda a: a.pop("score_nll"), "only some"),
])
def test_the_loader_refuses_damaged_scores(trained_checkpoint, tmp_path, damage, words):
    from safetensors.torch import save_file

    folder = tmp_path / "damaged"
    shutil.copytree(trained_checkpoint, folder)
    atlas = dict(load_checkpoint(folder).atlas)
    damage(atlas)
    save_file({k: v.contiguous() for k, v in atlas.items()}, str(folder / ATLAS))
    with pytest.raises(UserError, match=words):
        load_checkpoint(folder)


def test_a_umap_map_of_the_wrong_shape_is_refused(trained_checkpoint, tmp_path):
    from safetensors.torch import save_file

    folder = tmp_path / "umap"
    shutil.copytree(trained_checkpoint, folder)
    atlas = dict(load_checkpoint(folder).atlas)
    assert "UMAP" not in atlas_maps.map_methods(atlas)  # the library's default: no UMAP (≈ 50 s), the command's: on
    atlas["umap"] = torch.zeros(len(atlas["labels"]), 3)
    save_file({k: v.contiguous() for k, v in atlas.items()}, str(folder / ATLAS))
    with pytest.raises(UserError, match="'umap' has shape"):
        load_checkpoint(folder)


def test_a_damaged_ood_file_is_one_sentence_and_a_missing_one_is_none(trained_checkpoint, tmp_path):
    folder = tmp_path / "ood"
    shutil.copytree(trained_checkpoint, folder)
    summary = json.loads((folder / OOD_FILE).read_text())
    summary["histograms"]["score_nll"]["edges"][3] = -1  # not increasing
    (folder / OOD_FILE).write_text(json.dumps(summary))
    with pytest.raises(UserError, match="ood.json is damaged"):
        read_ood(folder)
    (folder / OOD_FILE).write_text("{not json")
    with pytest.raises(UserError, match="training evaluate"):
        read_ood(folder)
    (folder / OOD_FILE).unlink()
    assert read_ood(folder) is None


def _ood_summary() -> dict:
    sets = {"MNIST test": {"score_nll": np.linspace(80, 120, 50), "score_elbo": np.linspace(85, 125, 50)},
            "blank (MNIST)": {"score_nll": np.full(5, 27.0), "score_elbo": np.full(5, 29.0)}}
    return json.loads(json.dumps(summarise("MNIST test", sets, 8)))


def _edit(change):
    def edit(summary):
        change(summary)
        return summary
    return edit


def _nll(summary):
    return summary["histograms"]["score_nll"]


# One file per check read_ood once made with `assert`, which `python -O` strips.
DAMAGED_OOD = {
    "finding not text": _edit(lambda s: s.update(finding=3)),
    "own set not among the sets": _edit(lambda s: s.update(own="Fashion-MNIST test")),
    "a set name not text": _edit(lambda s: s["sets"].append({**s["sets"][1], "name": 5})),
    "edges not increasing": _edit(lambda s: _nll(s)["edges"].__setitem__(3, -1)),
    "a single edge": _edit(lambda s: _nll(s).update(edges=[1.0], fractions={k: [] for k in _nll(s)["fractions"]})),
    "an infinite edge": _edit(lambda s: _nll(s)["edges"].__setitem__(-1, float("inf"))),
    "edges as a table": _edit(lambda s: _nll(s).update(edges=[_nll(s)["edges"]] * 2)),
    "histogram of other sets": _edit(lambda s: _nll(s).update(fractions={"x": v for v in _nll(s)["fractions"].values()})),
    "fractions as a list": _edit(lambda s: _nll(s).update(fractions=sorted(_nll(s)["fractions"]))),
    "a fraction short": _edit(lambda s: _nll(s)["fractions"]["MNIST test"].pop()),
    "a negative fraction": _edit(lambda s: _nll(s)["fractions"]["MNIST test"].__setitem__(0, -0.5)),
    "a NaN fraction": _edit(lambda s: _nll(s)["fractions"]["MNIST test"].__setitem__(0, float("nan"))),
    "a NaN median": _edit(lambda s: s["sets"][0].update(median_nll=float("nan"))),
    "a median past float": _edit(lambda s: s["sets"][0].update(median_elbo=10**400)),
}
READ_EACH = """
import json, sys
from training.errors import UserError
from training.ood import read_ood
assert sys.flags.optimize and not __debug__
verdicts = {}
for name, folder in json.loads(sys.argv[1]).items():
    try:
        read_ood(folder)
        verdicts[name] = "accepted"
    except UserError:
        verdicts[name] = "refused"
print(json.dumps(verdicts))
"""


def test_every_damaged_ood_file_is_refused_even_with_asserts_stripped(tmp_path):
    folders = {}
    for i, (name, damage) in enumerate(DAMAGED_OOD.items()):
        folders[name] = tmp_path / str(i)
        folders[name].mkdir()
        (folders[name] / OOD_FILE).write_text(json.dumps(damage(_ood_summary())))
        with pytest.raises(UserError, match="ood.json is damaged"):
            read_ood(folders[name])
    (tmp_path / "whole").mkdir()
    (tmp_path / "whole" / OOD_FILE).write_text(json.dumps(_ood_summary()))
    folders["whole"] = tmp_path / "whole"
    done = subprocess.run([sys.executable, "-O", "-c", READ_EACH, json.dumps({k: str(v) for k, v in folders.items()})],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {**{name: "refused" for name in DAMAGED_OOD}, "whole": "accepted"}


def test_an_ood_file_nested_past_the_parser_stack_is_refused(tmp_path):
    (tmp_path / OOD_FILE).write_text("[" * 100_000)
    with pytest.raises(UserError, match="ood.json is damaged"):
        read_ood(tmp_path)


def test_auroc_and_the_finding_say_which_way_the_model_leans():
    inside, outside = np.arange(100.0, 200.0), np.arange(300.0, 400.0)
    assert auroc(inside, outside) == 1.0 and auroc(outside, inside) == 0.0 and auroc(inside, inside) == 0.5
    sets = {"Fashion-MNIST test": {"score_nll": np.full(50, 240.0), "score_elbo": np.full(50, 245.0)},
            "MNIST test": {"score_nll": np.full(50, 200.0), "score_elbo": np.full(50, 210.0)},
            "blank (Fashion-MNIST)": {"score_nll": np.full(5, 27.0), "score_elbo": np.full(5, 29.0)}}
    text = finding(summarise("Fashion-MNIST test", sets, 8))
    assert "lower −log p(x)" in text and "median 200 vs 240" in text and "surprise of Nalisnick et al. (2019) holds" in text
    assert "A blank image scores 27 nats, more likely" in text
    sets["MNIST test"] = {"score_nll": np.full(50, 300.0), "score_elbo": np.full(50, 310.0)}
    assert "does not happen here" in finding(summarise("Fashion-MNIST test", sets, 8))


def test_ranking_percentile_and_colour_range_are_the_atlas_order():
    values = torch.tensor([5.0, 1.0, 9.0, 3.0, 9.0, 0.5])
    atlas = {"score_elbo": values, "labels": torch.tensor([0, 1, 0, 1, 0, 1])}
    assert likelihood.ranked(atlas, "score_elbo", "hardest", n=3).tolist() == [2, 4, 0]  # ties by index
    assert likelihood.ranked(atlas, "score_elbo", "easiest", label=1, n=2).tolist() == [5, 1]
    assert likelihood.percentile(atlas, "score_elbo", 4.0) == pytest.approx(50.0)
    assert likelihood.score_key("−log p(x)") == "score_nll" == likelihood.score_key("nll")
    with pytest.raises(UserError):
        likelihood.score_key("<b>x</b>")
    low, high = likelihood.colour_range(np.arange(1000.0))
    assert low == pytest.approx(9.99) and high == pytest.approx(989.01)


def test_the_api_ranks_scores_colours_and_summarises(trained_checkpoint, test_split):
    library = checkpoint_library.CheckpointLibrary(trained_checkpoint.parent)
    views = page_views(library, test_sets.TestSets.of(test_sets.TestImages(test_split)))
    cb, latent_map = views.tab("likelihood"), views.tab("map")
    name = trained_checkpoint.name
    atlas = library.get(name).atlas
    ranked = cb.ranking(name, "hardest", "KL", "any", 5)
    assert [r["index"] for r in ranked] == likelihood.ranked(atlas, "score_kl", "hardest", n=5).tolist()
    assert [r["KL"] for r in ranked] == pytest.approx(sorted((float(v) for v in atlas["score_kl"]), reverse=True)[:5], abs=1e-3)
    assert all(r["class"] in describe.checkpoint_classes(library.get(name)) for r in ranked)
    one = cb.image_scores(name, 7)
    assert one["−ELBO"] == pytest.approx(float(atlas["score_elbo"][7]), abs=1e-3) and 0 <= one["percentile"] <= 100
    assert cb.ood(name)["finding"]
    figure = latent_map.latent_map(name, "PCA", None, "−ELBO")
    assert figure.data[0].marker.showscale and figure.data[0].marker.colorbar.title.text == "−ELBO (nats)"
    with pytest.raises(UserError):
        cb.ranking(name, "hardest", "−ELBO", "11")
    image, caption = cb.gallery_image(name, "easiest", "−ELBO", "any")
    assert image.size[0] > 28 * 12 and caption.startswith("The easiest by")


def test_an_upload_is_scored_with_its_percentile(trained_checkpoint, test_split, tmp_path):
    from PIL import Image

    library = checkpoint_library.CheckpointLibrary(trained_checkpoint.parent)
    reconstructions = page_views(library, test_sets.TestSets.of(test_sets.TestImages(test_split))).tab("reconstructions")
    path = tmp_path / "digit.png"
    Image.fromarray(test_split.images[3].numpy()).save(path)
    message = reconstructions.reconstruct_upload(trained_checkpoint.name, str(path))[2]
    assert "−ELBO" in message and "more unusual than" in message and "% of the" in message


@pytest.mark.parametrize("params, expected", [
    ({"rank": "easiest", "score": "kl", "class": "3"}, ("easiest", "score_kl", 3, "likelihood")),
    ({"rank": "hardest"}, ("hardest", "score_elbo", None, "likelihood")),
    ({"rank": "<script>", "score": "elbo"}, (None, None, None, None)),
    ({"class": "12"}, (None, None, None, None)),
])
def test_a_link_to_the_gallery_is_checked(params, expected):
    link = deep_links.parse_view_link(params, ["default"])
    assert (link.rank, link.rank_score, link.rank_class, link.tab) == expected
    assert (not link.notices) == (expected[0] is not None)
    assert "<script>" not in " ".join(link.notices)
