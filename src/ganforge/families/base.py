"""What a GAN family declares so the one training loop can drive it.

A family declares, as class attributes: its `name`, a one-line `summary` (for `ganforge train
--help`), its `Options` (a dataclass extending RunOptions: the options it reads, nothing more),
the `losses` it accepts, `defaults(meta)` for the data it is given, optionally its own data
(`load_data`), and the `next_command` a user runs after training. An instance owns named
networks (`nets`), says which of them keep an EMA copy (`ema`), and lists its `phases` in order. Each phase updates a set of nets with one optimiser, from a loss
function `(batch, ctx) -> (loss, stats)`. `ctx` is a dict shared by the phases of one step,
so a later phase can reuse what an earlier one made (CycleGAN's D phase reuses G's fakes).
The loop knows nothing else about the family.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..artifacts.noise import Generator, standing_stats
from .options import LOSSES, RunOptions

Batch = tuple[torch.Tensor, torch.Tensor | None]
LossFn = Callable[[Batch, dict], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def noise_standing_stats(net: nn.Module, z_dim: int, num_classes: int, device) -> None:
    """Re-estimate a noise generator's BatchNorm statistics for its (EMA) weights from its own
    passes on noise (and uniform labels), with a private RNG: training randomness stays untouched."""
    g = torch.Generator().manual_seed(99)
    standing_stats(net, lambda i: (torch.randn(128, z_dim, generator=g).to(device),
                                   torch.randint(num_classes, (128,), generator=g).to(device) if num_classes else None))


@dataclass
class Phase:
    name: str                      # also the optimiser's name in checkpoints and logs
    trains: tuple[str, ...]        # nets whose parameters this phase updates
    loss: LossFn
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    repeats: int = 1               # e.g. n_critic for the discriminator phase
    fresh_batch: bool = True       # draw a new real batch per repeat; else reuse the step's last
    keeps_graph: tuple[str, ...] = ()  # nets not stepped here whose autograd graph a later phase
                                       # uses (D phase making G's fakes once for both phases)


class Family:
    """Base class. Subclasses set `nets`, `phases`, `ema`, and `generator_name`."""

    name: str = "family"
    summary: str = ""
    Options: type[RunOptions] = RunOptions
    losses: tuple[str, ...] = LOSSES
    presets: dict[str, dict] = {}  # named option bundles (`--preset NAME`)
    next_command: str = "sample {run} -n 64 --out samples.png"  # after `ganforge train`

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        """Defaults for this data (`meta`: kind, shape, classes); the Options' own otherwise."""
        return {}

    load_data = None  # or a classmethod (spec, opts) -> Dataset for families with their own data

    nets: dict[str, nn.Module]
    phases: list[Phase]
    ema: tuple[str, ...] = ()
    generator_name: str = "G"      # the net that `ganforge sample` uses (its EMA copy if any)
    averaged: dict = {}            # the engine's EMA copies by net name (set by it, read by samplers of several nets)
    eval_from: int = 0             # training-time evaluations (--eval-every) start at this step (timegan: after G's first stages)
    specs: dict[str, dict]         # JSON spec per net, to rebuild it without code (nets.build_net)
    # True where bf16 autocast and channels_last are safe and measured faster (noise-to-image
    # nets, judged by a D, 8-bit images out): `--precision auto` / `--channels-last` follow it.
    # False for regressions scored by PSNR/ΔE and for 2D/tabular MLPs, whose bf16 outputs
    # would be quantised (ring8's sd 0.01 is ~2.5 bf16 steps at radius 1).
    fast_path: bool = False

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        opts = {}
        for ph in self.phases:
            params = [p for n in ph.trains for p in self.nets[n].parameters()]
            opts[ph.name] = torch.optim.Adam(params, lr=ph.lr, betas=ph.betas)
        return opts

    def to(self, device) -> "Family":
        for net in self.nets.values():
            net.to(device)
        return self

    def sampler_info(self) -> dict:
        """JSON description of the sampling net's inputs, e.g. {"input": "noise", "z_dim": 64}."""
        raise NotImplementedError

    def sampling_view(self, net: nn.Module, data, device):
        """The model object a user samples with, around `net` (the EMA or a copy of the live
        generator, never trained further). Noise samplers get their BatchNorm statistics
        re-estimated for these weights (standing statistics, own RNG) and the optional filter."""
        info = dict(self.sampler_info(), family=self.name, net=self.specs[self.generator_name], data=data.meta())
        filter_net = None
        if info.get("input") == "noise":
            noise_standing_stats(net, info["z_dim"], info["num_classes"], device)
            flt = self.sample_filter(data)
            if flt is not None:
                spec, d_net, threshold = flt
                info["filter"] = {"net": spec, "threshold": threshold}
                filter_net = copy.deepcopy(d_net)
        return Generator(net, info, device, filter_net=filter_net)

    def double_backward_nets(self) -> tuple[str, ...]:
        """Nets whose loss needs a double backward (gradient penalty, R1): kept eager by --compile."""
        return ()

    def progress_parts(self, record: dict) -> list[str]:
        """Extra items for the progress bar from a log record (the loss items are shown for all)."""
        return []

    def sample_filter(self, data) -> tuple[dict, nn.Module, float] | None:
        """(D spec, D, logit threshold) for rejecting off-support samples at sampling time, or
        None (default: no filter). See NoiseToDataGAN.sample_filter."""
        return None

    def preview_png(self, trainer) -> bytes | None:
        """Picture for samples/step_*.png during training; None = no picture. Default: samples
        of a noise-to-data generator (a grid, or a scatter over the real points)."""
        gen = trainer.generator()
        if gen.info.get("input") != "noise":
            return None
        ref = trainer.data.x.numpy() if trainer.data.kind == "points" else None
        return gen.preview_png(reference=ref, title=f"step {trainer.step}")
