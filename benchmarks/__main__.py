"""`python -m benchmarks`: training speed and quality against the lab loop, scaling, app latency, memory and load
→ benchmarks/results.md (the table the README shows)."""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from training.data import load_split

from . import app_speed, browser_speed, training_speed
from .allocator_effect import allocator_effect
from .app_server import load_test, rss_mib, running_app

RESULTS = Path(__file__).resolve().parent / "results.md"
ROOT = Path(__file__).resolve().parent.parent


def cpuinfo_field(name: str) -> str | None:
    """One field of /proc/cpuinfo's first processor, or None where there is no such file or field."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((l.split(":", 1)[1].strip() for l in lines if l.startswith(name)), None)


def cpu_name() -> str:
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def training_section(train_split, test_split, checkpoint: Path, quick: bool, quality_epochs: int, data_dir: str) -> list[str]:
    from training.train import bf16_supported

    n_batches, rounds, batch = (1, 1, 256) if quick else (8, 3, 1024)
    bf16_native = bf16_supported(torch.device("cpu"))
    levers = training_speed.probed_levers(train_split, batch)
    variants, skipped = training_speed.native_variants(training_speed.VARIANTS, bf16_native)
    speeds = training_speed.throughput(train_split, n_batches, rounds, training_speed.with_default(variants, levers), batch)
    lab = speeds[0][1]
    default_ips = speeds[-2][1]
    lines = [f"### Training step (batch {batch}, median of {rounds} interleaved rounds of {n_batches} batches)", ""]
    lines += table(["variant", "images/s", "× lab"], [[v.name, f"{ips:,.0f}", f"{ips / lab:.2f}"] for v, ips in speeds])
    if skipped:
        lines += ["", f"Not run on this CPU (bfloat16 is emulated here, not native): {'; '.join(skipped)}."]
    if quick:  # two fresh processes cost more than the rest of a quick run on a slow CPU (tests/test_benchmarks.py)
        kept_ips = float("nan")
        lines += ["", "The rows above run on glibc's default malloc, like the lab's script; the allocator lever "
                  "(training/allocator.py) is measured in full runs only."]
    else:
        plain_ips, kept_ips = allocator_effect(data_dir, {**levers, "batch_size": batch}, n_batches=8, rounds=3)
        lines += ["", f"The rows above run on glibc's default malloc, like the lab's script. `python -m training` also "
                  f"keeps freed memory for reuse (training/allocator.py): the default step in fresh processes, "
                  f"{plain_ips:,.0f} → **{kept_ips:,.0f} images/s** ({kept_ips / plain_ips - 1:+.0%}; median of 3 "
                  f"interleaved rounds)."]
    dtype = torch.bfloat16 if levers["bf16"] else torch.float32
    size = 1024 if quick else 2048
    peak = training_speed.matmul_peak_gflops(dtype, size=size)
    flops_per_image = training_speed.step_flops(batch) / batch
    achieved, kept = flops_per_image * default_ips / 1e9, flops_per_image * kept_ips / 1e9
    lines += ["", f"Default step: **{achieved:,.0f} GFLOP/s** (forward + backward, counted by FlopCounterMode) = "
              f"**{achieved / peak:.0%}** of this CPU's measured {str(dtype).split('.')[-1]} matmul peak "
              f"({peak:,.0f} GFLOP/s, {size}² on {torch.get_num_threads()} threads, same run)"
              + ("." if quick else f"; with freed memory kept, as `python -m training` runs it: {kept:,.0f} GFLOP/s = "
                                   f"**{kept / peak:.0%}**.")]
    if not quick:
        e2e = training_speed.end_to_end_epoch(data_dir, Path(tempfile.mkdtemp()) / "e2e")
        lines += ["", f"One epoch end to end (command → exit, imports and data included; median of 3 interleaved rounds): "
                  f"lab loop **{e2e.lab_s:.1f} s**, `python -m training --epochs 1 --no-tsne --no-iwae` **{e2e.ours_s:.1f} s**"
                  f" = **{e2e.lab_s / e2e.ours_s:.2f}×** (step only: {default_ips / lab:.2f}×). Ours, in its median run: start-up to the first "
                  f"step {e2e.start_up_s:.1f} s, epoch {e2e.epoch_s:.1f} s (its lever probe cost {e2e.probe_lost_s:.1f} s), "
                  f"test-set evaluation, atlas, checkpoint and exit {e2e.rest_s:.1f} s. The first run on a machine also "
                  f"exports the ONNX graphs into its cache: {e2e.ours_cold_s:.1f} s = {e2e.lab_s / e2e.ours_cold_s:.2f}×."]
    q = training_speed.quality(train_split, test_split, quality_epochs, levers)
    lines += ["", f"### Quality after {quality_epochs} epochs, seed 0 (test set, nats per image)", ""]
    lines += table(["trainer", "−ELBO", "recon", "KL"],
                   [[name, f"{r['total']:.2f}", f"{r['recon']:.2f}", f"{r['kl']:.2f}"] for name, r in q.items()])
    n, k = (20, 50) if quick else (500, 1000)
    nll, elbo = training_speed.iwae(checkpoint, test_split, n, k)
    lines += ["", f"Shipped checkpoint, first {n} test images: −ELBO {elbo:.2f} nats; importance-weighted (IWAE) bound with "
              f"k = {k} samples: −log p(x) ≤ **{nll:.2f}** nats."]
    batch_sizes, z_dims = ((256, 1024), (8,)) if quick else ((256, 512, 1024, 2048), (8, 32, 128))
    rows = training_speed.step_scaling(train_split, 2 if quick else 6, batch_sizes, z_dims, levers)
    lines += ["", "### Scaling of the default step (epoch = 60,000 images)", ""]
    lines += table(["batch size", "z_dim", "images/s", "epoch (s)"],
                   [[bs, z, f"{ips:,.0f}", f"{60_000 / ips:.1f}"] for bs, z, ips in rows])
    sizes = (100, 300) if quick else (1000, 2500, 5000, 10_000)
    rows = training_speed.atlas_scaling(checkpoint, test_split.images, sizes)
    lines += ["", "### Atlas (the explorer's map) vs number of test points", ""]
    lines += table(["points", "encode (s)", "PCA (s)", "t-SNE (s)"],
                   [[f"{n:,}", f"{e:.2f}", f"{p:.2f}", f"{t:.1f}"] for n, e, p, t in rows])
    return lines


def app_section(checkpoint: Path, data_dir: str, quick: bool) -> list[str]:
    calls = 20 if quick else 300
    s = app_speed.server_side(checkpoint, calls)
    rows = [["slider decode, server side", f"{s['decode'][0]:.1f}", f"{s['decode'][1]:.1f}"],
            ["upload reconstruction, server side", f"{s['upload'][0]:.1f}", f"{s['upload'][1]:.1f}"]]
    lines = ["", "### App", ""]
    if quick:
        return lines + table(["request (ms)", "p50", "p95"], rows)
    from tests.helpers import free_port

    import json

    browser = None
    with running_app(checkpoint, data_dir, free_port()) as app, tempfile.TemporaryDirectory() as tmp:
        idle = rss_mib(app.pid)
        http = app_speed.http_decode(app, checkpoint.name, calls)
        rows.append(["slider decode through HTTP + queue + image download, one user", f"{http[0]:.1f}", f"{http[1]:.1f}"])
        photo = app_speed.digit_photo(Path(tmp) / "digit.png")
        run_load = lambda: load_test(app, checkpoint.name, photo, clients=50, requests_per_client=40)  # noqa: E731
        if browser_speed.chromium_available():
            dims = browser_speed.active_dimensions(json.loads((checkpoint / "metrics.json").read_text()))
            browser = browser_speed.measure(app.url, dims, moves=200, load=run_load)
            load = browser["load"]
        else:
            load = run_load()
    lines += table(["request (ms)", "p50", "p95"], rows)
    lines += browser_lines(browser)
    lines += ["", f"`python -m explorer` to first served page: **{app.startup_s:.1f} s**; "
              f"resident memory when idle: **{idle:.0f} MiB**."]
    settled = next(rss for done, rss in load.rss_mib if done >= load.requests // 4)
    lines += ["", f"### Load: {load.clients} concurrent clients on 127.0.0.1, {load.requests:,} requests "
              "(decode, map click, test reconstructions, upload)", ""]
    lines += table(["request", "count", "p50 (ms)", "p95 (ms)"],
                   [[kind, len(v), *(f"{x:.0f}" for x in load.percentiles_ms(kind))] for kind, v in load.latencies.items()]
                   + [["all", load.requests, *(f"{x:.0f}" for x in load.percentiles_ms())]])
    lines += ["", f"{len(load.errors)} errors; {load.requests / load.wall_s:.1f} requests/s over {load.wall_s:.0f} s; "
              f"server memory {load.rss_mib[0][1]:.0f} MiB at the start, {settled:.0f} MiB after a quarter of the "
              f"requests, {load.rss_mib[-1][1]:.0f} MiB at the end."]
    lines += [f"- {e}" for e in load.errors[:5]]
    return lines


def browser_lines(m: dict | None) -> list[str]:
    """The visitor's view: in-page timings in headless Chromium, before (server path) and after (model in the page)."""
    if m is None:
        return ["", "### In the browser", "", "Skipped: Debian's chromium is not installed (`apt-get install chromium`)."]
    ms = lambda t: " / ".join(f"{x:.1f}" for x in browser_speed.percentiles(t))  # noqa: E731
    mib = lambda b: f"{sum(b.values()) / 2**20:.2f} MiB (" + ", ".join(f"{k} {v / 2**20:.2f}" for k, v in sorted(b.items())) + ")"  # noqa: E731
    lines = ["", "### In the browser (headless Chromium, in-page `performance.now()` from the input event to new pixels)", ""]
    lines += table(["interaction (ms)", "moves", "p50 / p95 / max"], [
        ["slider → image, server path (before: WebAssembly removed, Gradio queue + image download)", len(m["server_slider_ms"]), ms(m["server_slider_ms"])],
        ["slider → image + 8 nearest digits, model in the page", len(m["slider_ms"]), ms(m["slider_ms"])],
        ["the same while 50 API clients load the server", len(m["slider_under_load_ms"]), ms(m["slider_under_load_ms"])],
        ["slider input event → new pixels on the canvas (polled between tasks, a mouse drag)", len(m["slider_pixels_ms"]), ms(m["slider_pixels_ms"])],
        ["drawing stroke → MNIST form → encoder → decoder → canvas, ★ placed", len(m["stroke_ms"]), ms(m["stroke_ms"])],
    ])
    lines += ["", f"Requests to the server during {len(m['slider_ms'])} slider moves: **{m['slider_requests']}**.",
              f"First visit (empty cache): model running after **{m['first_visit_s']:.2f} s**, {mib(m['first_visit_bytes'])}.",
              f"Repeat visit (browser cache): model running after **{m['repeat_visit_s']:.2f} s**, {mib(m['repeat_visit_bytes'])}."]
    return lines


