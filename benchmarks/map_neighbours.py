"""`python -m benchmarks.map_neighbours`: how far each shipped checkpoint's 2-D maps keep a test image's neighbours —
of its 10 nearest test images in the latent space, how many are among its 10 nearest on the map (explorer/neighbours.py,
the number the Latent map tab shows for a clicked point), averaged over 1,000 random test images → benchmarks/results-map.md."""
from __future__ import annotations

import datetime
import time
from pathlib import Path

from explorer import atlas_maps
from explorer.neighbours import mean_agreement
from training.checkpoint import load_checkpoint

from .__main__ import cpu_flags, cpu_name, table, write_results

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "results-map.md"


def main() -> int:
    rows = []
    started = time.perf_counter()
    for name in ("default", "fashion-mnist", "mnist-beta4", "mnist-z2"):
        atlas = load_checkpoint(ROOT / "checkpoints" / name, check_onnx=False).atlas
        means = atlas["means"].numpy()
        for method in atlas_maps.map_methods(atlas):
            rows.append([name, means.shape[1], method, f"{mean_agreement(means, atlas_maps.map_coordinates(atlas, method)):.2f}"])
    lines = ["# The 2-D maps against the latent space", "",
             f"{datetime.date.today()} · {cpu_name()} · {cpu_flags()} · `python -m benchmarks.map_neighbours` · "
             f"{time.perf_counter() - started:.0f} s", "",
             "Of a test image's 10 nearest test images by posterior mean (the latent space), how many are also among its "
             "10 nearest on the map; mean over 1,000 random test images (10 = the map keeps every neighbour).", "",
             *table(["checkpoint", "z_dim", "map", "latent neighbours kept (of 10)"], rows)]
    return write_results(lines, OUT)


if __name__ == "__main__":
    raise SystemExit(main())
