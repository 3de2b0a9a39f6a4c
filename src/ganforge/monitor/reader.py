"""A small label reader the monitor trains once per run on the run's own labelled images, so it
can tell whether a conditional G's images show the class they were asked for.

Pixel probes (probes.py) cannot: on colour digits at 64 px (benchmarks/generalisation.py's
mnist5k-rgb-64) a cGAN learned the backgrounds but drew no digits; its pooled-pixel precision
read 0.81 and its within-class diversity 0.8 (healthy), while an independent CNN read 12% of its
images as the asked class (real images: 86%) and the lowest class recall was 0.01.

The reader: three conv layers on images pooled to at most READER_SIZE px, READER_STEPS Adam steps
with +-2 px shifts, a few seconds on one CPU thread; it is trained only for runs of at least
READER_MIN_STEPS steps (a short run ends before G draws anything readable). Its accuracy on
held-aside real images is logged beside its accuracy on G's images, so a weak reader is visible.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets.conv import ContentClassifier

READER_SIZE = 32
READER_STEPS = 300
READER_MIN_STEPS = 500


class LabelReader(ContentClassifier):
    """The reader: nets/conv.py's ContentClassifier without its last max-pool, at READER_SIZE."""

    def __init__(self, channels: int, classes: int):
        super().__init__(channels, classes, size=READER_SIZE, pool_last=False)

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.eval()
        pred = torch.cat([self(x[i:i + 256]).argmax(1) for i in range(0, len(x), 256)])
        return float((pred == y.to(pred.device)).float().mean())


def train_reader(x: torch.Tensor, y: torch.Tensor, classes: int, items: torch.Tensor,
                 seed: int = 4243) -> LabelReader:
    """A reader of `classes` labels trained on the images `x[items]` (model space, labels `y`),
    batch by batch (no copy of the set), on CPU with a private RNG (the run's is untouched)."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = LabelReader(x.shape[1], classes)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    net.train()
    with torch.enable_grad():
        for _ in range(READER_STEPS):
            idx = items[torch.randint(len(items), (64,), generator=g)]
            dy, dx = torch.randint(-2, 3, (2,), generator=g).tolist()
            loss = F.cross_entropy(net(torch.roll(net.pool(x[idx].float()), (dy, dx), (2, 3))), y[idx].long())
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()
