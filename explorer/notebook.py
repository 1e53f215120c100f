"""`explore(vae)`: the model a notebook has just trained, opened in the explorer inside the notebook.

The model is converted exactly (training/importing.py) into a checkpoint folder, saved first with its test metrics
and PCA map so the explorer opens within seconds; the t-SNE/UMAP maps and the per-image scores are added by a
background thread, and the page redraws itself when they are saved. The shipped checkpoints are listed beside it
for Compare.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from training.checkpoint import CONFIG, MAX_ATLAS_POINTS, load_checkpoint, read_config
from training.config import FinishConfig
from training.data import IMAGE_SIZE, ImageSplit, load_split, to_uint8
from training.datasets import DATASETS, DEFAULT_DATASET
from training.errors import UserError
from training.importing import imported_run, prepare_import, save_imported
from training.writer_lock import writer_lock

from .train_runs import NAME_PATTERN

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints"
FIRST_SAVE_TIMEOUT_S = 600  # the test metrics, the atlas and the ONNX graphs: seconds; only a stuck disk takes this long


@dataclass
class Exploration:
    """A running explorer on a notebook's model: its address, its checkpoint folder, and `close()`."""

    url: str
    folder: Path
    name: str
    demo: object = field(repr=False)
    finishing: threading.Thread = field(repr=False)
    temporary_root: Path | None = field(default=None, repr=False)  # the folder explore() made for it, if it did
    log: list = field(default_factory=list, repr=False)

    def still_computing(self) -> bool:
        """Whether the maps and scores are still being added."""
        return self.finishing.is_alive()

    def close(self, wait_s: float = 600) -> None:
        """Stop the server; a temporary checkpoint folder is removed once its maps and scores are written (waiting
        at most `wait_s` for them; past that it is left to the system's temporary-file cleaning)."""
        self.demo.close(verbose=False)
        if self.temporary_root is not None:
            self.finishing.join(wait_s)
            if not self.finishing.is_alive():
                shutil.rmtree(self.temporary_root, ignore_errors=True)

    def _repr_html_(self) -> str:  # what a notebook cell shows for the handle
        from training.safe_text import html_text

        state = "its maps and scores are still being computed" if self.still_computing() else "complete"
        return (f"<p>Explorer on <b>{html_text(self.name)}</b> at <a href='{html_text(self.url)}' target='_blank'>"
                f"{html_text(self.url)}</a> ({state}); <code>.close()</code> stops it.</p>")


def explore(vae: torch.nn.Module, test_images=None, *, name: str = "my-vae", folder: str | Path | None = None,
            data_dir: str | Path = "data", download: bool = True, family: bool = True, umap: bool = True,
            iwae: bool = False, recon: str = "bce", beta: float = 1.0, inline: bool | None = None, height: int = 900,
            port: int | None = None) -> Exploration:
    """Open the explorer on `vae` — the lab's `VAE`, this project's, or any module with the lab's layout — and return
    a handle (`.url`, `.folder`, `.close()`).

    `test_images`: the test set the notebook has (a torchvision MNIST/FashionMNIST/KMNIST test dataset, or
    `(images, labels)` tensors with images (N, 1, 28, 28) in [0, 1] or (N, 28, 28) uint8); by default the data set's
    test split under `data_dir` (downloaded by torchvision when missing). `folder`: where the checkpoint folder
    `name` is written (default: a temporary folder, removed by `close()`). `family`: list the shipped checkpoints
    beside it. `recon` ("bce" or "mse") and `beta`: what the model was trained with, so that its −ELBO, bounds and
    scores use its own likelihood. Call it again after more training to see the new weights.
    """
    from .app import CSS, build_demo
    from .checkpoint_library import CheckpointLibrary
    from .http_limits import launch_options
    from .test_sets import TestSets

    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise UserError(f"name= must be 1–40 lower-case letters, digits and dashes, e.g. 'my-vae'; got {str(name)[:60]!r}.")
    imported = prepare_import(_state_dict_of(vae), {"object": f"{type(vae).__name__} from a notebook"})
    imported = replace(imported, source={**imported.source, "sha256": _digest(imported.weights)})  # float32 by now
    split, dataset, data_dir = _test_split(test_images, data_dir, download)
    run = imported_run(imported, split, dataset, data_dir, FinishConfig(tsne=True, umap=umap, iwae=iwae, scores=True),
                       ["explore", name], recon, beta)  # refuses a bad recon or β before anything is written
    temporary = folder is None
    root = Path(tempfile.mkdtemp(prefix="vae-explore-")) if temporary else Path(folder)
    out = root / name
    overwrite = _may_overwrite(out)
    library = CheckpointLibrary(SHIPPED if family and SHIPPED.is_dir() else root)
    if library.root != root and (SHIPPED / name / CONFIG).exists():
        raise UserError(f"'{name}' is the name of a shipped checkpoint; give explore() another name=.")
    log: list[str] = []
    answered, saved, failure = threading.Event(), [], []

    def write():
        try:
            with writer_lock(out):  # refused at once while an earlier explore() still writes this folder
                save_imported(imported, run, split, out, overwrite=overwrite, log=log.append,
                              on_first_save=lambda folder: (saved.append(folder), answered.set()))
        except BaseException as err:  # the caller's, if this call's first save did not happen
            failure.append(err)
        finally:
            answered.set()

    finishing = threading.Thread(target=write, name=f"explore-{name}", daemon=True)
    finishing.start()
    if not answered.wait(FIRST_SAVE_TIMEOUT_S):
        raise UserError(f"{out} was not written within {FIRST_SAVE_TIMEOUT_S} s.")
    if not saved:  # judged by this call's own save, never by what an earlier one left on disk
        if temporary:  # its writer has ended: nothing else uses the folder made for it
            shutil.rmtree(root, ignore_errors=True)
        raise failure[0]
    library.add(load_checkpoint(out), name)
    test_sets = TestSets.with_split(data_dir, download, dataset, split)
    demo = build_demo(library, name, test_sets)
    demo.queue(default_concurrency_limit=2, max_size=64)
    # never a public link: Colab serves the page through its own port proxy; elsewhere it stays on 127.0.0.1
    demo.launch(server_name="127.0.0.1", server_port=port, inline=inline, height=height, prevent_thread_lock=True,
                share=False, quiet=True, css=CSS, show_error=True, **launch_options())
    return Exploration(demo.local_url, out, name, demo, finishing, root if temporary else None, log)


