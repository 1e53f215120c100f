"""Links that open a view: `?checkpoint=NAME&tab=sliders&z=0.5,-1.2,…`, `?tab=map&point=123`, `?compare=a,b`,
`?tab=timeline&step=40` (the timeline's snapshot at or before that optimizer step), `?tab=likelihood&rank=hardest&score=elbo&class=3`
(the ranked gallery),
`?tab=map&sel=…&dir_a=…&dir_b=…` (a map selection and an attribute direction's two ends: each a bitset of the test
images, base64url).

The query string is untrusted: every parameter is checked against what exists (checkpoint names, tab ids, the
checkpoint's z_dim and test-set size); anything wrong becomes a notice that names the parameter (never echoes its
value) and the view falls back to the default. Nothing from the URL is used as a path or as HTML.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .lessons import LESSONS

TABS = ("reconstructions", "sample", "sliders", "traversals", "map", "manifold", "interpolate", "likelihood", "timeline",
        "compare", "lessons", "train", "checkpoint")
RANKS = ("hardest", "easiest")  # explorer/likelihood.py RANKS
RANK_SCORES = ("elbo", "recon", "kl", "nll")  # the atlas's score_* keys (training/scores.py)
SELECTIONS = ("sel", "dir_a", "dir_b")  # the map's selection and a direction's two ends (web/map_instrument.js)
MAX_SELECTION_POINTS = 100_000  # training.checkpoint.MAX_ATLAS_POINTS
MAX_QUERY_CHARS = 20_000  # z for 1,024 dimensions at 2 decimals fits in ≈ 6,000
Z_LIMIT = 3.0  # the sliders' range


@dataclass
class ViewLink:
    """What a link asks for, already validated; `notices` says what was dropped and why."""

    checkpoint: str | None = None
    tab: str | None = None
    z: list[float] | None = None
    point: int | None = None
    step: int | None = None
    compare: list[str] | None = None
    lesson: str | None = None  # explorer/lessons.py LESSONS
    rank: str | None = None
    rank_score: str | None = None  # an atlas key, score_elbo…
    rank_class: int | None = None
    selections: dict[str, list[int]] = field(default_factory=dict)  # "sel", "dir_a", "dir_b" → test-image indices
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"checkpoint": self.checkpoint, "tab": self.tab, "z": self.z, "point": self.point, "compare": self.compare,
                "lesson": self.lesson, "step": self.step, "rank": self.rank, "rank_score": self.rank_score, "rank_class": self.rank_class,
                "selections": self.selections}


def _one(params, key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return value if isinstance(value, str) else None


def parse_view_link(params, names: list[str], query_chars: int = 0) -> ViewLink:
    """Check a URL's query parameters (a mapping of str → str) against the checkpoints that exist."""
    link = ViewLink()
    if query_chars > MAX_QUERY_CHARS:
        link.notices.append(f"The link is longer than {MAX_QUERY_CHARS:,} characters; the default view is shown.")
        return link
    checkpoint = _one(params, "checkpoint")
    if checkpoint is not None:
        if checkpoint in names:
            link.checkpoint = checkpoint
        else:
            link.notices.append("The link's checkpoint does not exist here; the default checkpoint is shown.")
    tab = _one(params, "tab")
    if tab is not None:
        if tab in TABS:
            link.tab = tab
        else:
            link.notices.append(f"The link's tab is not one of {', '.join(TABS)}.")
    z = _one(params, "z")
    if z is not None:
        link.z = _parse_z(z, link.notices)
        if link.z is not None and link.tab is None:
            link.tab = "sliders"
    link.point = _whole(params, "point", link.notices, "The link's point is not a test-image index.")
    if link.point is not None:
        link.tab = link.tab or "map"
    link.step = _whole(params, "step", link.notices, "The link's step is not an optimizer step (a whole number).")
    if link.step is not None:
        link.tab = link.tab or "timeline"
    _parse_ranking(params, link)
    for key in SELECTIONS:
        bits = _one(params, key)
        if bits is not None:
            indices = selection_from_bits(bits)
            if indices is None:
                link.notices.append(f"The link's {key} is not a selection of test images (base64url bits).")
            else:
                link.selections[key] = indices
                link.tab = link.tab or "map"
    compare = _one(params, "compare")
    if compare is not None:
        chosen = list(dict.fromkeys(c for c in compare.split(",") if c))
        if 2 <= len(chosen) <= 4 and all(c in names for c in chosen):
            link.compare = chosen
            link.tab = link.tab or "compare"
        else:
            link.notices.append("The link's compare list must name 2–4 checkpoints that exist here.")
    lesson = _one(params, "lesson")
    if lesson is not None:
        if lesson in LESSONS:
            link.lesson = lesson
            link.tab = link.tab or "lessons"
        else:
            link.notices.append(f"The link's lesson is not one of {', '.join(LESSONS)}.")
    return link


def _whole(params, key: str, notices: list[str], refusal: str) -> int | None:
    """A parameter that is a whole number ≥ 0 of at most 9 digits; anything else is noted (`refusal`) and dropped."""
    value = _one(params, key)
    if value is None:
        return None
    if value.isdigit() and len(value) <= 9:
        return int(value)
    notices.append(refusal)
    return None


def _parse_z(text: str, notices: list[str]) -> list[float] | None:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        notices.append("The link's z is not a list of numbers.")
        return None
    if not all(math.isfinite(v) and abs(v) <= Z_LIMIT for v in values):
        notices.append(f"The link's z has values outside −{Z_LIMIT:g}…{Z_LIMIT:g}.")
        return None
    return values


def fit_to_checkpoint(link: ViewLink, z_dim: int, n_points: int) -> ViewLink:
    """Drop what does not fit the checkpoint that opened: a z of the wrong length, a point past the test set."""
    if link.z is not None and len(link.z) != z_dim:
        link.notices.append(f"The link's z has {len(link.z)} values; this checkpoint has {z_dim} latent dimensions.")
        link.z = None
    if link.point is not None and not 0 <= link.point < n_points:
        link.notices.append(f"The link's point is past the {n_points:,} test images.")
        link.point = None
    for key, indices in list(link.selections.items()):
        if indices and indices[-1] >= n_points:
            link.notices.append(f"The link's {key} names images past the {n_points:,} test images.")
            del link.selections[key]
    return link


def _parse_ranking(params, link: ViewLink) -> None:
    """The Likelihood tab's gallery: rank (hardest/easiest), score (elbo/recon/kl/nll) and class (0–9)."""
    rank, score = _one(params, "rank"), _one(params, "score")
    label = _whole(params, "class", link.notices, "The link's class is not a class index (0–9).")
    if rank is None and score is None and label is None:
        return
    if rank not in (None, *RANKS) or score not in (None, *RANK_SCORES) or (label is not None and not 0 <= label <= 9):
        link.notices.append(f"The link's gallery must be rank={'/'.join(RANKS)}, score={'/'.join(RANK_SCORES)}, class=0–9.")
        return
    link.rank, link.rank_score, link.rank_class = rank or "hardest", f"score_{score or 'elbo'}", label
    link.tab = link.tab or "likelihood"


def selection_from_bits(text: str) -> list[int] | None:
    """Test-image indices from a base64url bitset (bit i of byte i // 8, lowest bit first), or None if it is not one."""
    import base64
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,%d}" % (-(-MAX_SELECTION_POINTS // 6)), text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    return [8 * k + b for k, byte in enumerate(data) for b in range(8) if byte >> b & 1]
