"""Feature extractors for FID-style metrics, none downloaded.

* Shipped domain CNNs (`mnist-cnn`, `digits-cnn`, `fashion-cnn`): small classifiers that
  scripts/train_extractors.py trains reproducibly; weights + model card in ganforge/weights/.
* InceptionV3 (`inception`): the standard FID network, when the user passes its weights file.
* `user-cnn`: for other data, a CNN trained at evaluation time on the run's own real images
  (classes when labelled, else rotation prediction), cached in the run folder. Its numbers are
  only comparable between runs evaluated with the same cached extractor, never with papers.

Every extractor maps model-space images (N, C, H, W) in [-1, 1] to float64 features and,
when it is a classifier, class probabilities.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..io.checkpoint import atomic_write, atomic_write_text
from ..io.errors import GanforgeError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
# Built-in dataset -> shipped extractor trained on that domain.
BUILTIN = {"mnist5k": "mnist-cnn", "digits": "digits-cnn", "fashion-mnist": "fashion-cnn"}
USER_FILE = "extractor"  # RUN_DIR/extractor.safetensors + extractor.json


class DomainCNN(nn.Module):
    """Three conv blocks, a 3x3 average-pooled map, then a `features`-d ReLU layer (what the
    metrics use) and a linear class head. `pre_pool` halves large inputs before the stem so a
    64x64 folder costs what 32x32 would.
    """

    def __init__(self, in_ch: int = 1, width: int = 32, num_classes: int = 10,
                 stem_stride: int = 2, pre_pool: int = 0, features: int = 128):
        super().__init__()
        def block(i, o, s=1):
            return [nn.Conv2d(i, o, 3, stride=s, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
        self.pre = nn.AvgPool2d(2 ** pre_pool) if pre_pool else nn.Identity()
        self.body = nn.Sequential(*block(in_ch, width, stem_stride), *block(width, 2 * width),
                                  nn.MaxPool2d(2), *block(2 * width, 4 * width),
                                  nn.AdaptiveAvgPool2d(3), nn.Flatten(),
                                  nn.Linear(36 * width, features), nn.ReLU())
        self.head = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(self.pre(x))
        return f, self.head(f)


def cnn_spec(shape: tuple[int, ...], num_classes: int, width: int = 32) -> dict:
    """Architecture for images of `shape` (C, H, W): stride-2 stem from 16 px, pre-pool above 32."""
    c, h = int(shape[0]), int(shape[1])
    pre = 0
    while h // (2 ** pre) > 32:
        pre += 1
    return {"in_ch": c, "width": width, "num_classes": num_classes,
            "stem_stride": 2 if h // (2 ** pre) >= 16 else 1, "pre_pool": pre, "features": 128}


@dataclass
class Extractor:
    """A feature network plus the facts every reported number must carry."""
    name: str
    net: nn.Module
    feature_dim: int
    card: dict = field(default_factory=dict)
    comparable: bool = False            # True only for standard InceptionV3 FID weights
    input_shape: tuple[int, ...] | None = None
    batch_size: int = 250

    @property
    def is_classifier(self) -> bool:
        return bool(self.card.get("classes"))

    def describe(self) -> str:
        c = self.card
        acc = f", held-out accuracy {c['heldout_accuracy']:.3f}" if "heldout_accuracy" in c else ""
        return f"{self.name} ({self.feature_dim}-d; {c.get('summary', '')}{acc})"

    def check(self, shape) -> None:
        if self.input_shape is not None and tuple(shape) != tuple(self.input_shape):
            raise GanforgeError(f"extractor {self.name} expects images of shape {tuple(self.input_shape)}, "
                                f"got {tuple(shape)}; pick another --extractor or none (auto)")

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """(features float64 (N, D), class probabilities (N, K) or None)."""
        self.check(x.shape[1:])
        self.net.eval()
        feats, probs = [], []
        for i in range(0, len(x), self.batch_size):
            f, logits = self.net(x[i:i + self.batch_size].float())
            feats.append(f.double())
            if logits is not None:
                probs.append(logits.double().softmax(1))
        f = torch.cat(feats).numpy() if feats else np.zeros((0, self.feature_dim))
        p = torch.cat(probs).numpy() if probs else None
        return f, (p if self.is_classifier or self.name == "inception" else None)


class Identity(nn.Module):
    """Points (N, D) are their own features."""

    def forward(self, x):
        return x.flatten(1), None


def identity_extractor(dim: int) -> Extractor:
    return Extractor("raw", Identity(), dim, {"summary": "raw coordinates, no network"},
                     batch_size=100_000)


# ---- training (used by scripts/train_extractors.py and for user data) -------------------------
def _augment(x: torch.Tensor, gen: torch.Generator, max_px: int, flip: bool) -> torch.Tensor:
    """Random shift by up to `max_px` (pads with background -1) and optional horizontal flip."""
    if max_px:
        h, w = x.shape[-2:]
        dx, dy = torch.randint(0, 2 * max_px + 1, (2,), generator=gen).tolist()
        x = F.pad(x, (max_px,) * 4, value=-1.0)[..., dy:dy + h, dx:dx + w]
    if flip and torch.rand((), generator=gen) < 0.5:
        x = x.flip(-1)
    return x


def train_cnn(x: torch.Tensor, y: torch.Tensor, spec: dict, epochs: int, seed: int = 0,
              batch_size: int = 128, shift: int = 2, flip: bool = False, lr: float = 3e-3,
              log=None) -> DomainCNN:
    """Train a DomainCNN classifier (seeded: same data, seed and torch -> same weights)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = DomainCNN(**spec)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    per_epoch = max(1, len(x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * per_epoch)
    net.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            _, logits = net(_augment(x[idx], gen, shift, flip))
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if log:
            log(f"  epoch {epoch + 1}/{epochs} loss {loss.item():.3f}")
    return net.eval()


@torch.no_grad()
def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> tuple[float, list[float]]:
    """Overall and per-class accuracy of a DomainCNN on (x, y)."""
    net.eval()
    pred = torch.cat([net(x[i:i + 500])[1].argmax(1) for i in range(0, len(x), 500)])
    ok = (pred == y).double()
    per = [float(ok[y == c].mean()) if (y == c).any() else float("nan") for c in range(num_classes)]
    return float(ok.mean()), per


def save_extractor(net: DomainCNN, card: dict, folder: Path, stem: str) -> None:
    """Weights (safetensors) + model card (JSON, with the weights' sha256), atomically."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()}
    path = Path(folder) / f"{stem}.safetensors"
    atomic_write(path, lambda tmp: save_file(tensors, tmp))
    card = dict(card, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    atomic_write_text(Path(folder) / f"{stem}.json", json.dumps(card, indent=2) + "\n")
    for p in (path, Path(folder) / f"{stem}.json"):  # temp files are 0600; package data is read by all
        os.chmod(p, 0o644)


def _load_cnn(folder: Path, stem: str, name: str, comparable: bool = False) -> Extractor:
    card = json.loads((Path(folder) / f"{stem}.json").read_text())
    net = DomainCNN(**card["architecture"])
    net.load_state_dict(load_file(str(Path(folder) / f"{stem}.safetensors")))
    return Extractor(name, net.eval(), card["feature_dim"], card, comparable,
                     tuple(card["input_shape"]))


def available() -> list[str]:
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.json"))


def load_builtin(name: str) -> Extractor:
    if not (WEIGHTS_DIR / f"{name}.json").exists():
        raise GanforgeError(f"no shipped extractor '{name}'; choose one of {', '.join(available()) or '(none)'}"
                            f" (rebuild them with scripts/train_extractors.py)")
    return _load_cnn(WEIGHTS_DIR, name, name)


def user_extractor(dataset, run_dir: Path, seed: int = 0, log=None, budget: int = 40_000) -> Extractor:
    """The run's own extractor: loaded from RUN_DIR if cached, else trained now on its real data."""
    run_dir = Path(run_dir)
    if (run_dir / f"{USER_FILE}.json").exists():
        ext = _load_cnn(run_dir, USER_FILE, "user-cnn")
        if tuple(ext.input_shape) == tuple(dataset.shape):
            return ext
    x, labels = dataset.x, dataset.labels
    n = len(x)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = max(1, n // 5)
    te, tr = perm[:n_test], perm[n_test:]
    if labels is not None and dataset.num_classes >= 2:
        task, classes = "classes", list(dataset.class_names)
        xtr, ytr, xte, yte = x[tr], labels[tr], x[te], labels[te]
    else:  # no labels: predict which of 4 rotations was applied (a label-free pretext task)
        task, classes = "rotation", ["0", "90", "180", "270"]
        def rot(idx):
            xs = torch.cat([torch.rot90(x[idx], r, (2, 3)) for r in range(4)])
            return xs, torch.arange(4).repeat_interleave(len(idx))
        (xtr, ytr), (xte, yte) = rot(tr), rot(te)
    spec = cnn_spec(dataset.shape, len(classes))
    epochs = int(min(30, max(3, budget // max(len(xtr), 1))))  # ~`budget` example-passes
    if log:
        log(f"training a {task} extractor on {len(xtr)} of the run's real images ({epochs} epochs)")
    net = train_cnn(xtr, ytr, spec, epochs, seed, shift=max(1, dataset.shape[1] // 14),
                    flip=task == "classes")
    acc, per = accuracy(net, xte, yte, len(classes))
    if log:
        log(f"extractor held-out accuracy {acc:.3f} on {len(xte)} images; cached in {run_dir}/{USER_FILE}.*")
    card = {"name": "user-cnn", "summary": f"CNN trained at evaluation time on this run's data "
                                           f"({task}); NOT comparable to published FID",
            "data": dataset.info.get("source", dataset.name), "task": task, "classes": classes,
            "train_examples": len(xtr), "heldout_examples": len(xte), "heldout_accuracy": acc,
            "heldout_per_class": per, "seed": seed, "epochs": epochs, "architecture": spec,
            "feature_dim": spec["features"], "input_shape": list(dataset.shape),
            "torch": torch.__version__}
    if task == "rotation":
        card["classes"] = []  # its probabilities are about rotations: no class-based scores
        card["rotation_classes"] = classes
    save_extractor(net, card, run_dir, USER_FILE)
    return Extractor("user-cnn", net, card["feature_dim"], card, False, tuple(dataset.shape))


def choose(dataset, run_dir: Path | None, name: str | None = None,
           inception_weights: str | Path | None = None, log=None) -> Extractor:
    """The extractor for `dataset`: --inception-weights, else --extractor NAME, else the shipped
    one for a built-in dataset, else raw coordinates for points, else the run's own CNN."""
    if dataset.kind == "points":
        if inception_weights or (name and name != "raw"):
            raise GanforgeError("2D point data is compared in raw coordinates; drop --extractor/--inception-weights")
        return identity_extractor(dataset.shape[0])
    if inception_weights:
        return inception_extractor(inception_weights)
    if name in (None, "auto"):
        name = BUILTIN.get(dataset.name, "user-cnn")
        if name != "user-cnn" and tuple(load_builtin(name).input_shape or dataset.shape) != tuple(dataset.shape):
            name = "user-cnn"  # a built-in set resized by --image-size: its shipped CNN does not fit
    if name == "user-cnn":
        if run_dir is None:
            raise GanforgeError("the user-cnn extractor needs a run folder to cache it in")
        return user_extractor(dataset, run_dir, log=log)
    ext = load_builtin(name)
    ext.check(dataset.shape)
    return ext


def inception_extractor(path) -> Extractor:
    """Standard FID features from a user-supplied InceptionV3 weights file (metrics/inception.py)."""
    from .inception import FEATURE_DIM, load_inception
    net, card = load_inception(path)
    return Extractor("inception", net, FEATURE_DIM, card, comparable=True, batch_size=50)
