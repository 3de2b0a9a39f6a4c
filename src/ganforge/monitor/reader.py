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
from torch import nn

READER_SIZE = 32
READER_STEPS = 300
READER_MIN_STEPS = 500


def _pool(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    if max(x.shape[-2:]) > READER_SIZE:
        x = F.adaptive_avg_pool2d(x, (min(READER_SIZE, x.shape[-2]), min(READER_SIZE, x.shape[-1])))
    return x


class LabelReader(nn.Module):
    def __init__(self, channels: int, classes: int):
        super().__init__()
        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
        self.body = nn.Sequential(*block(channels, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2),
                                  *block(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _pool(x)
        # content, not the image's overall colour: each channel minus its image mean
        return self.body(x - x.mean((2, 3), keepdim=True))

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 64 pooled features before the class layer (per-class recall, probes.py)."""
        self.eval()
        body = self.body[:-1]
        return torch.cat([body((xi := _pool(x[i:i + 256])) - xi.mean((2, 3), keepdim=True))
                          for i in range(0, len(x), 256)])

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
            loss = F.cross_entropy(net(torch.roll(_pool(x[idx]), (dy, dx), (2, 3))), y[idx].long())
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()
