"""Plotly figures and image grids: how the explorer draws digits, the latent map and posterior widths."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from training.grid import image_grid  # the one grid helper; the trainer's samples.png uses it too
from training.safe_text import plotly

SCORE_COLOURSCALE = "Viridis"  # explorer/web/map.js uses the same
CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def pairs_grid(originals: np.ndarray, reconstructions: np.ndarray, ncols: int = 8, scale: int = 3) -> np.ndarray:
    """Rows of originals, each followed by the row of their reconstructions."""
    rows = []
    for start in range(0, len(originals), ncols):
        rows += [originals[start : start + ncols], reconstructions[start : start + ncols]]
        pad = ncols - len(rows[-1])
        if pad:
            blank = np.zeros((pad, 28, 28), dtype=np.uint8)
            rows[-2], rows[-1] = np.concatenate([rows[-2], blank]), np.concatenate([rows[-1], blank])
    return image_grid(np.concatenate(rows), ncols, scale)


def latent_map(coords: np.ndarray, labels: np.ndarray, method: str, marker: np.ndarray | None = None,
               class_names: list[str] | None = None, dataset: str = "MNIST",
               colour: tuple[str, np.ndarray, tuple[float, float]] | None = None) -> go.Figure:
    """WebGL scatter of the encoded test set, one trace per class (so the legend toggles classes), customdata = index,
    label. `colour` = (name, values, range) colours the points by a score on one continuous scale instead of by class
    (explorer/web/map.js does the same in the page, and adds each image's scores to the hover there: in every map
    response they would triple its size — 50 concurrent uploads measured 33–65 MiB more server memory).

    Class names and the data set's title may come from a checkpoint's files: they are escaped for plotly."""
    names = [plotly(n) for n in class_names or [str(d) for d in range(10)]]
    fig = go.Figure()
    indices = np.arange(len(labels))
    for label, name in enumerate(names):
        keep = labels == label
        style = dict(size=4, color=CLASS_COLOURS[label % len(CLASS_COLOURS)], opacity=0.7)
        if colour is not None:
            title, values, (low, high) = colour
            style.update(color=values[keep], colorscale=SCORE_COLOURSCALE, cmin=low, cmax=high, showscale=label == 0,
                         colorbar=dict(title=dict(text=f"{plotly(title)} (nats)"), thickness=14))
        fig.add_trace(go.Scattergl(
            x=coords[keep, 0], y=coords[keep, 1], mode="markers", name=name, marker=style,
            customdata=np.stack([indices[keep], labels[keep]], axis=1),
            hovertemplate=f"{name} · test image #%{{customdata[0]}}<extra></extra>",
        ))
    if marker is not None:
        fig.add_trace(go.Scatter(
            x=[marker[0]], y=[marker[1]], mode="markers", name="your image",
            marker=dict(size=18, symbol="star", color="black", line=dict(color="white", width=2)),
            hovertemplate="your image<extra></extra>",
        ))
    plane = method.startswith("Latent")
    fig.update_layout(
        title=f"Encoded means of the {plotly(dataset)} test set ({method})", height=560, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(title="class", itemsizing="constant", x=1.12 if colour is not None else 1.02),
        xaxis=dict(showticklabels=plane, title="z₀" if plane else None),
        yaxis=dict(showticklabels=plane, title="z₁" if plane else None), clickmode="event", dragmode="pan",
    )
    return fig


def posterior_widths(stds: np.ndarray, active: list[bool]) -> go.Figure:
    """Bar chart of q(z|x)'s std per latent dimension; inactive dimensions (std ≈ 1, KL ≈ 0) in grey."""
    colours = [_dimension_colour(active, i) for i in range(len(stds))]
    fig = go.Figure(go.Bar(x=list(range(len(stds))), y=stds, marker_color=colours, hovertemplate="z%{x}: σ = %{y:.3f}<extra></extra>"))
    fig.update_layout(
        title="Posterior std per latent dimension (grey: inactive)", height=260,
        margin=dict(l=10, r=10, t=40, b=10), xaxis_title="latent dimension", yaxis_title="σ", yaxis_range=[0, 1.1],
    )
    return fig


