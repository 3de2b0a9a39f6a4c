"""`text2img`: images from captions (GAN-INT-CLS with StackGAN's conditioning augmentation).

G sees noise and the caption's sentence embedding (data/text.py: MiniLM by default) through
conditioning augmentation and text-conditional BatchNorm (nets/text2img.py); the KL term keeps
the condition space smooth, so nearby wordings give nearby images. D is a projection
discriminator on the embedding, trained matching-aware (Reed et al. 2016): besides real vs
generated, a real image paired with another image's caption counts as fake, so D (and through
it G) must read the words, not only judge realism. Wrong captions are the batch's own captions
shifted by one; a pair whose two captions are the same text is left out of that term.

G's loss also carries MSGAN's mode-seeking term (`diversity_weight`, on by default):
without it G drew nearly one image per caption (recall a sixth of the real floor's).

Captions are also trained on with words dropped (`word_dropout`, data/captions.py
`with_dropped_words`), so G meets many phrasings of one content; off by default (measured worse
on two tuning sets, and on the held-out captions: benchmarks/results/text2img.md); the
other options tried (noise on the embedding, GAN-INT-CLS midpoints, one scale for the
embedding) are in benchmarks/results/history/ (text2img_tune-*.md).

Data: a captioned set (data/captions.py). Sampling: artifacts/text.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..artifacts.noise import standing_stats
from ..artifacts.text import TextToImage
from ..io.errors import GanforgeError
from ..nets import build_net
from ..nets.text2img import TEXT_NORMS
from .base import Family, Phase
from .losses import d_prob
from .options import RunOptions

# Also train on each caption with words dropped at this rate (one more pair per pair), so a new
# phrasing is not a new condition. Off by default: chosen by mean R-precision on seen + validation
# captions over two tuning sets (1500 steps, seed 0; mnist5k 0: 0.742 / 0.552, 0.5: 0.676 / 0.600;
# fashion-mnist 0: 0.517 / 0.487, 0.5: 0.480 / 0.457): 0.575 at 0 vs 0.553 at 0.5.
WORD_DROPOUT = 0.0

# 4,500 steps and MSGAN's term at weight 0.01, against cgan's 3,000 steps and no term (tuning runs,
# seed 0, seen / validation captions, benchmarks/results/history/text2img_tune-2026-12-05-4.md):
# R-precision mnist5k 0.859 / 0.704 -> 0.867 / 0.671, fashion-mnist 0.609 / 0.569 -> 0.615 / 0.545 (mean over both 0.685 -> 0.675);
# recall 0.19 -> 0.47 and 0.13 -> 0.40, FID 8.28 -> 7.10 and 14.5 -> 11.0; fashion-mnist width
# accuracy 0.744 / 0.779 -> 0.780 / 0.783. 4,500 steps alone read best by R-precision (0.702)
# but left recall at 0.16 / 0.13: one image per caption. Heavier terms bought more recall at
# too much text (fashion-mnist, 3,000 steps: weight 0.05 R-precision 0.540 / 0.491, recall 0.56;
# 0.2: 0.398 / 0.361, 0.65).
# Images of 12 px or less keep 1,500 steps and get the same term (digits-captions, seed 0, 1,500
# steps: R-precision 0.356 / 0.282 -> 0.328 / 0.273, recall 0.22 -> 0.49, FID 20.1 -> 18.6; 0.05:
# 0.309 / 0.250, recall 0.61): without it the health monitor's recall probe read 0.03 against a
# real floor of 0.91 at the end of a default run, a partial collapse (monitor/probes.py).
TEXT2IMG_STEPS = 4500
DIVERSITY_WEIGHT = 0.01

# At sampling, each caption's embedding is projected onto the fewest principal directions of the
# training captions' embeddings holding this share of their variance (data/captions.py
# `subspace`): a new phrasing's moves along directions the training captions never moved in are
# dropped, not extrapolated by G. Chosen on seen / validation captions of the default runs (seed
# 0, the same weights read at each share, benchmarks/results/history/text2img_tune-2026-12-05-5.md):
# R-precision mnist5k 0.856 / 0.636 as given -> 0.827 / 0.714 at 0.975 (34 components), fashion-mnist
# 0.626 / 0.563 -> 0.615 / 0.611 (32); mean over both 0.670 as given, 0.687 at 0.99, 0.692 at
# 0.975, 0.674 at 0.95 (best on mnist5k, but fashion-mnist's width accuracy fell 0.79 -> 0.68).
TEXT_SUBSPACE = 0.975
# Of those directions, sampling keeps only the span of the ones whose canonical correlation with
# the paired images' 32 leading pixel components is at least this (data/captions.py
# `_content_directions`): the wording-only directions inside the training span go too.
# Chosen on the same runs and captions (benchmarks/results/text2img_tune.md), R-precision seen /
# validation: mnist5k 0.827 / 0.714 with the share's 34 directions -> 0.805 / 0.765 at 0.03 (26),
# 0.805 / 0.773 at 0.04 (25), 0.799 / 0.785 at 0.05 (23); fashion-mnist 0.615 / 0.611 (32) ->
# 0.604 / 0.610, 0.598 / 0.610, 0.596 / 0.607. Mean over both 0.692 -> 0.696 / 0.697 / 0.697: flat,
# while mnist5k's template gap falls 11.3 -> 4.0 / 3.2 / 1.4 points; 0.04 is the middle of the flat
# range (at 18 directions, an earlier probe, mnist5k fell to 0.741 / 0.710).
TEXT_MIN_CORR = 0.04


# mismatch_nearest 0.5 vs 0 on fashion-mnist-captions (tuning run, seen / validation captions,
# history/text2img_tune-2026-12-04.md): size accuracy 0.854 / 0.843 vs 0.788 / 0.798, but width 0.651 / 0.749 vs
# 0.698 / 0.773, class accuracy 0.953 / 0.940 vs 0.977 / 0.980, R-precision 0.523 / 0.500 vs
# 0.543 / 0.497: no better overall, so it stays off. (MiniLM puts "a coat that is dark and
# narrow" as close to "... dark and wide" (cosine 0.97) as to "a dark, narrow coat" (0.97), so a
# nearest caption is often a rephrasing of the same content, not a contradiction.)


@dataclass
class Text2ImgOptions(RunOptions):
    loss: str = "hinge"
    z_dim: int = 32
    channels: int = 32
    cond_dim: int = 64                # conditioning-augmentation size
    kl_weight: float = 0.02           # conditioning-augmentation KL in G's loss (1.0 drowned the text: digits class accuracy 0.09 vs 0.96)
    mismatch_weight: float = 0.5      # share of D's fake term given to real images with wrong captions
    mismatch_nearest: float = 0.0     # share of wrong captions that are the batch's most similar other caption (hard negatives; measured no better, so 0)
    spectral_norm: bool = True
    ema_decay: float = 0.999
    image_size: int | None = None
    text_encoder: str = "minilm"      # sentence encoder: "minilm" (packaged, offline) or one added with register_encoder
    text_norm: str = "dim"            # G's view of the embedding: "dim" standardised per dimension, "global" one scale
    text_noise: float = 0.0           # noise of this expected length on the (unit) embeddings G trains on
    interp_weight: float = 0.0        # GAN-INT-CLS: G also fools D on midpoints of two captions' embeddings
    word_dropout: float = 0.0         # also train on each caption with words dropped at this rate (0 = off)
    diversity_weight: float = 0.0     # MSGAN mode seeking: G is rewarded for two noises giving two images of one caption
    subspace_in_training: bool = False  # also train G and D on the projected embeddings (tuning, share only: mean R-precision 0.689 vs 0.692 at sampling only)
    text_subspace: float = TEXT_SUBSPACE  # sampling: captions projected onto the training captions' principal directions holding this share of their variance (0: as given)
    text_min_corr: float = TEXT_MIN_CORR  # sampling: of those, keep the directions correlated with the images at least this much (CCA; 0: all)


def _fake_term(kind: str, logit: torch.Tensor) -> torch.Tensor:
    return F.relu(1 + logit).mean() if kind == "hinge" else F.softplus(logit).mean()


def _real_term(kind: str, logit: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - logit).mean() if kind == "hinge" else F.softplus(-logit).mean()


class Text2Img(Family):
    name = "text2img"
    summary = "text to image: G conditioned on a sentence embedding, matching-aware projection D"
    Options = Text2ImgOptions
    losses = ("hinge", "ns")
    next_command = 'generate {run} --text "..." -n 16 --out images.png'
    fast_path = True  # noise-to-image conv nets judged by a D: bf16 + NHWC where measured safe

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        tiny = max(meta["shape"][1:]) <= 12
        # The conditional recipe of families/gan.py (hinge, spectral norm, betas (0, 0.9)) at a
        # width that fits a laptop CPU: 28 px at 16 channels. Length and the diversity term were
        # chosen on the tuning captions (seen + validation templates, seed 0, TEXT2IMG_STEPS' note);
        # images of 12 px or less keep 1,500 steps (with the term: see DIVERSITY_WEIGHT).
        if tiny:
            return dict(batch_size=64, betas=(0.0, 0.9), channels=32, z_dim=32, steps=1500,
                        word_dropout=WORD_DROPOUT, diversity_weight=DIVERSITY_WEIGHT)
        return dict(batch_size=64, betas=(0.0, 0.9), channels=16, z_dim=32, steps=TEXT2IMG_STEPS,
                    word_dropout=WORD_DROPOUT, diversity_weight=DIVERSITY_WEIGHT)

    @classmethod
    def load_data(cls, spec: str, opts: dict):
        from ..data.captions import load_captioned
        from ..data.text import CachedEncoder, user_cache
        key = opts.get("text_encoder") or Text2ImgOptions.text_encoder
        data = load_captioned(spec, opts.get("image_size"))
        share = WORD_DROPOUT if opts.get("word_dropout") is None else opts["word_dropout"]
        if not 0 <= share < 1:
            raise GanforgeError(f"word_dropout is a share of words, from 0 up to 1; got {share}")
        data = data.with_dropped_words(share, seed=int(opts.get("seed") or 0)).embedded(CachedEncoder(key, [user_cache(key)]))
        if opts.get("subspace_in_training"):
            given = lambda k: getattr(Text2ImgOptions, k) if opts.get(k) is None else opts[k]  # noqa: E731
            data = data.projected(given("text_subspace"), given("text_min_corr"))
        return data

    def __init__(self, cfg, meta: dict):
        self.cfg, shape, info = cfg, meta["shape"], meta.get("info") or {}
        if "text_dim" not in info:
            raise GanforgeError(f"--model text2img needs images with captions, but '{meta['name']}' has none; "
                                f"use a folder with captions.csv, a .jsonl or .npz with captions, or a "
                                f"built-in captioned set such as mnist5k-captions")
        self.examples, text_dim = list(info.get("example_captions", [])), int(info["text_dim"])
        if cfg.text_norm not in TEXT_NORMS:
            raise GanforgeError(f"text_norm must be one of {', '.join(TEXT_NORMS)}, got {cfg.text_norm!r}")
        if cfg.text_noise < 0 or cfg.interp_weight < 0 or cfg.diversity_weight < 0:
            raise GanforgeError("text_noise, interp_weight and diversity_weight must be 0 or more")
        if not 0 <= cfg.text_subspace <= 1:
            raise GanforgeError(f"text_subspace is a share of variance, from 0 (off) to 1; got {cfg.text_subspace}")
        if not 0 <= cfg.text_min_corr < 1:
            raise GanforgeError(f"text_min_corr is a correlation, from 0 (keep all) up to 1; got {cfg.text_min_corr}")
        self._subspace = None  # computed once from the training captions, at the first sampling view
        if not 0 <= cfg.mismatch_nearest <= 1:
            raise GanforgeError(f"mismatch_nearest is a share, from 0 to 1; got {cfg.mismatch_nearest}")
        g_kw = {"text_norm": cfg.text_norm} if cfg.text_norm != "dim" else {}  # older runs' specs unchanged
        self.specs = {
            "G": {"net": "text_g", "kwargs": dict(z_dim=cfg.z_dim, text_dim=text_dim, out_shape=list(shape),
                                                  channels=cfg.channels, cond_dim=cfg.cond_dim, **g_kw)},
            "D": {"net": "text_d", "kwargs": dict(in_shape=list(shape), text_dim=text_dim, channels=cfg.channels,
                                                  spectral=cfg.spectral_norm)},
        }
        self.nets = {k: build_net(s) for k, s in self.specs.items()}
        self.ema = ("G",) if cfg.ema_decay > 0 else ()
        self.phases = [Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas, keeps_graph=("G",)),
                       Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas, fresh_batch=False)]

    def d_step(self, batch, ctx):
        G, D, kind, m = self.nets["G"], self.nets["D"], self.cfg.loss, self.cfg.mismatch_weight
        real, emb = batch
        c, kl = G.condition(self._noisy(emb))  # with its graph: the G phase reuses these fakes
        fake = G.render(torch.randn(len(real), self.cfg.z_dim, device=real.device), c)
        ctx["fake"], ctx["kl"], ctx["c"] = fake, kl, c
        wrong = self._wrong_captions(emb)
        other = (wrong != emb).any(1)  # the same caption text is no wrong caption
        n, k = len(real), int(other.sum())
        logit = D(torch.cat([real, fake.detach(), real[other]]), torch.cat([emb, emb, wrong[other]]))
        real_l, fake_l, wrong_l = logit[:n], logit[n:2 * n], logit[2 * n:]
        loss = _real_term(kind, real_l) + (1 - m) * _fake_term(kind, fake_l)
        if k:
            loss = loss + m * _fake_term(kind, wrong_l)
        p_real, p_fake = d_prob(kind, real_l.detach()), d_prob(kind, fake_l.detach())
        stats = {"d_loss": loss.detach(), "D_real": p_real.mean(), "D_fake": p_fake.mean(),
                 "D_acc": 0.5 * ((p_real > 0.5).float().mean() + (p_fake <= 0.5).float().mean())}
        if k:  # how real D finds real images under another image's caption (falls as D reads text)
            stats["D_wrong"] = d_prob(kind, wrong_l.detach()).mean()
        return loss, stats

    def g_step(self, batch, ctx):
        G, D, cfg = self.nets["G"], self.nets["D"], self.cfg
        real, emb = batch
        fake, kl, c = (ctx.pop(k, None) for k in ("fake", "kl", "c"))
        if fake is None:
            c, kl = G.condition(self._noisy(emb))
            fake = G.render(torch.randn(len(real), cfg.z_dim, device=real.device), c)
        adv_of = (lambda lg: F.softplus(-lg).mean()) if cfg.loss == "ns" else (lambda lg: -lg.mean())
        adv = adv_of(D(fake, emb))
        kl = kl.float().mean()
        loss, stats = adv + cfg.kl_weight * kl, {"g_loss": adv.detach(), "kl": kl.detach()}
        if cfg.interp_weight > 0:  # GAN-INT-CLS: midpoints between captions must also look right to D
            mid = F.normalize(0.5 * (emb + emb.roll(1, 0)), dim=1)
            c_mid, kl_mid = G.condition(self._noisy(mid))
            adv_mid = adv_of(D(G.render(torch.randn(len(real), cfg.z_dim, device=real.device), c_mid), mid))
            loss = loss + cfg.interp_weight * (adv_mid + cfg.kl_weight * kl_mid.float().mean())
            stats["g_interp"] = adv_mid.detach()
        if cfg.diversity_weight > 0:
            spread = self._spread(c)
            loss = loss + cfg.diversity_weight / (spread + 1e-5)
            stats["g_spread"] = spread.detach()
        return loss, stats

    def _spread(self, c: torch.Tensor) -> torch.Tensor:
        """MSGAN (Mao et al. 2019): how far apart two images of one condition are per unit of noise
        distance, over half the batch's conditions each drawn with two noises. Both draws go
        through G in one batch, so BatchNorm sees them alike and only the noise tells them apart.
        A G that ignores its noise (one image per caption: low recall) scores 0, and 1 / spread in
        G's loss pushes it to use the noise."""
        k = max(1, len(c) // 2)
        z = torch.randn(2 * k, self.cfg.z_dim, device=c.device)
        a, b = self.nets["G"].render(z, torch.cat([c[:k], c[:k]])).float().chunk(2)
        image_gap = (a - b).abs().flatten(1).mean(1)
        noise_gap = (z[:k] - z[k:]).abs().mean(1)
        return (image_gap / noise_gap).mean()

    def _wrong_captions(self, emb: torch.Tensor) -> torch.Tensor:
        """Each pair's wrong caption: the next pair's; for a `mismatch_nearest` share of pairs, the
        batch's most similar other caption text instead, which mostly differs in a detail (an
        attribute word) rather than the whole content, so D must read the details."""
        wrong = emb.roll(1, 0)
        share = self.cfg.mismatch_nearest
        if share <= 0 or len(emb) < 3:
            return wrong
        with torch.no_grad():
            e = F.normalize(emb.float(), dim=1)
            sim = e @ e.T
            sim = sim.masked_fill((emb[:, None, :] == emb[None, :, :]).all(2), float("-inf"))  # same text
            nearest = emb[sim.argmax(1)]
        pick = torch.rand(len(emb), device=emb.device) < share
        return torch.where(pick[:, None], nearest, wrong)

    def _noisy(self, emb: torch.Tensor) -> torch.Tensor:
        """The embedding G trains on: plus Gaussian noise of expected length --text-noise."""
        if self.cfg.text_noise <= 0:
            return emb
        return emb + torch.randn_like(emb) * (self.cfg.text_noise / emb.shape[1] ** 0.5)

    def progress_parts(self, record: dict) -> list[str]:
        if "D_wrong" not in record:
            return []
        return [f"D(x) {record['D_real']:.2f} D(x,wrong) {record['D_wrong']:.2f} D(G) {record['D_fake']:.2f}"]

    def sampler_info(self) -> dict:
        return {"input": "text", "z_dim": self.cfg.z_dim, "text_encoder": self.cfg.text_encoder,
                "examples": self.examples}

    def sampling_view(self, net, data, device):
        info = dict(self.sampler_info(), family=self.name, net=self.specs["G"], data=data.meta())
        g = torch.Generator().manual_seed(99)  # own RNG: training randomness stays untouched
        pairs = data.pair_caption

        def inputs(i):
            pick = pairs[torch.randint(len(pairs), (128,), generator=g)]
            return torch.randn(128, self.cfg.z_dim, generator=g).to(device), data.emb[pick].to(device)
        standing_stats(net, inputs)
        where = {t: i for i, t in enumerate(data.captions)}
        known = {t: data.emb[where[t]].numpy() for t in self.examples if t in where}
        if self._subspace is None:
            self._subspace = (data.subspace(self.cfg.text_subspace, self.cfg.text_min_corr),)
        return TextToImage(net, info, device, known=known, subspace=self._subspace[0])

    def preview_png(self, trainer) -> bytes | None:
        return trainer.generator().preview_png(title=f"step {trainer.step}") if self.examples else None
