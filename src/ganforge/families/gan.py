"""Noise-to-data GANs: `vanilla` (MLP), `dcgan` (conv) and `cgan` (class-conditional).

One G, one D. The D phase makes fakes with the real batch's labels (so the label mix matches
the data) and scores them detached beside the real batch; the G phase backpropagates through
those same fakes: one G forward per step, as in the textbook loop (the D phase keeps G's
graph; 8-10% of a DCGAN step saved). Images only (`fast_path`): on the 2D mixtures, whose
defaults were tuned with a fresh G forward in the G phase, reuse cost grid25 its mode balance
(seed 0: reverse KL 0.018 -> 0.203), so they keep the fresh draw.

cgan conditions G by a label embedding, D by projection and/or an AC-GAN classifier head
(`ac_weight > 0`).

`pack = m > 1` is PacGAN (Lin et al. 2018): D judges m samples at once, all real or all fake,
stacked along the first feature axis (points (B, 2) -> (B/m, 2m); images (B, C, H, W) ->
(B/m, mC, H, W)). A packed D sees the lack of diversity in a collapsed batch, which discourages
mode collapse; unconditional models only.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..io.errors import GanforgeError
from ..nets import build_net
from ..nets.conv import build_size, pyramid
from .base import Family, Phase
from .augment import ada_stats, add_augment, augmented, default_augment
from .augment import progress as augment_progress
from .losses import d_loss, d_prob, g_loss, gradient_penalty, r1_penalty
from .options import RunOptions, run_option

FILTER_QUANTILE = 0.01  # sample filter: reject fakes D scores below 99% of real data


@dataclass
class GANOptions(RunOptions):
    """What every noise-to-data GAN reads (adversarial loss, critic, latent, regularisers)."""
    loss: str = "ns"
    n_critic: int = 1                 # discriminator updates per generator update
    z_dim: int = 64
    gp_weight: float = 10.0           # wgan-gp penalty weight
    r1_gamma: float = 0.0             # R1 on real data; 0 = off
    r1_every: int = 1                 # lazy R1 (StyleGAN2): every k steps with γ·k; same mean penalty
    r1_batch: int = 0                 # R1 on the first k real examples only (own D pass); 0 = whole batch
    spectral_norm: bool = False       # spectral norm on every D layer
    ema_decay: float = 0.999          # EMA of G weights; 0 = off
    image_size: int | None = None     # image folders are resized to this (centre crop + Lanczos)
    augment: str = "off"              # off | diffaug | ada: augment D's inputs (images; families/augment.py)


@dataclass
class VanillaOptions(GANOptions):
    hidden: int = 128                 # MLP width
    depth: int = 2                    # MLP hidden layers
    pack: int = 1                     # PacGAN: D judges this many samples at once (1 = off)
    preset: str | None = None         # e.g. "seed": the classic 100->128->784 MLP
    sample_filter: bool | None = run_option(None)  # keep fakes D scores like real data; None = on for 2D points


@dataclass
class DCGANOptions(GANOptions):
    channels: int = 64                # conv base width
    mbstd: int = 0                    # minibatch-std group size in D (ProGAN); 0 = off
    upsample: str = "transposed"      # G's x2 steps: transposed | resize (nearest + 3x3 conv)
    pack: int = 1
    sample_filter: bool | None = run_option(None)


@dataclass
class CGANOptions(GANOptions):
    hidden: int = 128                 # MLP width (2D points)
    depth: int = 2
    channels: int = 64                # conv base width (images)
    mbstd: int = 0                    # minibatch-std group size in D (ProGAN); 0 = off
    upsample: str = "transposed"      # G's x2 steps: transposed | resize (nearest + 3x3 conv)
    ac_weight: float = 0.0            # > 0: AC-GAN auxiliary classifier head on D
    # D's AC head also learns the asked class on G's images (AC-GAN). Off (real images only), 3,000
    # steps: tuning set mnist5k-rgb-64 (seed 0) judge labels 38.3% vs 38.0%, FID 19.6 vs 20.8;
    # held-out shapes-60 (seed 1) 34.4% vs 33.0%, recall 0.82 vs 0.77: within run-to-run spread.
    ac_fake: bool = True
    projection: bool = True           # projection discriminator
    # conv D's class terms read its last map summed over positions (SNGAN's projection D). Tuning set
    # mnist5k-rgb-64 (seed 0, generalisation_tuning.jsonl): judge label accuracy 38.0% -> 50.1% at
    # 3,000 steps (1,500: 14.9% -> 35.3%), FID 20.8 -> 13.0, recall 0.79 -> 0.69. Held-out shapes-60
    # (seed 1): labels 33.0% -> 31.9% (chance 25%), recall 0.77 -> 0.44, and G marked each class by
    # a texture (checks, stripes) that D reads and the judge does not. 28 px mnist5k collapsed each
    # class (recall 0.04, FID 61 vs 3.4). So it stays opt-in.
    class_pool: bool = False
    # > 0: a content classifier trained on real images guides G (weight). mnist5k-rgb-64 (seed 0):
    # 0.2 raised the judge's label accuracy 14.9% -> 46.8% (FID 48.3 -> 52.8, recall 0.69 -> 0.49);
    # 0.5 (judge 38.9%, recall 0.05) and 1.0 drew about one image per class. Held-out shapes-60
    # (seed 1): 28.6% -> 35.3% (chance 25%), FID 111 -> 145: too little for a default, so opt-in.
    class_guide: float = 0.0


# 2D points (benchmarks/mixtures.py; ring8 and grid25 refine it with their geometry: data/registry.py).
POINT_DEFAULTS = dict(steps=3000, batch_size=256, lr_g=1e-3, lr_d=1e-3, z_dim=16, hidden=256, depth=3,
                      lr_decay=True)
# SNGAN-style conditional recipe (hinge, spectral-norm D, betas (0, 0.9), a light AC-GAN term) with
# D learning twice as fast as G. mnist5k, 1,500 steps (benchmarks/generalisation.py tuning notes):
# lr 2e-4/2e-4: FID 32.5, recall 0.16, coverage 0.48, label accuracy 99.0%; lr_g 2e-4, lr_d 4e-4:
# FID 18.6, recall 0.48, coverage 0.70, 97.1%; lr_g 1e-4, lr_d 4e-4: recall 0.56 but 89.8%.
# Without the AC term (2e-4/2e-4): recall 0.15 (so not the cause); channels 32: FID 23.3, recall
# 0.14 at 3x the time.
CONDITIONAL = dict(loss="hinge", spectral_norm=True, betas=(0.0, 0.9), ac_weight=0.2, lr_g=2e-4, lr_d=4e-4)
# mnist5k (seed 0, n 2,500): 1,500 steps FID 13.6, recall 0.52; 3,000 steps FID 3.4, recall 0.68,
# label accuracy 98.8% (3,000 with lr decay: 9.8). Larger images too: mnist5k-rgb-64 (seed 0,
# generalisation_tuning.jsonl) 1,500 steps FID 48.3, coverage 0.65, judge label accuracy 14.9%;
# 3,000 steps FID 20.8, coverage 0.80, 38.0% (its label reader was still at chance at step 2,000).
# Only tiny images (<= 12 px, 64 channels: digits is at its floor by 1,500) keep 1,500.
CONDITIONAL_STEPS = 3000
# G upsamples by nearest-neighbour resize + conv (not transposed convs) when it doubles four or more
# times (nets built at 64 px and up: sides 57-64 -> 64, 100 -> 112), where transposed convs left
# checkerboard noise over flat regions. Tuned on mnist5k-rgb-64 (seed 0, 1,500 steps): FID 43.1 vs
# 97.7, recall 0.64 vs 0.27 (generalisation_tuning.jsonl). First set at "above 32 px"; the held-out
# fashion-kit-36 (built at 40: three doublings) then lost recall with it (0.33 vs 0.69), so three
# doublings and fewer keep the transposed convs their recipe was tuned with; fashion-kit-36 is no
# longer held out for this choice.
RESIZE_DOUBLINGS = 4
STEP_BUDGET = 4.2  # a training step costs at most ~4x a 28 px, 16-channel, batch-64 step (mnist5k cgan)


def step_cost(size: int, channels: int, batch: int) -> float:
    """A conv GAN step's cost relative to mnist5k cgan's: the full-resolution layers dominate,
    each ∝ side² x width²; measured (fp32, 1 thread) 20/28/36/60/100 px at 16 channels:
    0.11/0.19/0.46/1.6/5.1 s per step."""
    return batch / 64 * (build_size(size) * channels / (28 * 16)) ** 2


def image_defaults(meta: dict, conditional: bool) -> dict:
    """Images: chosen from what the data is (size, count, labels), never from its name.
    Tuned on mnist5k and digits (benchmarks/generalisation.py); reported on sets never tuned on.
    Tiny images (<= 12 px: two doublings) afford a wide net. Larger images keep a step within
    STEP_BUDGET by halving the batch (to 32), then the width (to 8): a stated compute policy,
    not a measured optimum. A G of RESIZE_DOUBLINGS or more doublings upsamples by resize + conv
    (tuned on mnist5k-rgb-64)."""
    size, count = max(meta["shape"][1:]), meta.get("count") or 0
    tiny = size <= 12
    channels = 64 if tiny else 16 if conditional else 32
    batch = 64
    while not tiny and step_cost(size, channels, batch) > STEP_BUDGET and (batch > 32 or channels > 8):
        if batch > 32:
            batch //= 2
        else:
            channels //= 2
    d = dict(batch_size=batch, z_dim=32 if tiny else 64, channels=channels,
             steps=1500 if count < 3000 else 3000 if count < 20000 else 4000)
    if conditional:  # see CONDITIONAL_STEPS
        d.update(CONDITIONAL, steps=1500 if tiny else CONDITIONAL_STEPS)
    if pyramid(build_size(size))[1] >= RESIZE_DOUBLINGS:
        d["upsample"] = "resize"
    return d


def net_specs(cfg, meta: dict, conditional: bool, conv_nets: bool | None) -> dict[str, dict]:
    """JSON specs of G and D for this config and data (see nets.build_net). `conv_nets`: conv
    (True), MLP (False) or conv for images and MLP for points (None)."""
    kind, shape = meta["kind"], meta["shape"]
    nc = len(meta["class_names"]) if conditional else 0
    if conditional and nc < 2:
        raise GanforgeError(f"--model cgan needs labelled data with 2+ classes, but "
                            f"'{meta['name']}' has {nc}; use sub-folders as classes or --model dcgan")
    pack = getattr(cfg, "pack", 1)
    d_shape = [shape[0] * pack, *shape[1:]]  # D sees `pack` samples stacked on the first axis
    conv = conv_nets if conv_nets is not None else kind == "images"
    if conv and kind != "images":
        raise GanforgeError(f"--model {cfg.model} needs images, but '{meta['name']}' is 2D points; "
                            f"use --model vanilla")
    if kind == "points" and cfg.image_size is not None:
        raise GanforgeError(f"--image-size applies to images, but '{meta['name']}' is 2D points; drop it")
    if conv and len(shape) != 3:
        raise GanforgeError(f"--model {cfg.model} needs images (C, H, W), got {shape}")
    d_common = dict(num_classes=nc, projection=getattr(cfg, "projection", True),
                    aux_classifier=getattr(cfg, "ac_weight", 0) > 0, spectral=cfg.spectral_norm)
    if conv:
        # upsample is written only when not the default, so earlier runs' specs stay as they were
        up = getattr(cfg, "upsample", "transposed")
        return {"G": {"net": "conv_g", "kwargs": dict(z_dim=cfg.z_dim, out_shape=shape,
                                                      channels=cfg.channels, num_classes=nc, cond_bn=nc > 0,
                                                      **({"upsample": up} if up != "transposed" else {}))},
                "D": {"net": "conv_d", "kwargs": dict(in_shape=d_shape, channels=cfg.channels, **d_common,
                                                      **({"mbstd": cfg.mbstd} if getattr(cfg, "mbstd", 0) else {}),
                                                      **({"class_pool": True} if getattr(cfg, "class_pool", False) and nc else {}))}}
    return {"G": {"net": "mlp_g", "kwargs": dict(z_dim=cfg.z_dim, out_shape=shape, hidden=cfg.hidden,
                                                 depth=cfg.depth, num_classes=nc,
                                                 tanh=kind == "images")},
            "D": {"net": "mlp_d", "kwargs": dict(in_shape=d_shape, hidden=cfg.hidden, depth=cfg.depth,
                                                 **d_common)}}


class NoiseToDataGAN(Family):
    """Shared by vanilla, dcgan and cgan (below): one G, one D, noise in."""

    conditional = False  # class-conditional (cgan): the labelled-data recipe
    conv_nets: bool | None = None  # conv G and D (True), MLP (False), conv for images only (None)

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        if meta["kind"] == "points":
            return dict(POINT_DEFAULTS)
        return {**image_defaults(meta, cls.conditional), **default_augment(meta)} if meta["kind"] == "images" else {}

    def __init__(self, cfg, meta: dict):
        self.cfg = cfg
        self.specs = net_specs(cfg, meta, self.conditional, self.conv_nets)
        self.num_classes = self.specs["G"]["kwargs"]["num_classes"]
        if getattr(cfg, "class_guide", 0) > 0:
            if meta["kind"] != "images":
                raise GanforgeError(f"--class-guide needs labelled images, but '{meta['name']}' is "
                                    f"{meta['kind']}; drop it")
            self.specs["C"] = {"net": "content_classifier",
                               "kwargs": {"in_ch": meta["shape"][0], "num_classes": self.num_classes}}
        self.nets = {k: build_net(s) for k, s in self.specs.items()}
        add_augment(self, cfg, meta)  # net "A" when --augment is on
        self.fast_path = meta["kind"] == "images"  # bf16 autocast + NHWC (train/precision.py)
        self.ema = ("G",) if cfg.ema_decay > 0 else ()
        self.phases = [
            Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas, repeats=cfg.n_critic,
                  keeps_graph=("G",) if self.fast_path else ()),
            Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas, fresh_batch=False),
        ]
        if "C" in self.nets:  # the content classifier learns first, at the monitor reader's rate
            self.phases.insert(1, Phase("C", ("C",), self.c_step, 2e-3, (0.9, 0.999), fresh_batch=False))

    def _labels(self, batch):
        return batch[1] if self.num_classes else None

    def _pack(self, x):
        """(B, F, ...) -> (B/m, m*F, ...): groups of m consecutive samples become one D input."""
        m = getattr(self.cfg, "pack", 1)
        return x if m == 1 else x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])

    def _noise(self, n, ref):
        return torch.randn(n, self.cfg.z_dim, device=ref.device)

    def d_step(self, batch, ctx):
        G, D, cfg = self.nets["G"], self.nets["D"], self.cfg
        real, y = batch[0], self._labels(batch)
        with torch.set_grad_enabled(self.fast_path):  # with its graph: the G phase reuses it
            made = G(self._noise(real.shape[0], real), y)
        if self.fast_path:
            ctx["fake"] = made
        fake = self._pack(augmented(self, made.detach()))  # real and fake alike, before D only
        real = self._pack(augmented(self, real))
        # Lazy R1: the double backward costs as much as the D step itself; every k-th step with
        # k·γ keeps the same average penalty (StyleGAN2's lazy regularisation).
        r1 = cfg.r1_gamma > 0 and ctx.get("step", 0) % cfg.r1_every == 0
        # R1 on a sub-batch: its own small D pass, so the double backward runs over k rows
        # instead of the whole real+fake pass (an unbiased estimate of the same expectation).
        r1_sub = r1 and 0 < cfg.r1_batch < real.shape[0]
        if r1 and not r1_sub:
            real = real.detach().requires_grad_(True)
        # One D pass over real and fake together: half the per-call overhead (spectral norm's
        # power iteration, kernel launches). Same maths, as these Ds have no batch statistics.
        n = real.shape[0]
        logit, cls = D(torch.cat([real, fake]), torch.cat([y, y]) if y is not None else None)
        real_logit, fake_logit = logit[:n], logit[n:]
        real_cls, fake_cls = (cls[:n], cls[n:]) if cls is not None else (None, None)
        loss = d_loss(cfg.loss, real_logit, fake_logit)
        if cfg.loss == "wgan-gp":
            loss = loss + cfg.gp_weight * gradient_penalty(D, real, fake, y)
        if r1_sub:
            k = cfg.r1_batch
            sub = real[:k].detach().requires_grad_(True)
            sub_logit = D(sub, y[:k] if y is not None else None)[0]
            loss = loss + 0.5 * cfg.r1_gamma * cfg.r1_every * r1_penalty(sub_logit, sub)
        elif r1:
            loss = loss + 0.5 * cfg.r1_gamma * cfg.r1_every * r1_penalty(real_logit, real)
        if real_cls is not None:
            # ac_fake off: D's classifier learns from real images only, so a cue G paints on its
            # images to mark the class (not the class's content) earns G nothing from it
            loss = loss + cfg.ac_weight * (F.cross_entropy(real_cls, y)
                                           + (F.cross_entropy(fake_cls, y) if getattr(cfg, "ac_fake", True) else 0))
        return loss, {"d_loss": loss.detach(),
                      "D_real": d_prob(cfg.loss, real_logit.detach()).mean(),
                      "D_fake": d_prob(cfg.loss, fake_logit.detach()).mean(),
                      # share of real scored 'real' and fake 'fake' (health monitor)
                      "D_acc": 0.5 * ((d_prob(cfg.loss, real_logit.detach()) > 0.5).float().mean()
                                      + (d_prob(cfg.loss, fake_logit.detach()) <= 0.5).float().mean()),
                      **ada_stats(self, real_logit, ctx)}

    def g_step(self, batch, ctx):
        G, D, cfg = self.nets["G"], self.nets["D"], self.cfg
        y = self._labels(batch)
        fake = ctx.pop("fake", None)  # the D phase's fakes (its last repeat), made by this G
        if fake is None:
            fake = G(self._noise(batch[0].shape[0], batch[0]), y)
        logit, cls = D(self._pack(augmented(self, fake)), y)
        loss = g_loss(cfg.loss, logit)
        if cls is not None:
            loss = loss + cfg.ac_weight * F.cross_entropy(cls, y)
        if "C" in self.nets:  # read in eval mode: its BatchNorm keeps the real images' statistics
            C = self.nets["C"].eval()
            loss = loss + cfg.class_guide * F.cross_entropy(C(fake), y)
            C.train()
        return loss, {"g_loss": loss.detach()}

    def c_step(self, batch, ctx):
        """The content classifier (--class-guide) learns from real images only, never from G's."""
        logits = self.nets["C"](batch[0])
        y = self._labels(batch)
        return F.cross_entropy(logits, y), {"C_acc": (logits.detach().argmax(1) == y).float().mean()}

    def double_backward_nets(self) -> tuple[str, ...]:
        return ("D",) if self.cfg.loss == "wgan-gp" or self.cfg.r1_gamma > 0 else ()

    def progress_parts(self, record: dict) -> list[str]:
        if "D_real" not in record:
            return []
        return [f"D(x) {record['D_real']:.2f} D(G(z)) {record['D_fake']:.2f}"] + augment_progress(record)

    def sampler_info(self) -> dict:
        """How to feed the sampling net (stored in generator.json; see ganforge.sampling)."""
        return {"input": "noise", "z_dim": self.cfg.z_dim, "num_classes": self.num_classes}

    @torch.no_grad()
    def sample_filter(self, data):
        """Discriminator filter: a fake is kept only if D scores it at least as real as all but
        FILTER_QUANTILE of the real data. A continuous G leaves thin bridges between separated
        modes; D scores them far below any real point (ring8: HQ 95% -> 99%, mode balance
        unchanged). On by default for 2D points (`sample_filter`); unpacked, unconditional Ds only."""
        choice = getattr(self.cfg, "sample_filter", None)
        use = choice if choice is not None else data.kind == "points"
        if not use or getattr(self.cfg, "pack", 1) > 1 or self.num_classes:
            return None
        D = getattr(self.nets["D"], "_orig_mod", self.nets["D"])  # the eager module under --compile
        was = D.training
        D.eval()
        x = data.x[:20000].to(next(D.parameters()).device)
        logits = torch.cat([D(x[i:i + 4096])[0].flatten().float() for i in range(0, len(x), 4096)])
        D.train(was)
        return self.specs["D"], D, float(torch.quantile(logits.cpu(), FILTER_QUANTILE))


class Vanilla(NoiseToDataGAN):
    name = "vanilla"
    summary = "MLP generator and discriminator (2D points, small images); the default for points"
    Options = VanillaOptions
    conv_nets = False
    # The classic two-layer MLP GAN of the GAN tutorials: G 100->128->784, D 784->128->1.
    presets = {"seed": dict(z_dim=100, hidden=128, depth=1, ema_decay=0.0)}


class DCGAN(NoiseToDataGAN):
    name = "dcgan"
    summary = "convolutional GAN for images of any size; the default for unlabelled images"
    Options = DCGANOptions
    conv_nets = True


class CGAN(NoiseToDataGAN):
    name = "cgan"
    summary = ("class-conditional GAN (label embedding in G; projection and/or AC-GAN D); the default "
               "for labelled images")
    Options = CGANOptions
    conditional = True