def _dimension_colour(active: list[bool], i: int) -> str:
    return "#1f77b4" if i < len(active) and active[i] else "#bbbbbb"


def kl_bars(kl: list[float], active: list[bool], order: list[int], title: str = "KL per latent dimension") -> go.Figure:
    """The test set's mean KL(q(z_d|x) ‖ N(0, 1)) per dimension, in display order; inactive dimensions in grey."""
    fig = go.Figure(go.Bar(
        x=[f"z{d}" for d in order], y=[kl[d] for d in order], marker_color=[_dimension_colour(active, d) for d in order],
        hovertemplate="%{x}: KL = %{y:.3f} nats<extra></extra>",
    ))
    fig.update_layout(title=f"{title} (grey: inactive, Cov(E[z]) ≤ 0.01)", height=260, margin=dict(l=10, r=10, t=40, b=10),
                      yaxis_title="nats", xaxis=dict(type="category"))
    return fig


def kl_bars_compared(rows: list[tuple[str, list[float], list[bool]]]) -> go.Figure:
    """Each checkpoint's KL per dimension sorted from largest to smallest, grouped side by side (rank on the x axis)."""
    fig = go.Figure()
    for name, kl, active in rows:
        name = plotly(name)
        ranked = sorted(range(len(kl)), key=lambda d: -kl[d])
        fig.add_trace(go.Bar(
            x=list(range(1, len(kl) + 1)), y=[kl[d] for d in ranked], name=f"{name} ({sum(active)} active)",
            customdata=[f"z{d}" for d in ranked], hovertemplate=f"{name} · %{{customdata}}: %{{y:.3f}} nats<extra></extra>",
        ))
    fig.update_layout(title="KL per latent dimension, largest first", barmode="group", height=300,
                      margin=dict(l=10, r=10, t=40, b=10), xaxis_title="rank", yaxis_title="nats")
    return fig


def maps_compared(panels: list[tuple[str, np.ndarray, np.ndarray, list[str]]], points: int = 3000) -> go.Figure:
    """Small multiples: each checkpoint's map (first `points` test images), coloured by class, one legend."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[plotly(title, 80) for title, *_ in panels])
    shown: set[str] = set()
    for col, (_, coords, labels, names) in enumerate(panels, start=1):
        coords, labels = coords[:points], labels[:points]
        for label, name in enumerate(plotly(n) for n in names):
            keep = labels == label
            fig.add_trace(go.Scattergl(
                x=coords[keep, 0], y=coords[keep, 1], mode="markers", name=name, legendgroup=name,
                showlegend=name not in shown, marker=dict(size=3, color=CLASS_COLOURS[label % len(CLASS_COLOURS)], opacity=0.7),
                hovertemplate=f"{name}<extra></extra>",
            ), row=1, col=col)
            shown.add(name)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), legend=dict(itemsizing="constant"))
    return fig


def points_over_grid(grid: np.ndarray, coords: np.ndarray, labels: np.ndarray, extent: float, cell: int, pad: int) -> np.ndarray:
    """An RGB copy of a manifold picture with each (z₀, z₁) drawn as a 3×3 dot in its class colour.

    The picture is an image_grid of size×size digits covering [-extent, extent]², top row at z₁ = +extent; a code's
    position is interpolated between the centres of the first and last cells.
    """
    rgb = np.repeat(grid[..., None], 3, axis=2)
    size = (grid.shape[0] - pad) // cell
    first = pad + (cell - pad) / 2  # centre of the first digit; the last one's is (size − 1) cells further
    last = first + (size - 1) * cell
    scale = (last - first) / (2 * extent)
    xs = np.round(first + (coords[:, 0] + extent) * scale).astype(int)
    ys = np.round(first + (extent - coords[:, 1]) * scale).astype(int)
    inside = (xs >= 1) & (ys >= 1) & (xs < rgb.shape[1] - 1) & (ys < rgb.shape[0] - 1)
    colours = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in CLASS_COLOURS], dtype=np.uint8)
    for x, y, label in zip(xs[inside], ys[inside], labels[inside]):
        rgb[y - 1:y + 2, x - 1:x + 2] = colours[label % len(colours)]
    return rgb
