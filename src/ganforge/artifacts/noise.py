"""Generate-only use of a trained run: `ganforge.load(run_dir).sample(n)`.

Needs only `generator.json` (net spec, inputs, data description) and `generator.safetensors`
(EMA weights with BN statistics refreshed); none of the training code paths run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..io.checkpoint import atomic_write
from ..io.errors import GanforgeError
from ..io.images import grid, save_png, scatter_png, to_uint8
from .saved import (
    FILTER_WEIGHTS,
    GENERATOR_JSON,
    GENERATOR_WEIGHTS,
    load_net,
    read_generator,
)


@dataclass
class Samples:
    samples: np.ndarray            # float32 (N, D) points, or uint8 (N, H, W, C) images
    labels: np.ndarray | None      # int64 (N,) for conditional models


class Generator:
    """A trained noise-to-data generator with the data description it was trained on."""

    def __init__(self, net: torch.nn.Module, info: dict, device: str = "cpu",
                 filter_net: torch.nn.Module | None = None):
        self.net, self.info, self.device = net.eval().to(device), info, device
        self.z_dim, self.num_classes = info.get("z_dim"), info.get("num_classes", 0)
        self.data = info["data"]
        # Sample filter (info["filter"]): D and a logit threshold; fakes scored below it are
        # redrawn. Used by default when the run has one; `filter=False` turns it off.
        self.filter_net = filter_net.eval().to(device) if filter_net is not None else None

    @property
    def class_names(self) -> list[str]:
        return self.data.get("class_names", []) if self.num_classes else []

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> "Generator":
        run_dir = Path(run_dir)
        net, info = read_generator(run_dir, "noise")
        filter_net = None
        if "filter" in info and (run_dir / FILTER_WEIGHTS).exists():
            filter_net = load_net(info["filter"]["net"], run_dir / FILTER_WEIGHTS)
        elif "filter" in info:
            info = {k: v for k, v in info.items() if k != "filter"}
        return cls(net, info, device, filter_net)

    def save(self, run_dir: Path) -> None:
        run_dir = Path(run_dir)
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in self.net.state_dict().items()}
        from safetensors.torch import save_file
        atomic_write(run_dir / GENERATOR_WEIGHTS, lambda tmp: save_file(tensors, tmp))
        if self.filter_net is not None:  # written before the JSON that points to it
            d = {k: v.detach().cpu().contiguous().clone() for k, v in self.filter_net.state_dict().items()}
            atomic_write(run_dir / FILTER_WEIGHTS, lambda tmp: save_file(d, tmp))
        atomic_write(run_dir / GENERATOR_JSON,
                     lambda tmp: Path(tmp).write_text(json.dumps(self.info, indent=2)))

    def label_index(self, label: int | str | None) -> int | None:
        """A class by index or by name (folder classes are named by their sub-folder)."""
        if label is None:
            return None
        if not self.num_classes:
            raise GanforgeError("this model is unconditional; drop --label or train with --model cgan")
        names = self.class_names
        if isinstance(label, str):
            if label in names:
                return names.index(label)
            if not label.lstrip("-").isdigit():
                raise GanforgeError(f"--label {label!r} is not a class of this model; its classes: "
                                    f"{_class_list(names, self.num_classes)}")
            label = int(label)
        if not 0 <= label < self.num_classes:
            raise GanforgeError(f"--label {label} is out of range; this model has classes 0..{self.num_classes - 1} "
                                f"({_class_list(names, self.num_classes)})")
        return int(label)

    def check_label(self, label: int | str | None) -> None:
        self.label_index(label)

    def check_truncation(self, psi: float) -> None:
        """Truncation needs a style-based net (a mapping network and its tracked mean w)."""
        if not getattr(self.net, "supports_truncation", False):
            raise GanforgeError(f"--truncation needs a stylegan run, but this is a '{self.info.get('family')}' "
                                f"model (no mapping network); drop --truncation or train --model stylegan")
        if not 0 <= psi <= 1:
            raise GanforgeError(f"--truncation must be in [0, 1] (1 = off, 0 = the mean image), got {psi}")

    @property
    def has_filter(self) -> bool:
        return self.filter_net is not None

    @torch.no_grad()
    def sample_tensor(self, n: int, labels=None, seed: int | None = 0, batch_size: int = 500,
                      filter: bool | None = None, truncation: float | None = None):
        """Model-space samples (torch, [-1, 1] for images) and labels (or None). `filter`:
        redraw fakes the run's sample filter rejects (default: whenever the run has one);
        `truncation` psi: style-based nets pull w towards its mean (1 = off)."""
        if truncation is not None:
            self.check_truncation(truncation)
        psi = {"truncation": truncation} if truncation is not None else {}
        gen = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        if self.num_classes:
            if labels is None:
                labels = torch.randint(self.num_classes, (n,), generator=gen)
            elif isinstance(labels, (int, str)):
                labels = torch.full((n,), self.label_index(labels), dtype=torch.int64)
            else:
                labels = torch.as_tensor(labels, dtype=torch.int64)
        elif labels is not None:
            raise GanforgeError("this model is unconditional; sample without labels")
        outs = []
        for i in range(0, n, batch_size):
            z = torch.randn(min(batch_size, n - i), self.z_dim, generator=gen).to(self.device)
            y = labels[i:i + batch_size].to(self.device) if labels is not None else None
            outs.append(self.net(z, y, **psi).float().cpu())
        x = torch.cat(outs) if outs else torch.empty(0)
        if self.filter_net is not None and filter is not False and len(x):
            x = self._refill_rejected(x, gen, batch_size)
        return x, labels

    def _refill_rejected(self, x: torch.Tensor, gen: torch.Generator, batch_size: int,
                         rounds: int = 20) -> torch.Tensor:
        """Redraw the samples the filter rejects, in place, up to `rounds` times (a healthy run
        rejects a few percent, so 2-3 rounds suffice); what is still rejected then stays."""
        threshold = self.info["filter"]["threshold"]

        def rejected(s: torch.Tensor) -> torch.Tensor:
            scores = [self.filter_net(s[i:i + 4096].to(self.device))[0].flatten().float().cpu()
                      for i in range(0, len(s), 4096)]
            return torch.cat(scores) < threshold

        todo = rejected(x).nonzero().flatten()
        for _ in range(rounds):
            if not len(todo):
                break
            z = torch.randn(len(todo), self.z_dim, generator=gen).to(self.device)
            fresh = torch.cat([self.net(z[i:i + batch_size]).float().cpu() for i in range(0, len(z), batch_size)])
            ok = ~rejected(fresh)
            x[todo[ok]] = fresh[ok]
            todo = todo[~ok]
        return x

    def sample(self, n: int, labels=None, seed: int | None = 0, filter: bool | None = None,
               truncation: float | None = None) -> Samples:
        """`n` samples in user space: float32 points or uint8 NHWC images, plus labels."""
        x, y = self.sample_tensor(n, labels, seed, filter=filter, truncation=truncation)
        out = x.numpy().astype(np.float32) if self.data["kind"] == "points" else to_uint8(x)
        return Samples(out, y.numpy().astype(np.int64) if y is not None else None)

    def preview_png(self, n: int = 64, seed: int = 1234, reference: np.ndarray | None = None,
                    title: str = "") -> bytes:
        """A picture of `n` samples: an image grid (rows = classes for conditional models) or a scatter."""
        from ..io.images import png_bytes
        if self.data["kind"] == "points":
            return scatter_png(self.sample(max(n, 1000), seed=seed).samples, reference, title)
        labels = None
        if self.num_classes:
            per = max(1, n // self.num_classes)
            labels = torch.arange(self.num_classes).repeat_interleave(per)
        s = self.sample(len(labels) if labels is not None else n, labels=labels, seed=seed)
        nrow = len(labels) // self.num_classes if labels is not None else None
        return png_bytes(grid(s.samples, nrow=nrow, upscale_to=256))

    def write(self, path: str | Path, n: int, label: int | str | None = None, seed: int = 0,
              filter: bool | None = None, truncation: float | None = None) -> Samples:
        """Write samples to .npz (samples, labels) or .png (grid / scatter)."""
        path = Path(path)
        if path.suffix.lower() not in (".npz", ".png"):
            raise GanforgeError(f"--out must end in .npz or .png, got '{path.name}'")
        if n < 1:
            raise GanforgeError(f"-n must be at least 1, got {n}")
        s = self.sample(n, labels=self.label_index(label), seed=seed, filter=filter, truncation=truncation)
        if path.suffix.lower() == ".npz":
            arrays = {"samples": s.samples}
            if s.labels is not None:
                arrays["labels"] = s.labels
            def write_npz(tmp):
                with open(tmp, "wb") as f:
                    np.savez(f, **arrays)
            atomic_write(path, write_npz)
        elif self.data["kind"] == "points":
            png = scatter_png(s.samples)
            atomic_write(path, lambda tmp: Path(tmp).write_bytes(png))
        else:
            save_png(path, grid(s.samples, upscale_to=256))
        return s


def _class_list(names: list[str], n: int) -> str:
    return ", ".join(f"{i} = {name}" for i, name in enumerate(names)) if names else f"0..{n - 1}"


@torch.no_grad()
def standing_stats(net: nn.Module, make_inputs, batches: int = 16) -> None:
    """Re-estimate BatchNorm running statistics of `net` from its own forward passes.

    EMA weights never produced the live G's running statistics, so samples in eval mode would
    be off; a few train-mode passes with a cumulative average fix that (BigGAN's 'standing
    statistics'). `make_inputs(i)` returns the forward inputs for pass i. No-op without BN.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the passes below
    was_training = net.training
    net.train()
    for i in range(batches):
        net(*make_inputs(i))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    net.train(was_training)
