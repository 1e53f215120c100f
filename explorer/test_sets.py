"""The test images each checkpoint is shown with: one data set's test split, read on first use, or why there is none."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.data import ImageSplit, load_split
from training.datasets import DATASETS, DEFAULT_DATASET, dataset_info
from training.errors import UserError
from training.numbers import whole_number


@dataclass
class TestImages:
    """One data set's test images (the ones its checkpoints' atlases encode), or None when no data is reachable."""

    split: ImageSplit | None
    message: str = ""

    @classmethod
    def load(cls, data_dir: str | Path | None, download: bool, dataset: str = DEFAULT_DATASET) -> "TestImages":
        if data_dir is None:
            return cls(None, "No --data-dir given: images from the test set are not shown.")
        try:
            return cls(load_split(data_dir, train=False, download=download, dataset=dataset))
        except UserError as err:
            return cls(None, f"{err} Until then, the tabs that need no test images work.")

    def require(self) -> ImageSplit:
        if self.split is None:
            raise UserError(self.message)
        return self.split

    def pick(self, labels: np.ndarray, label: str, n: int, seed: int) -> np.ndarray:
        """Indices of n test images of one class (its index as text; 'any' for all), chosen with a seed."""
        pool = np.arange(len(labels)) if label in ("any", None) else np.flatnonzero(labels == whole_number(label, "The class", 0, 9))
        if len(pool) == 0:
            raise UserError("No test image of that class.")
        return np.random.default_rng(seed).choice(pool, size=min(n, len(pool)), replace=False)


@dataclass
class TestSets:
    """The test images of each data set, read on first use: a checkpoint is shown with its own data set's images."""

    data_dir: str | Path | None
    download: bool = False
    fixed: TestImages | None = None  # the same images for every data set (tests and benchmarks)
    _loaded: dict[str, TestImages] = field(default_factory=dict)

    @classmethod
    def of(cls, images: TestImages) -> "TestSets":
        return cls(None, fixed=images)

    @classmethod
    def with_split(cls, data_dir, download: bool, dataset: str, split: ImageSplit) -> "TestSets":
        """One data set's test images given (a notebook's); the others read from `data_dir` on first use."""
        return cls(data_dir, download, _loaded={dataset_info(dataset).key: TestImages(split)})

    def get(self, dataset: str | None) -> TestImages:
        if self.fixed is not None:
            return self.fixed
        try:
            key = dataset_info(dataset).key
        except UserError:  # the name is not repeated: it came from the checkpoint's config
            return TestImages(None, "This checkpoint's data set is not one the explorer knows "
                                    f"({', '.join(DATASETS)}): its test images are not shown.")
        if key not in self._loaded:
            self._loaded[key] = TestImages.load(self.data_dir, self.download, key)
        return self._loaded[key]
