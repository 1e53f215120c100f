"""`python -m benchmarks`: training speed and quality against the lab loop, IWAE, and app latency → results.md."""
from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch

from training.config import RunConfig, TrainConfig
from training.data import MnistSplit, load_mnist, shuffled_batches, to_model_input
from training.loss import iwae_bound
from training.train import Stepper, evaluate, make_model_and_optimizer

from . import lab_loop

RESULTS = Path(__file__).resolve().parent / "results.md"
ROOT = Path(__file__).resolve().parent.parent


def lab_batches(split: MnistSplit, batch_size: int, seed: int):
    """The lab's DataLoader(ToTensor) pipeline over the same images: one PIL image at a time."""
    from torch.utils.data import Dataset
    from torchvision import transforms
    from PIL import Image

    class PilDataset(Dataset):
        def __len__(self):
            return len(split.images)

        def __getitem__(self, i):
            return transforms.ToTensor()(Image.fromarray(split.images[i].numpy(), mode="L")), int(split.labels[i])

    return lab_loop.lab_dataloader(PilDataset(), batch_size, seed)


def time_lab(split, n_batches: int) -> float:
    vae, opt = lab_loop.make_lab()
    it = iter(lab_batches(split, 1024, 0))
    lab_loop.lab_step(vae, opt, next(it)[0])  # warm-up
    start, seen = time.perf_counter(), 0
    for _ in range(n_batches):
        x, _ = next(it)
        lab_loop.lab_step(vae, opt, x)
        seen += len(x)
    return seen / (time.perf_counter() - start)


def time_ours(split, n_batches: int, **levers) -> float:
    run = RunConfig(train=TrainConfig(**levers))
    model, opt = make_model_and_optimizer(run, torch.device("cpu"))
    step = Stepper(model, opt, run.train, torch.device("cpu"))
    batches = shuffled_batches(len(split.images), 1024, 0, 0)
    step(split.images[next(batches)])
    start, seen = time.perf_counter(), 0
    for _ in range(n_batches):
        idx = next(batches)
        step(split.images[idx])
        seen += len(idx)
    return seen / (time.perf_counter() - start)


VARIANTS = {
    "lab loop (DataLoader+ToTensor, Sigmoid+BCELoss)": None,
    "ours: in-memory uint8, BCE-with-logits, fused Adam (fp32)": dict(channels_last=False, bf16=False),
    "+ channels_last": dict(channels_last=True, bf16=False),
    "+ channels_last + bf16 autocast (default)": dict(channels_last=True, bf16=True),
}


def throughput(split, n_batches: int, rounds: int) -> list[tuple[str, float]]:
    """Interleaved rounds, median images/s of each variant."""
    samples = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, levers in VARIANTS.items():
            samples[name].append(time_lab(split, n_batches) if levers is None else time_ours(split, n_batches, **levers))
    return [(name, statistics.median(v)) for name, v in samples.items()]


def quality(train_split, test_split, epochs: int) -> dict:
    """Test −ELBO after the same epochs and seed: the lab loop vs this project's trainer."""
    results = {}
    vae, opt = lab_loop.make_lab(seed=0)
    for epoch in range(epochs):
        for x, _ in lab_batches(train_split, 1024, epoch):
            lab_loop.lab_step(vae, opt, x)
    run = RunConfig(train=TrainConfig(channels_last=True, bf16=True))
    lab_as_ours, _ = make_model_and_optimizer(RunConfig(), torch.device("cpu"))
    lab_as_ours.load_state_dict({k.replace("decoder.net.3.0.", "decoder.net.3."): v for k, v in vae.state_dict().items()})
    torch.manual_seed(0)
    results["lab loop"] = evaluate(lab_as_ours, test_split, run.train, torch.device("cpu"))
    ours, opt = make_model_and_optimizer(run, torch.device("cpu"))
    step = Stepper(ours, opt, run.train, torch.device("cpu"))
    for epoch in range(epochs):
        for idx in shuffled_batches(len(train_split.images), 1024, 0, epoch):
            step(train_split.images[idx])
    torch.manual_seed(0)
    results["this trainer"] = evaluate(ours, test_split, run.train, torch.device("cpu"))
    return results


def iwae(checkpoint: Path, test_split, n_images: int, k: int) -> tuple[float, float]:
    from training.checkpoint import load_checkpoint

    ck = load_checkpoint(checkpoint)
    torch.manual_seed(0)
    x = to_model_input(test_split.images[:n_images])
    log_px = torch.cat([iwae_bound(ck.model, chunk, k=k) for chunk in x.split(50)])
    elbo = evaluate(ck.model, MnistSplit(test_split.images[:n_images], test_split.labels[:n_images]), ck.config.train, torch.device("cpu"))
    return -log_px.mean().item(), elbo["total"]


