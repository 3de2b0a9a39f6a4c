"""Anomaly detectors trained on normal data only: `ganomaly` and `fanogan`.

`ganomaly` (Akcay et al. 2018): G = encoder -> decoder -> encoder, D a critic on images vs
reconstructions. G's loss: w_adv x feature matching on D's features + w_con x L1 reconstruction
+ w_enc x latent L2; score ||z - z'||² (the paper's).

`fanogan` (Schlegl et al. 2019), two stages in one run: WGAN-GP (G, D) for `gan_steps` steps,
then, with G and D frozen in eval mode, the izi_f encoder E (image residual + kappa x
D-feature residual), which is also the score. Each stage's phases leave the other stage's nets
alone: an idle phase returns a loss no parameter takes part in, so its nets get no gradient and
Adam skips them (no momentum drift).

Both save a `Detector` (artifacts/detector.py) as the run's generator.*; `ganforge anomaly fit`
(apps/anomaly.py) adds the normal-only validation split, checkpoint choice and threshold.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..artifacts.detector import Detector
from ..artifacts.noise import standing_stats
from ..io.errors import GanforgeError
from ..nets import build_net
from ..nets.anomaly import SCORES, FAnoGANNet, critic_features
from .base import Family, Phase
from .losses import d_loss, gradient_penalty
from .options import RunOptions


@dataclass
class AnomalyOptions(RunOptions):
    z_dim: int = 64
    channels: int = 32                # conv base width (images)
    hidden: int = 128                 # MLP width (2D points, table rows)
    depth: int = 2                    # MLP hidden layers
    arch: str = "conv"                # images: conv (the papers') or mlp (flattened; much cheaper on CPU)


@dataclass
class GanomalyOptions(AnomalyOptions):
    w_adv: float = 1.0                # feature matching on D's features (the paper's weights)
    w_con: float = 50.0               # L1 reconstruction
    w_enc: float = 1.0                # latent consistency ||z - z'||²
    w_cls: float = 0.0                # labelled normal classes: cross-entropy of a class head on the code z
    anomaly_score: str = "latent"     # latent: ||z - z'||² (the paper's); recon: ||x - G(x)||²; recon+latent: both, standardized; +knn: and the kNN distance of z to training codes; +cls: and 1 - the class head's top probability


@dataclass
class FAnoGANOptions(AnomalyOptions):
    gan_steps: int = 1500             # WGAN-GP generator updates; the encoder trains the rest of --steps
    n_critic: int = 5
    gp_weight: float = 10.0
    kappa: float = 1.0                # weight of the discriminator-feature residual


def part_specs(kw: dict) -> dict[str, dict]:
    """Specs of G, D and E alone, built exactly as nets/anomaly.py builds them inside a detector."""
    shape = kw["in_shape"]
    if kw["conv"]:
        g = {"net": "conv_g", "kwargs": dict(z_dim=kw["z_dim"], out_shape=shape, channels=kw["channels"])}
        d = {"net": "conv_d", "kwargs": dict(in_shape=shape, channels=kw["channels"])}
    else:
        mlp = dict(hidden=kw["hidden"], depth=kw["depth"])
        g = {"net": "mlp_g", "kwargs": dict(z_dim=kw["z_dim"], out_shape=shape, tanh=len(shape) == 3, **mlp)}
        d = {"net": "mlp_d", "kwargs": dict(in_shape=shape, **mlp)}
    return {"G": g, "D": d, "E": {"net": "anomaly_encoder", "kwargs": kw}}


def _idle():
    """A loss no parameter takes part in: this phase's nets get no gradient this step."""
    return torch.zeros((), requires_grad=True), {}


class AnomalyFamily(Family):
    """Shared: images get conv nets, vectors (points, encoded table rows) MLP nets."""

    losses = ()  # each method has its paper's loss
    next_command = "anomaly score {run} NEW_DATA --out scores.csv"
    method = ""

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        # Images: MLPs on the flattened image, width 256. Tuned on mnist5k classes 0 and 2
        # (benchmarks/results/anomaly_tuning.jsonl), reported on Fashion-MNIST: at a few CPU
        # minutes per class, conv nets (width 8-16, 300-600 steps) scored AUROC 0.16-0.88 where
        # MLPs scored 0.69-0.99, at a tenth of the time per step.
        if meta["kind"] == "images":
            return dict(batch_size=64, arch="mlp", hidden=256)
        return dict(batch_size=128, z_dim=min(16, 2 * meta["shape"][0]))

    def net_kwargs(self, cfg, meta: dict) -> dict:
        if meta["kind"] not in ("images", "points"):
            raise GanforgeError(f"--model {self.name} takes images, 2D points or encoded table rows, "
                                f"not {meta['kind']}")
        if cfg.precision == "fp16":  # idle phases leave no gradient for fp16's GradScaler to check
            raise GanforgeError(f"--model {self.name} trains in fp32 or bf16; drop --precision fp16")
        if cfg.arch not in ("conv", "mlp"):
            raise GanforgeError(f"--arch must be conv or mlp, got {cfg.arch!r}")
        return dict(in_shape=list(meta["shape"]), z_dim=cfg.z_dim, channels=cfg.channels,
                    hidden=cfg.hidden, depth=cfg.depth, conv=meta["kind"] == "images" and cfg.arch == "conv")

    def sampler_info(self) -> dict:
        return {"input": "anomaly", "method": self.name}

    def scoring_net(self, net):
        return net

    def sampling_view(self, net, data, device):
        """The detector (a copy: training state untouched)."""
        info = dict(self.sampler_info(), family=self.name, net=self.scoring_spec, data=data.meta(),
                    score=self.score_text)
        return Detector(self.scoring_net(net), info, device)

    def selectable(self, step: int) -> bool:
        """Whether the detector at `step` may be chosen (f-AnoGAN: only once E trains)."""
        return True