def _state_dict_of(vae) -> dict:
    """The module's tensors on the CPU (it may live on a GPU); its own state is left as it is."""
    if not isinstance(vae, torch.nn.Module):
        raise UserError(f"explore() takes the VAE module itself (a torch.nn.Module), not a {type(vae).__name__}.")
    return {k: v.detach().to("cpu", copy=True) for k, v in vae.state_dict().items()}


def _digest(weights: dict[str, torch.Tensor]) -> str:
    """A hash of the weights, so two explorations of the same model can be told apart from two of different ones."""
    h = hashlib.sha256()
    for name in sorted(weights):
        h.update(name.encode())
        h.update(weights[name].contiguous().numpy().tobytes())
    return h.hexdigest()


def _may_overwrite(out: Path) -> bool:
    """A folder explore() wrote before is replaced; any other checkpoint is not."""
    if not (out / CONFIG).exists():
        return False
    try:
        if "object" in read_config(out).imported_from:  # written by explore(), not by `training import`
            return True
    except UserError:
        pass
    raise UserError(f"{out} holds a checkpoint that explore() did not write; give another folder= or name=.")


def _test_split(test_images, data_dir, download: bool) -> tuple[ImageSplit, str, str | None]:
    """The test images (uint8), their data set's key, and the folder they came from."""
    if test_images is None:
        return load_split(data_dir, train=False, download=download), DEFAULT_DATASET, str(data_dir)
    if hasattr(test_images, "data") and hasattr(test_images, "targets"):  # a torchvision dataset
        if getattr(test_images, "train", False):
            raise UserError("test_images is a training set (train=True): give the test set, e.g. "
                            "MNIST(root, train=False), so the explorer shows images the model has not seen.")
        by_class = {info.torchvision_class: key for key, info in DATASETS.items()}
        dataset = by_class.get(type(test_images).__name__, DEFAULT_DATASET)
        images, labels = torch.as_tensor(test_images.data), torch.as_tensor(test_images.targets)
        root = getattr(test_images, "root", None)
        data_dir = str(root) if root is not None else str(data_dir)
    elif isinstance(test_images, (tuple, list)) and len(test_images) == 2:
        images, labels = (torch.as_tensor(t) for t in test_images)
        dataset = DEFAULT_DATASET
    else:
        raise UserError("test_images must be a torchvision test dataset or an (images, labels) pair of tensors.")
    images = images.detach().cpu()
    if images.dim() == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.dim() != 3 or tuple(images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE) or not 1 <= len(images) <= MAX_ATLAS_POINTS:
        raise UserError(f"test images must be 1–{MAX_ATLAS_POINTS:,} images of 28×28, got shape {tuple(images.shape)}.")
    if images.dtype != torch.uint8:
        images = to_uint8(images)
    labels = labels.detach().cpu().long().reshape(-1)
    if len(labels) != len(images) or len(labels) and not (0 <= int(labels.min()) and int(labels.max()) <= 9):
        raise UserError(f"test labels must be {len(images)} class indices 0–9, one per image.")
    return ImageSplit(images.contiguous(), labels), dataset, data_dir

