"""`stylegan`: StyleGAN2-lite (nets/stylegan.py) with its training recipe, written from the
papers: non-saturating logistic loss, lazy R1 on real data (every `r1_every` D steps with
gamma x r1_every), style-mixing regularisation (with prob `style_mixing` a batch switches from
one w to another at a random layer), the tracked mean w (G's `w_avg` buffer, the truncation
centre), EMA of G, and `--augment` on D's inputs. Labelled data trains conditionally: the label
enters the mapping network, and D has a projection head.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..io.errors import GanforgeError
from ..nets import build_net
from .augment import ada_stats, add_augment, augmented, default_augment, progress
from .base import Family, Phase
from .losses import d_prob, r1_penalty
from .options import RunOptions

W_AVG_RATE = 0.005  # w_avg follows the mapping output's batch mean with this rate per step


@dataclass
class StyleGANOptions(RunOptions):
    z_dim: int = 64
    w_dim: int = 64                   # style vector size
    map_layers: int = 2               # mapping network depth
    channels: int = 32                # width at the finest resolution (doubling coarser, max 256)
    style_mixing: float = 0.9         # share of batches trained with two ws (mixing regularisation)
    r1_gamma: float = 0.01            # R1 weight on real data
    r1_every: int = 16                # lazy R1: every k D steps with weight k x gamma
    ema_decay: float = 0.999
    augment: str = "off"              # off | diffaug | ada (D's inputs only)
    conditional: bool | None = None   # labels through the mapping net; None: when the data has 2+ classes
    image_size: int | None = None


class StyleGAN(Family):
    name = "stylegan"
    summary = ("StyleGAN2-lite: mapping net, modulated convs, noise, style mixing, truncation, "
               "lazy R1, EMA (images)")
    Options = StyleGANOptions
    losses = ("ns",)  # logistic loss, as the paper; no --loss option
    next_command = "sample {run} -n 64 --truncation 0.7 --out samples.png"
    fast_path = True  # noise-to-image: bf16 + NHWC where measured faster (engine/precision.py)

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        if meta["kind"] != "images":
            return {}
        res = max(meta["shape"][1:])
        # R1 gamma ~ 0.0002 res^2 / batch (the ADA paper's heuristic), StyleGAN2's Adam betas; lr
        # 5e-3 (not the paper's 2e-3): on digits, seeds 0/1, FID 177/157 at step 300 vs 353 at 2e-3
        return dict(steps=3000, batch_size=32, lr_g=5e-3, lr_d=5e-3, betas=(0.0, 0.99),
                    r1_gamma=round(0.0002 * res * res / 32, 5), conditional=len(meta["class_names"]) >= 2,
                    **default_augment(meta))

    def __init__(self, cfg, meta: dict):
        self.cfg, shape = cfg, meta["shape"]
        if meta["kind"] != "images" or len(shape) != 3:
            raise GanforgeError(f"--model stylegan needs images, but '{meta['name']}' is {meta['kind']}; "
                                f"use --model vanilla for points")
        nc = len(meta["class_names"])
        conditional = cfg.conditional if cfg.conditional is not None else nc >= 2
        if conditional and nc < 2:
            raise GanforgeError(f"conditional stylegan needs labelled data with 2+ classes, but '{meta['name']}' "
                                f"has {nc}; set conditional to false")
        nc = nc if conditional else 0
        for name in ("w_dim", "map_layers"):
            if getattr(cfg, name) < 1:
                raise GanforgeError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
        if not 0 <= cfg.style_mixing <= 1:
            raise GanforgeError(f"--style-mixing must be in [0, 1], got {cfg.style_mixing}")
        self.num_classes = nc
        self.specs = {
            "G": {"net": "style_g", "kwargs": dict(z_dim=cfg.z_dim, out_shape=list(shape), w_dim=cfg.w_dim,
                                                   map_layers=cfg.map_layers, channels=cfg.channels,
                                                   num_classes=nc, tanh=True)},
            # minibatch-std groups never straddle the real and fake halves of D's batch
            "D": {"net": "style_d", "kwargs": dict(in_shape=list(shape), channels=cfg.channels, num_classes=nc,
                                                   mbstd_group=math.gcd(4, cfg.batch_size))},
        }
        self.nets = {k: build_net(s) for k, s in self.specs.items()}
        add_augment(self, cfg, meta)
        self.ema = ("G",) if cfg.ema_decay > 0 else ()
        self.phases = [Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas, keeps_graph=("G",)),
                       Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas, fresh_batch=False)]

    def _labels(self, batch):
        return batch[1] if self.num_classes else None

    def fakes(self, n: int, labels, device) -> torch.Tensor:
        """G's images for a training step, with style-mixing regularisation (no host sync: the
        coin and the crossover layer stay tensors)."""
        G, cfg = self.nets["G"], self.cfg
        ws = G.broadcast(G.map(torch.randn(n, cfg.z_dim, device=device), labels, track=W_AVG_RATE))
        if cfg.style_mixing > 0:
            w2 = G.broadcast(G.map(torch.randn(n, cfg.z_dim, device=device), labels))
            cut = torch.randint(1, G.n_ws, (), device=device)
            cut = torch.where(torch.rand((), device=device) < cfg.style_mixing, cut, G.n_ws)
            ws = torch.where(torch.arange(G.n_ws, device=device).view(1, -1, 1) >= cut, w2, ws)
        return G.synthesis(ws)

    def d_step(self, batch, ctx):
        D, cfg = self.nets["D"], self.cfg
        real, y = batch[0], self._labels(batch)
        made = self.fakes(real.shape[0], y, real.device)  # with its graph: the G phase reuses it
        ctx["fake"] = made
        real, fake = augmented(self, real), augmented(self, made.detach())
        r1 = cfg.r1_gamma > 0 and ctx.get("step", 0) % cfg.r1_every == 0
        if r1:
            real = real.detach().requires_grad_(True)
        n = real.shape[0]
        logit = D(torch.cat([real, fake]), torch.cat([y, y]) if y is not None else None)[0]
        real_logit, fake_logit = logit[:n], logit[n:]
        loss = F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()
        if r1:
            loss = loss + 0.5 * cfg.r1_gamma * cfg.r1_every * r1_penalty(real_logit, real)
        pr, pf = d_prob("ns", real_logit.detach()), d_prob("ns", fake_logit.detach())
        return loss, {"d_loss": loss.detach(), "D_real": pr.mean(), "D_fake": pf.mean(),
                      "D_acc": 0.5 * ((pr > 0.5).float().mean() + (pf <= 0.5).float().mean()),
                      **ada_stats(self, real_logit, ctx)}

    def g_step(self, batch, ctx):
        y = self._labels(batch)
        fake = ctx.pop("fake", None)
        if fake is None:
            fake = self.fakes(batch[0].shape[0], y, batch[0].device)
        loss = F.softplus(-self.nets["D"](augmented(self, fake), y)[0]).mean()
        return loss, {"g_loss": loss.detach()}

    def double_backward_nets(self) -> tuple[str, ...]:
        return ("D",) if self.cfg.r1_gamma > 0 else ()

    def progress_parts(self, record: dict) -> list[str]:
        parts = [f"D(x) {record['D_real']:.2f} D(G(z)) {record['D_fake']:.2f}"] if "D_real" in record else []
        return parts + progress(record)

    def sampler_info(self) -> dict:
        return {"input": "noise", "z_dim": self.cfg.z_dim, "num_classes": self.num_classes}
