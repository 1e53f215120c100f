"""Plotly figures and image grids: how the explorer draws digits, the latent map and posterior widths."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

DIGIT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def image_grid(images: np.ndarray, ncols: int, scale: int = 4, pad: int = 2) -> np.ndarray:
    """uint8 digits (N, 28, 28) → one uint8 picture, ncols per row, enlarged `scale`× with a grey gutter."""
    images = np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28)
    n = len(images)
    nrows = max(1, -(-n // ncols))
    cell = 28 * scale + pad
    grid = np.full((nrows * cell + pad, ncols * cell + pad), 96, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        big = np.kron(img, np.ones((scale, scale), dtype=np.uint8))
        grid[pad + r * cell : pad + r * cell + 28 * scale, pad + c * cell : pad + c * cell + 28 * scale] = big
    return grid


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


def latent_map(coords: np.ndarray, labels: np.ndarray, method: str, marker: np.ndarray | None = None) -> go.Figure:
    """WebGL scatter of the encoded test set, one trace per digit (so the legend toggles digits), customdata = index."""
    fig = go.Figure()
    indices = np.arange(len(labels))
    for digit in range(10):
        keep = labels == digit
        fig.add_trace(go.Scattergl(
            x=coords[keep, 0], y=coords[keep, 1], mode="markers", name=str(digit),
            marker=dict(size=4, color=DIGIT_COLOURS[digit], opacity=0.7),
            customdata=np.stack([indices[keep], labels[keep]], axis=1),
            hovertemplate="digit %{customdata[1]} · test image #%{customdata[0]}<extra></extra>",
        ))
    if marker is not None:
        fig.add_trace(go.Scatter(
            x=[marker[0]], y=[marker[1]], mode="markers", name="your digit",
            marker=dict(size=18, symbol="star", color="black", line=dict(color="white", width=2)),
            hovertemplate="your digit<extra></extra>",
        ))
    fig.update_layout(
        title=f"Encoded means of the MNIST test set ({method})", height=560, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(title="digit", itemsizing="constant"), xaxis=dict(showticklabels=False), yaxis=dict(showticklabels=False),
        clickmode="event", dragmode="pan",
    )
    return fig


def posterior_widths(stds: np.ndarray, inactive: list[bool]) -> go.Figure:
    """Bar chart of q(z|x)'s std per latent dimension; unused dimensions (std ≈ 1, KL ≈ 0) in grey."""
    colours = ["#bbbbbb" if (i < len(inactive) and inactive[i]) else "#1f77b4" for i in range(len(stds))]
    fig = go.Figure(go.Bar(x=list(range(len(stds))), y=stds, marker_color=colours, hovertemplate="z%{x}: σ = %{y:.3f}<extra></extra>"))
    fig.update_layout(
        title="Posterior std per latent dimension (grey: unused by the model)", height=260,
        margin=dict(l=10, r=10, t=40, b=10), xaxis_title="latent dimension", yaxis_title="σ", yaxis_range=[0, 1.1],
    )
    return fig
