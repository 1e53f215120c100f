"""`python -m training`: parse flags, load the data set, train, and print one clear line on any user error."""
from __future__ import annotations

import argparse
import atexit
import os
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()  # start-up is measured from here (the interpreter itself adds ≈ 0.05 s)

from .config import (RECONSTRUCTION_LOSSES, SAMPLING, TIMELINE_DECODERS, FinishConfig, ModelConfig, RecordConfig,
                     RunConfig, TrainConfig)
from .datasets import DATASETS, DEFAULT_DATASET
from .numbers import MAX_SEED, non_negative_float, positive_float, positive_int, seed_flag


def build_parser() -> argparse.ArgumentParser:
    d_model, d_train = ModelConfig(), TrainConfig()
    p = argparse.ArgumentParser(prog="python -m training", description="Train the VAE on MNIST (or Fashion-MNIST, KMNIST) and write a checkpoint folder.")
    p.add_argument("--dataset", choices=list(DATASETS), default=DEFAULT_DATASET, help="which 28×28 data set to train on")
    p.add_argument("--data-dir", default="data", help="folder with torchvision's layout, e.g. MNIST/raw (downloaded there when missing)")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=True, help="download MNIST when it is missing")
    p.add_argument("--out", default="checkpoints/latest", help="checkpoint folder to write")
    p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out from its last saved epoch")
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint in --out")
    p.add_argument("--epochs", type=positive_int, default=d_train.epochs)
    p.add_argument("--batch-size", type=positive_int, default=d_train.batch_size)
    p.add_argument("--lr", type=positive_float, default=d_train.lr)
    p.add_argument("--beta", type=non_negative_float, default=d_train.beta, help="weight of the KL term")
    p.add_argument("--recon", choices=RECONSTRUCTION_LOSSES, default=d_train.reconstruction,
                   help="reconstruction loss: bce (each pixel a Bernoulli, the lab's) or mse (pixels Gaussian)")
    p.add_argument("--sampling", choices=SAMPLING, default=d_train.sampling,
                   help="the decoder's z in training: rsample (the reparameterisation trick, the lab's), normal "
                        "(torch.normal: no gradient reaches the encoder through z) or mean (the posterior mean)")
    p.add_argument("--z-dim", type=positive_int, default=d_model.z_dim)
    p.add_argument("--encoder-hidden", type=positive_int, default=d_model.encoder_hidden)
    p.add_argument("--decoder-hidden", type=positive_int, default=d_model.decoder_hidden)
    p.add_argument("--seed", type=seed_flag, default=d_train.seed, help=f"0–{MAX_SEED:,}")
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps")
    p.add_argument("--probe", action=argparse.BooleanOptionalAction, default=True,
                   help="try the speed levers on the first training steps and keep the fastest; a lever flag below forces it")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bfloat16 autocast (a candidate only where the device runs bfloat16 natively)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None, help="channels_last memory format")
    p.add_argument("--gemm-deconv", action=argparse.BooleanOptionalAction, default=None,
                   help="on CPU, run transposed convolutions as one matrix multiply + overlap-add (same function)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=d_train.compile, help="torch.compile the step")
    p.add_argument("--tsne", action=argparse.BooleanOptionalAction, default=True, help="compute the t-SNE map at the end")
    p.add_argument("--umap", action=argparse.BooleanOptionalAction, default=False,
                   help="also a UMAP map at the end (off by default: umap-learn takes 50–100 s for 10k in a fresh process on "
                        "2 CPU cores, more than a 1-epoch run; its code compiles first)")
    p.add_argument("--tsne-after", action="store_true",
                   help="save the last epoch first with its PCA map (it opens then), then add the t-SNE map (≈ 25 s for 10k)")
    p.add_argument("--live", metavar="DIR", help="write the run's progress and timeline so far into DIR as it trains "
                                                 "(progress.json, timeline.*), for a live view")
    p.add_argument("--stop-file", metavar="PATH", help="stop as on Ctrl-C (the last saved epoch is kept) when this file "
                                                       "appears; checked before every step")
    p.add_argument("--threads", type=positive_int, help="CPU threads for torch (default: torch's, one per core)")
    p.add_argument("--timeline", choices=["on", "off"], default="on",
                   help="record snapshots of the run (steps 0, 5, 10, 20, … and every epoch end) for the explorer's timeline")
    p.add_argument("--timeline-decoders", choices=TIMELINE_DECODERS, default="geometric",
                   help="epoch ends whose decoder the timeline keeps (≈ 1.4 MB each): 1, 2, 4, 8, … and the last, or the last only")
    p.add_argument("--iwae", action=argparse.BooleanOptionalAction, default=True,
                   help="score the final model with the IWAE bound (k=1000, first 1,000 test images; ≈3 min on 2 cores)")
    p.add_argument("--scores", action=argparse.BooleanOptionalAction, default=True,
                   help="score every test image (reconstruction, KL, −ELBO, −log p(x) with k=8) and the other data sets "
                        "on disk (ood.json) at the end (≈ 20 s on 2 cores)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="tqdm progress bars")
    p.add_argument("--dry-run", action="store_true", help="one batch of one epoch, to check that everything runs")
    return p


def forced_levers(args: argparse.Namespace) -> dict:
    """The speed levers the command line fixes (the probe chooses only the others)."""
    return {name: getattr(args, name) for name in ("bf16", "gemm_deconv", "channels_last") if getattr(args, name) is not None}


def run_config_from_args(args: argparse.Namespace, argv: list[str], bf16_default: bool) -> RunConfig:
    """The run as the flags give it; levers not forced take the fixed rule (bf16 where native, GEMM, channels_last)
    until the probe replaces them with what it measured."""
    from .train import versions

    model = ModelConfig(z_dim=args.z_dim, encoder_hidden=args.encoder_hidden, decoder_hidden=args.decoder_hidden)
    levers = {"bf16": bf16_default, "gemm_deconv": True, "channels_last": True, **forced_levers(args)}
    train = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, beta=args.beta, reconstruction=args.recon,
        sampling=args.sampling, seed=args.seed, compile=args.compile, **levers,
    )
    info = DATASETS[args.dataset]
    data = {"dataset": info.key, "class_names": list(info.class_names), "data_dir": str(args.data_dir),
            "train_images": None, "test_images": None}
    record = RecordConfig(timeline=args.timeline == "on", timeline_decoders=args.timeline_decoders,
                          live=str(args.live) if args.live else None, probe_levers=args.probe,
                          forced_levers=tuple(forced_levers(args)))
    finish = FinishConfig(tsne=args.tsne, umap=args.umap, iwae=args.iwae, scores=args.scores,
                          maps_after_save=args.tsne_after)
    return RunConfig(model=model, train=train, record=record, finish=finish, data=data, versions=versions(), argv=argv)


def report(action) -> int:
    """Run a subcommand: print what it returns (exit 0), or its UserError as one line (exit 2)."""
    from .errors import UserError

    try:
        message = action()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(message)
    return 0


def export_onnx_main(argv: list[str]) -> int:
    """`python -m training export-onnx DIR`: give a checkpoint folder its encoder.onnx and decoder.onnx."""
    p = argparse.ArgumentParser(prog="python -m training export-onnx",
                                description="Write encoder.onnx and decoder.onnx into a checkpoint folder and check them.")
    p.add_argument("checkpoint", help="checkpoint folder (holds model.safetensors and config.json)")
    args = p.parse_args(argv)
    from .checkpoint import add_onnx_files

    def run():
        folder = add_onnx_files(args.checkpoint)
        return f"wrote and checked {folder}/encoder.onnx and {folder}/decoder.onnx"

    return report(run)


def evaluate_main(argv: list[str]) -> int:
    """`python -m training evaluate DIR`: recompute a checkpoint's final metrics (active units, KL per dim, IWAE) and
    its per-image scores and out-of-distribution histograms."""
    p = argparse.ArgumentParser(prog="python -m training evaluate",
                                description="Recompute the final test metrics of a checkpoint and rewrite its metrics.json.")
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument("--data-dir", help="folder with the checkpoint's data set (default: the one it was trained from)")
    p.add_argument("--iwae", action=argparse.BooleanOptionalAction, default=True, help="also the IWAE bound (k=1000)")
    p.add_argument("--scores", action=argparse.BooleanOptionalAction, default=True,
                   help="also every test image's scores (into the atlas) and ood.json (k=8, ≈ 20 s on 2 cores)")
    p.add_argument("--umap", action=argparse.BooleanOptionalAction, default=False,
                   help="also the UMAP map (50–100 s on 2 CPU cores)")
    args = p.parse_args(argv)
    from .train import reevaluate
    from .writer_lock import writer_lock

    def run():
        with writer_lock(args.checkpoint):  # it rewrites metrics.json: not while a trainer writes the folder
            final = reevaluate(args.checkpoint, args.data_dir, iwae=args.iwae, scores=args.scores, umap=args.umap)
        iwae = final.get("iwae", {}).get("nll")
        test = final["test"]
        return (f"{args.checkpoint}: test −ELBO {test['recon'] + test['kl']:.2f} (recon + KL), {final['active_units']} "
                "active units" + (f", IWAE {iwae:.2f}" if iwae is not None else "")
                + (f", per-image scores in {final['scores']['seconds']:.1f} s" if args.scores else ""))

    return report(run)


def push_main(argv: list[str]) -> int:
    """`python -m training push DIR OWNER/NAME`: publish a checkpoint on the Hugging Face Hub with a model card."""
    p = argparse.ArgumentParser(prog="python -m training push",
                                description="Upload a checkpoint folder to a Hugging Face Hub model repo, with a generated model card. "
                                            "Uses your Hub login (`hf auth login` or $HF_TOKEN); $HF_ENDPOINT picks another Hub.")
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument("repo_id", help="OWNER/NAME of the model repo (created if it does not exist)")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    args = p.parse_args(argv)
    from .hub import push_checkpoint

    def run():
        url = push_checkpoint(args.checkpoint, args.repo_id, private=args.private)
        return f"pushed {args.checkpoint} → {url}\nopen it with: python -m explorer --checkpoint hf://{args.repo_id}"

    return report(run)


def import_main(argv: list[str]) -> int:
    """`python -m training import FILE --out DIR`: a model trained elsewhere (the lab's notebook) as a checkpoint folder."""
    p = argparse.ArgumentParser(prog="python -m training import",
                                description="Make a checkpoint folder from a state dict saved with torch.save(vae.state_dict(), FILE) "
                                            "(or a .safetensors file), in the lab's layout or this project's.")
    p.add_argument("file", help="the saved state dict (.pt/.pth read with weights_only=True, or .safetensors)")
    p.add_argument("--out", required=True, help="checkpoint folder to write, e.g. checkpoints/my-lab-vae")
    p.add_argument("--dataset", choices=list(DATASETS), default=DEFAULT_DATASET, help="the data set it was trained on")
    p.add_argument("--data-dir", default="data", help="folder with torchvision's layout (downloaded there when missing)")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=True, help="download the test set when it is missing")
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint in --out")
    p.add_argument("--tsne", action=argparse.BooleanOptionalAction, default=True, help="the t-SNE map (≈ 25 s for 10k)")
    p.add_argument("--umap", action=argparse.BooleanOptionalAction, default=True,
                   help="the UMAP map (50–100 s on 2 CPU cores in a fresh process)")
    p.add_argument("--iwae", action=argparse.BooleanOptionalAction, default=False,
                   help="also the IWAE bound (k=1000, 1,000 images: ≈ 5 min on 2 CPU cores, so asked for)")
    p.add_argument("--scores", action=argparse.BooleanOptionalAction, default=True, help="every test image's scores and ood.json")
    p.add_argument("--recon", choices=RECONSTRUCTION_LOSSES, default="bce",
                   help="the reconstruction loss it was trained with (the likelihood of every score and bound)")
    p.add_argument("--beta", type=non_negative_float, default=1.0, help="the KL weight it was trained with")
    args = p.parse_args(argv)
    from .data import load_split
    from .importing import import_file, imported_run, save_imported
    from .train import check_output_folder
    from .writer_lock import real_folder, writer_lock

    def run():
        started = time.perf_counter()
        imported = import_file(args.file)  # refused in one sentence before the data is read or anything written
        out = real_folder(args.out)
        check_output_folder(out, resume=False, overwrite=args.overwrite)  # before a download, not after
        test_split = load_split(args.data_dir, train=False, download=args.download, dataset=args.dataset)
        finish = FinishConfig(tsne=args.tsne, umap=args.umap, iwae=args.iwae, scores=args.scores)
        config = imported_run(imported, test_split, args.dataset, str(args.data_dir), finish, ["import", *argv],
                              args.recon, args.beta)
        with writer_lock(out):
            save_imported(imported, config, test_split, out, overwrite=args.overwrite)
        return (f"imported {args.file} ({imported.source['layout']} layout, z_dim {imported.model.z_dim}) → {out} "
                f"in {time.perf_counter() - started:.1f} s; open it with: python -m explorer --checkpoint {out}")

    return report(run)


