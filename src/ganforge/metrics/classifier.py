"""A small CNN digit classifier trained on real mnist5k, to read the labels of generated digits.

Protocol: mnist5k (5,000 real MNIST digits, 500 per class) split by a seeded stratified 80/20;
trained on the 80% with random ±2-pixel shifts, accuracy reported on the held-out 20%.
It runs on the CPU in well under a minute. Generated digits whose classifier label matches the
label they were asked for measure a conditional GAN's label control (benchmarks/mnist_cgan.py).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PROTOCOL = ("CNN trained on a seeded stratified 80% of mnist5k (±2 px shifts), "
            "accuracy on the held-out 20% (1,000 real digits)")


class DigitCNN(nn.Module):
    """Two conv blocks and a linear head for (N, 1, 28, 28) images in [-1, 1]."""

    def __init__(self, num_classes: int = 10, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3))
        self.head = nn.Linear(2 * width * 7 * 7, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _shift(x: torch.Tensor, gen: torch.Generator, max_px: int = 2) -> torch.Tensor:
    """Random translation by up to `max_px` pixels (pad with background, crop back)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (max_px,) * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * max_px + 1, (2,), generator=gen).tolist()
    return padded[:, :, dy:dy + h, dx:dx + w]


def split_indices(labels: np.ndarray, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(labels))
    return train_test_split(idx, test_size=holdout, stratify=labels, random_state=seed)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """Class indices for model-space images (N, 1, 28, 28) in [-1, 1]."""
    model.eval()
    out = [model(images[i:i + batch_size].float()).argmax(1) for i in range(0, len(images), batch_size)]
    return torch.cat(out).cpu().numpy()


def train_digit_classifier(seed: int = 0, epochs: int = 6, holdout: float = 0.2,
                           progress: bool = False) -> tuple[nn.Module, float]:
    """Train DigitCNN on real mnist5k; returns (model in eval mode, held-out accuracy)."""
    from ..data.builtin import load
    data = load("mnist5k")
    x, y = data.x, data.labels
    tr, te = split_indices(y.numpy(), holdout, seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = DigitCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = 64
    steps = epochs * (len(tr) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    tr_t = torch.from_numpy(tr)
    for epoch in range(epochs):
        model.train()
        perm = tr_t[torch.randperm(len(tr_t), generator=gen)]
        for i in range(0, len(perm) - batch + 1, batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(_shift(x[idx], gen)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if progress:
            print(f"classifier epoch {epoch + 1}/{epochs} loss {loss.item():.3f}")
    acc = float((predict(model, x[te]) == y[te].numpy()).mean())
    return model.eval(), acc