# Environment variables that make torch's kernels (ATen, oneDNN, MKL) use fewer instruction sets than the CPU has: how
# an AVX2-only machine's code paths are tried on a newer CPU (README, Benchmarks: the per-CPU table)
ISA_CAPS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def cpu_flags() -> str:
    """The CPU features that decide which kernels run (bf16, AVX-512, AVX2)."""
    flags = cpuinfo_field("flags")
    if flags is None:
        return "flags unknown"
    flags = flags.split()
    found = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags) or "no avx2"
    caps = [f"{name}={os.environ[name]}" for name in ISA_CAPS if os.environ.get(name)]
    return found + (f"; instruction sets capped by {', '.join(caps)}" if caps else "")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--data-dir", default="../shared/mnist", help="torchvision MNIST folder (train and test)")
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "default"))
    p.add_argument("--quick", action="store_true", help="synthetic data, tiny sizes: checks the harness in < 1 min")
    p.add_argument("--quality-epochs", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS))
    only = p.add_mutually_exclusive_group()
    only.add_argument("--only-app", action="store_true", help="skip the training benchmarks (app, browser and load only)")
    only.add_argument("--only-training", action="store_true", help="skip the app, browser and load benchmarks")
    args = p.parse_args(argv)
    started = time.perf_counter()
    if args.quick:
        from tests.helpers import synthetic_digits

        train_split, test_split, epochs = synthetic_digits(3072, 1), synthetic_digits(500, 2), 1
    else:
        train_split, test_split = load_split(args.data_dir, True), load_split(args.data_dir, False)
        epochs = args.quality_epochs
    checkpoint = Path(args.checkpoint)
    lines = [f"Measured {datetime.date.today()} on {cpu_name()} ({cpu_flags()}) · {torch.get_num_threads()} threads · "
             f"torch {torch.__version__}{' · QUICK (synthetic) run' if args.quick else ''}", ""]
    if args.only_app:
        lines += app_section(checkpoint, args.data_dir, args.quick)
    else:
        lines += training_section(train_split, test_split, checkpoint, args.quick, epochs, args.data_dir)
        if not args.only_training:
            lines += app_section(checkpoint, args.data_dir, args.quick)
    lines += ["", f"The whole run took {(time.perf_counter() - started) / 60:.1f} min."]
    return write_results(lines, args.out)


def write_results(lines: list[str], out: str | Path) -> int:
    """A results file (Markdown) written and printed; the command's exit status."""
    text = "\n".join(lines) + "\n"
    Path(out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
