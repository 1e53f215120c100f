"""`python -m explorer`: flags → load the checkpoint(s) and the test images once → launch the Gradio app."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m explorer", description="Explore a trained VAE in the browser.")
    p.add_argument("--checkpoint", help="checkpoint folder to open first (default: checkpoints/default)")
    p.add_argument("--checkpoints-dir", default=str(DEFAULT_CHECKPOINTS), help="folder whose checkpoints the picker lists")
    p.add_argument("--data-dir", default="data", help="torchvision MNIST folder for the test images")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=True, help="download MNIST's test set when missing")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1, or $GRADIO_SERVER_NAME)")
    p.add_argument("--port", type=int, default=None, help="port (default 7860, or $GRADIO_SERVER_PORT)")
    p.add_argument("--share", action="store_true", help="also serve through a public gradio.live link (off by default)")
    return p


def prepare(args: argparse.Namespace):
    """Load everything once: the checkpoint library, the first checkpoint and the test images."""
    import torch

    from . import core

    torch.set_grad_enabled(False)
    library = core.CheckpointLibrary(Path(args.checkpoints_dir))
    if args.checkpoint:
        from training.checkpoint import load_checkpoint

        default_name = library.add(load_checkpoint(args.checkpoint))
    else:
        names = library.names()
        if not names:
            from training.errors import UserError

            raise UserError(f"No checkpoints in {args.checkpoints_dir}: train one with `python -m training` or pass --checkpoint.")
        default_name = "default" if "default" in names else names[0]
        library.get(default_name)
    test_images = core.TestImages.load(args.data_dir, args.download)
    return library, default_name, test_images


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    from training.errors import UserError

    from .app import CSS, MAP_CLICK_JS, build_demo

    try:
        library, default_name, test_images = prepare(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if test_images.split is None:
        print(f"note: {test_images.message}", file=sys.stderr)
    demo = build_demo(library, default_name, test_images)
    demo.queue(default_concurrency_limit=2, max_size=256)
    print(f"ready in {time.perf_counter() - started:.1f} s", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, head=MAP_CLICK_JS, css=CSS, show_error=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