def app_latency(checkpoint: Path, data_dir: str, n_calls: int) -> dict:
    """Start-up to first page (a real `python -m explorer`), then server-side decode/upload timings and memory."""
    import psutil

    port = 7990
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "--checkpoint", str(checkpoint), "--data-dir", data_dir,
                             "--no-download", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                if time.perf_counter() - started > 120:
                    raise RuntimeError("the app did not start within 120 s")
                time.sleep(0.1)
        startup = time.perf_counter() - started
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        rng = np.random.default_rng(0)
        client.predict(checkpoint.name, *[0.0] * 64, api_name="/decode")
        round_trips = []
        for _ in range(n_calls):
            z = rng.normal(size=64).round(2).tolist()
            t = time.perf_counter()
            client.predict(checkpoint.name, *z, api_name="/decode")
            round_trips.append(time.perf_counter() - t)
        rss = psutil.Process(proc.pid).memory_info().rss
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"startup_s": startup, "decode_roundtrip_ms": np.percentile(round_trips, [50, 95]) * 1000, "rss_mib": rss / 2**20}


def server_side(checkpoint: Path, n_calls: int) -> dict:
    """The callbacks' own time, as the server spends it (no HTTP)."""
    import tempfile

    from PIL import Image

    from explorer import core
    from explorer.app import Callbacks

    library = core.CheckpointLibrary(checkpoint.parent)
    cb = Callbacks(library, core.TestImages(None, "none"))
    name = checkpoint.name
    rng = np.random.default_rng(0)
    decode, upload = [], []
    digit = np.zeros((400, 300, 3), dtype=np.uint8)
    digit[50:350, 140:170] = 255
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digit.png"
        Image.fromarray(digit).save(path)
        for _ in range(n_calls):
            z = rng.normal(size=64).tolist()
            t = time.perf_counter()
            cb.decode_sliders(name, *z)
            decode.append(time.perf_counter() - t)
        for _ in range(max(5, n_calls // 10)):
            t = time.perf_counter()
            cb.reconstruct_upload(name, str(path), "PCA")
            upload.append(time.perf_counter() - t)
    return {"decode_ms": np.percentile(decode, [50, 95]) * 1000, "upload_ms": np.percentile(upload, [50, 95]) * 1000}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--data-dir", default="../shared/mnist")
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "default"))
    p.add_argument("--quick", action="store_true", help="synthetic data, tiny sizes: checks the harness in < 1 min")
    p.add_argument("--quality-epochs", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.quick:
        from tests.helpers import synthetic_digits

        train_split, test_split = synthetic_digits(3072, 1), synthetic_digits(500, 2)
        n_batches, rounds, epochs, iwae_n, iwae_k, calls = 1, 1, 1, 20, 50, 20
    else:
        train_split, test_split = load_mnist(args.data_dir, True), load_mnist(args.data_dir, False)
        n_batches, rounds, epochs, iwae_n, iwae_k, calls = 8, 3, args.quality_epochs, 500, 1000, 300
    lines = [f"Measured {datetime.date.today()} on {platform.machine()} · {torch.get_num_threads()} threads · "
             f"torch {torch.__version__}{' · QUICK (synthetic) run' if args.quick else ''}", ""]
    speeds = throughput(train_split, n_batches, rounds)
    base = speeds[0][1]
    lines += ["| training step (batch 1024) | images/s | × lab |", "|---|---:|---:|"]
    lines += [f"| {name} | {v:,.0f} | {v / base:.2f} |" for name, v in speeds]
    q = quality(train_split, test_split, epochs)
    lines += ["", f"| after {epochs} epochs, seed 0 | test −ELBO | recon | KL |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {r['total']:.2f} | {r['recon']:.2f} | {r['kl']:.2f} |" for name, r in q.items()]
    ckpt = Path(args.checkpoint)
    nll, elbo = iwae(ckpt, test_split, iwae_n, iwae_k)
    lines += ["", f"Shipped checkpoint on the first {iwae_n} test images: −ELBO {elbo:.2f} nats, "
              f"IWAE bound (k = {iwae_k}) −log p(x) ≤ **{nll:.2f}** nats."]
    s = server_side(ckpt, calls)
    lines += ["", "| app | p50 | p95 |", "|---|---:|---:|",
              f"| slider decode, server side (ms) | {s['decode_ms'][0]:.1f} | {s['decode_ms'][1]:.1f} |",
              f"| upload reconstruction, server side (ms) | {s['upload_ms'][0]:.1f} | {s['upload_ms'][1]:.1f} |"]
    if not args.quick:
        a = app_latency(ckpt, args.data_dir, calls)
        lines += [f"| slider decode through HTTP + queue (ms) | {a['decode_roundtrip_ms'][0]:.1f} | {a['decode_roundtrip_ms'][1]:.1f} |",
                  "", f"`python -m explorer` to first served page: **{a['startup_s']:.1f} s**; app memory (RSS): **{a['rss_mib']:.0f} MiB**."]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
