"""`python -m explorer`: flags → load the checkpoint(s) and the test images once → launch the Gradio app."""
from __future__ import annotations

from . import zerogpu  # noqa: F401  first: imports `spaces` where installed, before torch (ZeroGPU requires it)

import argparse
import sys
import time
from pathlib import Path

from training.numbers import port_number, positive_int

from .train_runs import TrainLimits

DEFAULT_CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_RUNS = Path(__file__).resolve().parent.parent / "runs"
# Gradio keeps ≈0.4 MiB of state per session (every API call without a session is a new one) for its 10,000 most
# recent sessions by default: up to 4 GiB. 300 recent sessions bound that to ≈120 MiB.
SESSION_CAPACITY = 300


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (what MALLOC_ARENA_MAX=2 does), before the server starts its worker threads.

    Each of Gradio's worker threads otherwise gets its own arena, and the image buffers of thousands of requests
    fragment them: under a 50-client load the app's memory grew by 143 MiB from request 500 to 6,000 without the
    cap, and by 40 MiB from request 500 to 4,000 with it. No-op where the C library is not glibc.
    """
    import ctypes
    import ctypes.util

    M_ARENA_MAX = -8
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m explorer", description="Explore a trained VAE in the browser.")
    p.add_argument("--checkpoint", help="checkpoint folder, or hf://OWNER/NAME[@REVISION] on the Hub, to open first "
                                        "(default: checkpoints/default)")
    p.add_argument("--checkpoints-dir", default=str(DEFAULT_CHECKPOINTS), help="folder whose checkpoints the picker lists")
    p.add_argument("--data-dir", default="data", help="torchvision data folder (MNIST/raw, FashionMNIST/raw, …) for the test images")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=True, help="download a data set's test set when missing")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1, or $GRADIO_SERVER_NAME)")
    p.add_argument("--port", type=port_number, default=None, help="port (default 7860, or $GRADIO_SERVER_PORT)")
    p.add_argument("--share", action="store_true", help="also serve through a public gradio.live link (off by default)")
    limits = TrainLimits.for_environment()  # on a Hugging Face Space ($SPACE_ID) the caps are conservative
    p.add_argument("--runs-dir", default=str(DEFAULT_RUNS), help="folder the Train tab's runs are written to (listed in the picker)")
    p.add_argument("--train", action=argparse.BooleanOptionalAction, default=limits.enabled, help="offer the Train tab's training")
    p.add_argument("--max-train-epochs", type=positive_int, default=limits.max_epochs, help="most epochs one run may train")
    p.add_argument("--max-runs", type=positive_int, default=limits.max_runs, help="runs kept; the oldest are removed first")
    p.add_argument("--train-disk-mb", type=positive_int, default=limits.disk_budget_mb, help="disk budget of the runs folder")
    p.add_argument("--train-threads", type=positive_int, default=limits.threads, help="torch threads of a run (default: every core)")
    p.add_argument("--abandon-after", type=positive_int, default=limits.abandon_after_s,
                   help="seconds after which a run whose visitor left is stopped and removed (default: never, locally)")
    p.add_argument("--train-concurrency", type=positive_int, default=limits.concurrency,
                   help="training processes at once (others queue)")
    p.add_argument("--train-per-client", type=positive_int, default=limits.max_per_client,
                   help="runs queued or training per network address (default: 1 on a Space, no cap locally)")
    return p


def training_runs(args: argparse.Namespace):
    """The Train tab's runs, with the flags' caps (None without a runs folder to write)."""
    from .train_runs import TrainingRuns

    limits = TrainLimits(enabled=args.train, max_epochs=args.max_train_epochs, max_runs=args.max_runs,
                         disk_budget_mb=args.train_disk_mb, threads=args.train_threads,
                         abandon_after_s=args.abandon_after, concurrency=args.train_concurrency,
                         max_per_client=args.train_per_client, behind_proxy=TrainLimits.for_environment().behind_proxy,
                         gpu=zerogpu.on_zero_gpu())
    runs_dir = Path(args.runs_dir)
    if args.train:
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
    if not runs_dir.is_dir():
        return None
    launcher = {"launcher": zerogpu.GpuLauncher()} if zerogpu.on_zero_gpu() else {}  # else a subprocess per run
    return TrainingRuns(runs_dir, Path(args.data_dir), limits, download=args.download, **launcher)


def prepare(args: argparse.Namespace):
    """Load the checkpoint library and the first checkpoint; each data set's test images load on first use."""
    from . import checkpoint_library, test_sets

    runs = training_runs(args)
    library = checkpoint_library.CheckpointLibrary(Path(args.checkpoints_dir), runs=runs)
    if args.checkpoint:
        from training.checkpoint import load_checkpoint
        from training.hub import download_checkpoint, is_hub_spec, parse_hub_spec

        if is_hub_spec(args.checkpoint):  # hf://OWNER/NAME[@REV]: downloaded once into the Hub cache, then offline
            default_name = library.add(load_checkpoint(download_checkpoint(args.checkpoint)), parse_hub_spec(args.checkpoint)[0])
        else:
            default_name = library.add(load_checkpoint(args.checkpoint))
    else:
        names = library.names()
        if not names:
            from training.errors import UserError

            raise UserError(f"No checkpoints in {args.checkpoints_dir}: train one with `python -m training` or pass --checkpoint.")
        default_name = "default" if "default" in names else names[0]
        library.get(default_name)
    test_sets = test_sets.TestSets(args.data_dir, args.download)
    return library, default_name, test_sets, runs


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["deploy-space"]:
        from .space import main as deploy_main

        return deploy_main(argv[1:])
    limit_malloc_arenas()
    args = build_parser().parse_args(argv)
    from training.errors import UserError

    from . import http_limits
    from .app import CSS, build_demo
    from .server_health import ServerHealth, gradio_queue

    try:
        library, default_name, test_sets, runs = prepare(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    default_images = test_sets.get(library.get(default_name).config.data.get("dataset"))
    if default_images.split is None:
        print(f"note: {default_images.message}", file=sys.stderr)
    import torch

    torch.set_grad_enabled(False)  # this process only serves the model from here on
    demo = build_demo(library, default_name, test_sets, runs)
    demo.queue(default_concurrency_limit=2, max_size=256)
    health = ServerHealth(queue_size=gradio_queue(demo))  # a run is unwatched only while the server answers
    if runs is not None:
        runs.busy = health.busy
        runs.start_supervisor()
    options = http_limits.launch_options()
    options["app_kwargs"]["lifespan"] = health.lifespan()
    print(f"ready in {time.perf_counter() - started:.1f} s", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, css=CSS, show_error=True,
                state_session_capacity=SESSION_CAPACITY, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
