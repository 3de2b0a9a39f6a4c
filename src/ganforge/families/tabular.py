"""`tabular`: a CTGAN-class table synthesizer (Xu et al. 2019) as a family of the one loop.

G maps (noise, conditional vector) to raw outputs; each block of the row gets its activation
(tanh for mode-normalised scalars, Gumbel-softmax for one-hots). D is a PacGAN critic (Lin et
al. 2018) that scores `pac` rows concatenated with their conditional vectors, trained with the
WGAN-GP loss (penalty per packed example). G's loss adds the cross-entropy between its output
for the conditioned column and the asked category, so conditions are obeyed.
Options not in TrainConfig (pac, D width, dropout, tau, weight decay) travel in the dataset
meta's info["tabular"], so a checkpoint rebuilds the family from JSON alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..io.errors import GanforgeError
from ..nets import build_net
from .base import Family, Phase
from .losses import gradient_penalty
from .options import RunOptions

DEFAULTS = {"pac": 10, "d_hidden": [256, 256], "dropout": 0.5, "tau": 0.2, "weight_decay": 1e-6}


def activate(raw: torch.Tensor, blocks: list[dict], tau: float, hard: bool = False,
             gen: torch.Generator | None = None) -> torch.Tensor:
    """tanh on scalar blocks; on one-hot blocks Gumbel-softmax (training) or, with `hard`, a
    one-hot *drawn* from softmax(logits) by the Gumbel-max trick (argmax alone would always
    pick the likeliest category and shrink diversity)."""
    parts = []
    for b in blocks:
        x = raw[:, b["start"]:b["start"] + b["size"]]
        if b["act"] == "tanh":
            parts.append(torch.tanh(x))
        elif hard:
            u = torch.rand(x.shape, generator=gen).to(x.device).clamp(1e-10, 1 - 1e-7)
            parts.append(F.one_hot((x - torch.log(-torch.log(u))).argmax(1), b["size"]).to(x.dtype))
        else:
            parts.append(F.gumbel_softmax(x, tau=tau))
    return torch.cat(parts, 1)


@dataclass
class TabularOptions(RunOptions):  # WGAN-GP always (CTGAN); pac, tau, dropout: see DEFAULTS
    n_critic: int = 1
    z_dim: int = 128
    hidden: int = 256
    depth: int = 2
    gp_weight: float = 10.0
    ema_decay: float = 0.0


class TabularFamily(Family):
    name = "tabular"
    summary = "CTGAN-class table synthesis; train it with `ganforge tabular fit DATA.csv`"
    Options = TabularOptions
    next_command = "tabular sample {run} -n 1000 --out synth.csv"

    def __init__(self, cfg, meta: dict):
        info = meta.get("info", {})
        if meta.get("kind") != "table" or "blocks" not in info:
            raise GanforgeError("--model tabular needs a table; use `ganforge tabular fit DATA.csv`")
        self.cfg, self.opts = cfg, {**DEFAULTS, **info.get("tabular", {})}
        self.blocks, self.layout = info["blocks"], info["cond"]
        data_dim, cond_dim = meta["shape"][0], sum(c["size"] for c in self.layout)
        pac = self.opts["pac"]
        if cfg.batch_size % pac:
            raise GanforgeError(f"batch size {cfg.batch_size} is not a multiple of pac {pac}; "
                                f"choose a batch size divisible by {pac}")
        self.specs = {
            "G": {"net": "table_g", "kwargs": dict(z_dim=cfg.z_dim, cond_dim=cond_dim, out_dim=data_dim,
                                                   hidden=[cfg.hidden] * cfg.depth)},
            "D": {"net": "table_d", "kwargs": dict(in_dim=data_dim + cond_dim, pac=pac,
                                                   hidden=list(self.opts["d_hidden"]),
                                                   dropout=self.opts["dropout"])},
        }
        self.nets = {k: build_net(s) for k, s in self.specs.items()}
        self.ema = ("G",) if cfg.ema_decay > 0 else ()
        self.phases = [
            Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas, repeats=cfg.n_critic),
            Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas),
        ]

    def make_optimizers(self):
        opts = {}
        for ph in self.phases:
            params = [p for n in ph.trains for p in self.nets[n].parameters()]
            opts[ph.name] = torch.optim.Adam(params, lr=ph.lr, betas=ph.betas, foreach=True,
                                             weight_decay=self.opts["weight_decay"])
        return opts

    def _pack(self, rows: torch.Tensor, cond) -> torch.Tensor:
        x = torch.cat([rows, cond], 1) if cond is not None else rows
        return x.reshape(x.shape[0] // self.opts["pac"], -1)

    def _fake(self, n: int, cond, ref: torch.Tensor):
        raw = self.nets["G"](torch.randn(n, self.cfg.z_dim, device=ref.device), cond)
        return raw, activate(raw, self.blocks, self.opts["tau"])

    def d_step(self, batch, ctx):
        real, cond = batch
        D = self.nets["D"]
        with torch.no_grad():
            _, fake = self._fake(real.shape[0], cond, real)
        real_p, fake_p = self._pack(real, cond), self._pack(fake, cond)
        real_s, fake_s = D(real_p)[0], D(fake_p)[0]
        wdist = real_s.mean() - fake_s.mean()
        gp = gradient_penalty(D, real_p, fake_p)
        loss = -wdist + self.cfg.gp_weight * gp
        return loss, {"d_loss": loss.detach(), "wdist": wdist.detach(), "gp": gp.detach()}

    def g_step(self, batch, ctx):
        real, cond = batch
        raw, fake = self._fake(real.shape[0], cond, real)
        adv = -self.nets["D"](self._pack(fake, cond))[0].mean()
        ce = self.cond_loss(raw, cond) if cond is not None else torch.zeros((), device=real.device)
        return adv + ce, {"g_loss": adv.detach(), "cond_loss": ce.detach()}

    def cond_loss(self, raw: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of G's logits for the conditioned column vs the asked category,
        averaged over the batch (each row conditions exactly one column)."""
        total = raw.new_zeros(())
        for c in self.layout:
            target = cond[:, c["cond_start"]:c["cond_start"] + c["size"]]
            logits = raw[:, c["start"]:c["start"] + c["size"]]
            ce = F.cross_entropy(logits, target.argmax(1), reduction="none")
            total = total + (ce * target.sum(1)).sum()
        return total / raw.shape[0]

    def double_backward_nets(self) -> tuple[str, ...]:
        return ("D",)  # WGAN-GP

    def sampler_info(self) -> dict:
        return {"input": "table", "z_dim": self.cfg.z_dim, "num_classes": 0, "tau": self.opts["tau"]}

    def preview_png(self, trainer):
        return None  # tables are pictured by `ganforge tabular evaluate --report`, not per step