SCORE_TEXT = {
    "latent": "latent distance ||E(x) - E'(G(E(x)))||² per item (GANomaly)",
    "recon": "reconstruction error ||x - G(E(x))||²/n per item (GANomaly's G as an autoencoder)",
    "recon+latent": "reconstruction error ||x - G(E(x))||²/n + latent distance ||E(x) - E'(G(E(x)))||²/n_z per "
                    "item, each standardized by its mean and sd on the held-out normal items that chose the checkpoint",
    "recon+latent+knn": "reconstruction error ||x - G(E(x))||²/n + latent distance ||E(x) - E'(G(E(x)))||²/n_z + "
                        "mean distance of E(x) to its 5 nearest codes of training items (axes scaled by the codes' "
                        "sd) per item, each standardized by its mean and sd on the held-out normal items that chose "
                        "the checkpoint",
}
_CLS = (" + 1 - the largest probability of a class head on E(x) trained on the normal classes' labels "
        "(each part standardized by its mean and sd on the held-out normal items that chose the checkpoint)")
SCORE_TEXT["recon+latent+cls"] = SCORE_TEXT["recon+latent"].split(" per item")[0] + _CLS
SCORE_TEXT["recon+latent+knn+cls"] = SCORE_TEXT["recon+latent+knn"].split(" per item")[0] + _CLS


class GANomaly(AnomalyFamily):
    name = "ganomaly"
    summary = "anomaly detector: encoder-decoder-encoder + critic, score ||z - z'||², ||x - x'||², both, or both + kNN of z (GANomaly)"
    Options = GanomalyOptions

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        # Images: 4000 steps at lr 4e-4, scored by recon+latent. Tuned on mnist5k classes 2, 4, 5,
        # 8, 9, seed 0 (benchmarks/results/anomaly_parts.jsonl), mean AUROC: 1500 steps 0.883 (recon
        # score) / 0.887 (recon+latent); 4000 steps 0.899 / 0.904; at lr 4e-4 0.902 / 0.909; not
        # better: a linear lr decay (0.885 / 0.897), z_dim 32 (0.892 / 0.893), adding the critic-
        # feature residual or a Mahalanobis distance of z (lower than recon alone); all ten classes
        # at 1500 steps: recon 0.926, recon+latent 0.928, latent 0.881. Points and tables keep
        # 1500 steps and the paper's latent score.
        d = {**super().defaults(meta), "steps": 1500}
        if meta["kind"] == "images":
            return {**d, "steps": 4000, "lr_g": 4e-4, "lr_d": 4e-4, "anomaly_score": "recon+latent"}
        return d

    def __init__(self, cfg, meta: dict):
        self.cfg = cfg
        kw = self.net_kwargs(cfg, meta)
        if cfg.anomaly_score not in SCORES:
            raise GanforgeError(f"--anomaly-score must be one of {', '.join(SCORES)}, got {cfg.anomaly_score!r}")
        if "cls" in cfg.anomaly_score and cfg.w_cls <= 0:
            raise GanforgeError(f"--anomaly-score {cfg.anomaly_score} reads a class head that w_cls trains; "
                                f"give w_cls > 0 (1 measured best) or a score without +cls")
        classes = len(meta.get("class_names") or [])
        if cfg.w_cls > 0 and classes < 2:
            raise GanforgeError("w_cls and a score with a class part need normal data of 2 or more labelled "
                                "classes (--normal-class with several classes)")
        head = {"num_classes": classes} if cfg.w_cls > 0 else {}  # older runs' specs unchanged
        self.scoring_spec = {"net": "ganomaly", "kwargs": {**kw, "score_by": cfg.anomaly_score, **head}}
        self.score_text = SCORE_TEXT[cfg.anomaly_score]
        self.specs = {"G": self.scoring_spec, "D": part_specs(kw)["D"]}
        self.nets = {k: build_net(s) for k, s in self.specs.items()}
        # G first: D then judges the same reconstructions (one G forward per step)
        self.phases = [Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas),
                       Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas, fresh_batch=False)]

    def g_step(self, batch, ctx):
        x, cfg = batch[0], self.cfg
        recon, z, z2 = self.nets["G"](x)
        f_real, _ = critic_features(self.nets["D"], x)
        f_fake, _ = critic_features(self.nets["D"], recon)
        adv = ((f_real.detach() - f_fake) ** 2).mean()
        con = (x - recon).abs().mean()
        enc = ((z - z2) ** 2).mean()
        ctx["recon"] = recon.detach()
        loss = cfg.w_adv * adv + cfg.w_con * con + cfg.w_enc * enc
        stats = {"g_loss": adv.detach(), "con": con.detach(), "enc": enc.detach()}
        if cfg.w_cls > 0:
            ce = F.cross_entropy(self.nets["G"].cls_head(z).float(), batch[1])
            loss, stats["cls"] = loss + cfg.w_cls * ce, ce.detach()
        return loss, stats

    def d_step(self, batch, ctx):
        loss = d_loss("ns", self.nets["D"](batch[0])[0], self.nets["D"](ctx["recon"])[0])
        return loss, {"d_loss": loss.detach()}

    def progress_parts(self, record: dict) -> list[str]:
        return [f"con {record['con']:.3f}"] if "con" in record else []