def main(argv: list[str] | None = None, keep_freed: bool = False) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export-onnx"]:
        return export_onnx_main(argv[1:])
    if argv[:1] == ["evaluate"]:
        return evaluate_main(argv[1:])
    if argv[:1] == ["push"]:
        return push_main(argv[1:])
    if argv[:1] == ["import"]:
        return import_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        parser.error(f"--data-dir {data_dir} is a file; give the folder that holds {DATASETS[args.dataset].torchvision_class}/raw")
    if not args.download and not data_dir.is_dir():
        parser.error(f"--data-dir {data_dir} does not exist (and --no-download was given)")
    from .errors import UserError
    from .writer_lock import real_folder, writer_lock

    try:  # taken before torch is imported, so a second writer is refused in a fraction of a second
        args.out = str(real_folder(args.out))  # once: the lock and every save then name the same real folder
        with writer_lock(args.out):
            return train_command(parser, args, argv, data_dir, keep_freed)
    except UserError as err:
        return refuse(err, args.live)


def refuse(err, live: str | None, out: str | None = None) -> int:
    """A run that cannot go on: its sentence on stderr, in its live progress file for the page (the Train tab), and
    in its state beside the checkpoint folder for the app — `out` only while this process holds the folder's lock."""
    print(f"error: {err}", file=sys.stderr)
    if live:
        from .live import record_failure

        record_failure(live, str(err))
    if out:
        from .run_state import write_run_state

        write_run_state(out, "failed", str(err))
    return 2


