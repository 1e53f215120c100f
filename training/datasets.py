"""The data sets the project knows, with their class names: plain data, importable without torch (fast CLI start)."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError
from .safe_text import SHORT, plain


@dataclass(frozen=True)
class DatasetInfo:
    """One data set the project knows: its CLI name, its title, torchvision's class for it and its class names."""

    key: str
    title: str
    torchvision_class: str
    class_names: tuple[str, ...]


DATASETS = {
    info.key: info
    for info in (
        DatasetInfo("mnist", "MNIST", "MNIST", tuple(str(d) for d in range(10))),
        DatasetInfo("fashion-mnist", "Fashion-MNIST", "FashionMNIST", (
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")),
        # Kuzushiji-MNIST: one cursive hiragana per class, in the order of torchvision's KMNIST.classes.
        DatasetInfo("kmnist", "KMNIST", "KMNIST", ("o お", "ki き", "su す", "tsu つ", "na な", "ha は", "ma ま", "ya や", "re れ", "wo を")),
    )
}
DEFAULT_DATASET = "mnist"


def dataset_info(name: str | None) -> DatasetInfo:
    """The data set named by a CLI key or a title, in any case ("MNIST", "fashion-mnist", "FashionMNIST")."""
    wanted = "".join(ch for ch in str(name or DEFAULT_DATASET).lower() if ch.isalnum())
    for info in DATASETS.values():
        if wanted in {"".join(ch for ch in n.lower() if ch.isalnum()) for n in (info.key, info.title, info.torchvision_class)}:
            return info
    raise UserError(f"Unknown data set {plain(name)!r}: choose one of {', '.join(DATASETS)}.")


def class_names(data: dict) -> list[str]:
    """The names of a checkpoint's ten classes from its config's data section, whatever wrote it.

    Newer configs carry the names; older ones only the data set's title; anything else (a synthetic test set, names
    that are not ten short strings) falls back to the digits 0–9.
    """
    names = data.get("class_names") if isinstance(data, dict) else None
    if isinstance(names, list) and len(names) == 10 and all(isinstance(n, str) and 0 < len(n) <= SHORT and plain(n) for n in names):
        return [plain(n) for n in names]  # one line each; every view escapes them
    try:
        return list(dataset_info(data.get("dataset") if isinstance(data, dict) else None).class_names)
    except UserError:
        return [str(d) for d in range(10)]