class FAnoGAN(AnomalyFamily):
    name = "fanogan"
    summary = "anomaly detector: WGAN-GP, then an izi_f encoder; score image + feature residual (f-AnoGAN)"
    Options = FAnoGANOptions
    score_text = "izi_f: ||x - G(E(x))||²/n + kappa ||f(x) - f(G(E(x)))||²/n_f per item (f-AnoGAN)"

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        # images: the image residual alone (the paper's izi): with MLP critic features the izi_f
        # score fell to AUROC 0.81 / 0.68 from 0.95 / 0.80 (mnist5k classes 0 / 2; the feature
        # residual alone: 0.64 / 0.56); 2D points keep izi_f (ring8: 0.998)
        d = {**super().defaults(meta), "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9),
             "steps": 1200, "gan_steps": 800}
        return {**d, "kappa": 0.0} if meta["kind"] == "images" else d

    def __init__(self, cfg, meta: dict):
        self.cfg = cfg
        kw = self.net_kwargs(cfg, meta)
        if not 0 < cfg.gan_steps < cfg.steps:
            raise GanforgeError(f"--model fanogan trains its encoder after --gan-steps {cfg.gan_steps}; "
                                f"--steps {cfg.steps} must be larger (and --gan-steps at least 1)")
        self.scoring_spec = {"net": "fanogan", "kwargs": {**kw, "kappa": cfg.kappa}}
        self.model = build_net(self.scoring_spec)
        self.specs = part_specs(kw)  # the three parts train as separate nets (own optimisers)
        self.nets = {"G": self.model.G, "D": self.model.D, "E": self.model.E}
        self.generator_name = "E"
        self._standing = False
        self.phases = [Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas, repeats=cfg.n_critic),
                       Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas, fresh_batch=False),
                       Phase("E", ("E",), self.e_step, cfg.lr_g, cfg.betas)]

    def _noise(self, n, device):
        return torch.randn(n, self.cfg.z_dim, device=device)

    def d_step(self, batch, ctx):
        if ctx["step"] >= self.cfg.gan_steps:
            return _idle()
        real, D = batch[0], self.nets["D"]
        fake = self.nets["G"](self._noise(len(real), real.device)).detach()
        w = D(fake)[0].mean() - D(real)[0].mean()
        loss = w + self.cfg.gp_weight * gradient_penalty(D, real, fake)
        return loss, {"d_loss": w.detach()}

    def g_step(self, batch, ctx):
        if ctx["step"] >= self.cfg.gan_steps:
            return _idle()
        loss = -self.nets["D"](self.nets["G"](self._noise(len(batch[0]), batch[0].device)))[0].mean()
        return loss, {"g_loss": loss.detach()}

    def e_step(self, batch, ctx):
        if ctx["step"] < self.cfg.gan_steps:
            return _idle()
        G = self.nets["G"]
        if not self._standing:  # G's BN statistics for its own final weights (private RNG)
            g = torch.Generator().manual_seed(4321)
            dev = batch[0].device
            standing_stats(G, lambda i: (torch.randn(256, self.cfg.z_dim, generator=g).to(dev),))
            self._standing = True
        G.eval()  # frozen G and D, in the mode they score in
        self.nets["D"].eval()
        image, feature = self.model.residuals(batch[0])
        loss = image.mean() + self.cfg.kappa * feature.mean()
        return loss, {"e_loss": loss.detach(), "izi_image": image.mean().detach()}

    def scoring_net(self, net):
        return copy.deepcopy(self.model)

    def selectable(self, step: int) -> bool:
        return step > self.cfg.gan_steps

    def double_backward_nets(self) -> tuple[str, ...]:
        return ("D",)

    def progress_parts(self, record: dict) -> list[str]:
        return [f"izi {record['e_loss']:.4f}"] if "e_loss" in record else []