def train_command(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str], data_dir: Path,
                  keep_freed: bool) -> int:
    """Train as the flags say, while this process holds the --out folder's writer lock."""
    from dataclasses import replace

    from .allocator import keep_freed_memory

    # before the first large tensor: every step then reuses the last one's pages (only for the command: a process
    # that calls main(), like the tests, keeps its own allocator settings)
    kept = keep_freed and keep_freed_memory()
    import torch._dynamo  # noqa: F401  every torch optimizer imports it when built (≈ 1 s): counted in start-up here

    from .data import load_split
    from .errors import UserError
    from .train import Invocation, bf16_supported, pick_device, train

    imported = time.perf_counter()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    try:
        device = pick_device(args.device)
        try:
            run = run_config_from_args(args, argv, bf16_default=bf16_supported(device))
        except ValueError as err:  # a size past the stated limits, refused before anything is allocated
            parser.error(str(err))
        train_split = load_split(data_dir, train=True, download=args.download, dataset=args.dataset)
        test_split = load_split(data_dir, train=False, download=args.download, dataset=args.dataset)
        run = replace(run, data={**run.data, "train_images": len(train_split.images), "test_images": len(test_split.images)})
        loaded = time.perf_counter()
        print(f"training on {device} with {len(train_split.images)} images → {args.out} "
              f"(start-up {time.perf_counter() - STARTED:.1f} s: imports {imported - STARTED:.1f}, "
              f"data {loaded - imported:.1f}{'; freed memory kept for reuse' if kept else ''})")
        train(run, train_split, test_split, args.out, Invocation(device, resume=args.resume, overwrite=args.overwrite,
                                                                 dry_run=args.dry_run, progress=args.progress,
                                                                 stop_file=args.stop_file))
    except UserError as err:
        return refuse(err, args.live, args.out)
    except KeyboardInterrupt:
        print("interrupted: the last saved epoch is kept; continue it with --resume", file=sys.stderr)
        return 130
    print(f"checkpoint written to {args.out}")
    return 0


if __name__ == "__main__":
    code = main(keep_freed=True)
    # Every file is written, synced and closed. Exit handlers run, then the process ends without the interpreter's
    # teardown, which deallocates torch's ~10⁶ objects module by module: 0.22 → 0.07 s of every command.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
