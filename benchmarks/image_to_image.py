"""Image-to-image benchmark (not a test): trains each family briefly on the offline training
photos and scores it on held-out photos (scikit-image `chelsea`, scikit-learn `flower.jpg`).

  SR x4      PSNR / SSIM (torchmetrics) and high-frequency energy of bicubic, the warm-up
             (SRResNet, pixel loss only) net and the SRGAN (warm-up + adversarial steps)
  inpaint    PSNR and L1 inside the holes (>= 15% of the image) vs OpenCV Telea, and vs the
             smooth fill that ganforge's G starts from (to show what the learned part adds)
  colorize   mean CIE76 colour error (Delta E, Lab) vs predicting the training photos' mean colour
  cyclegan   on photos vs a known colour transform of them: translation error vs the true B,
             cycle error, and the identity-mapping baseline

Usage: OMP_NUM_THREADS=1 python benchmarks/image_to_image.py [--only sr,inpaint,colorize,cyclegan]
       [--steps 300] [--sr-steps N] [--inpaint-steps N] [--colorize-steps N] [--cyclegan-steps N]
       [--out runs/bench-i2i]. Each family trains with its own defaults (objectives/*.py).
       Prints a table; trains into a new --out/<date-time>/ folder and writes results-<only>.json there,
       and benchmarks/results/image_to_image_<task>.md for each task it ran.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import ganforge
from _record import provenance, write_result
from ganforge.artifacts.image import ImageModel
from ganforge.data.colour import rgb_to_lab
from ganforge.data.photos import HELDOUT_PHOTOS, builtin_photo, known_transform
from ganforge.families.inpaint import random_masks

COMMON = dict(progress=False, log_every=25, ckpt_every=10**6, sample_every=10**6)


def heldout(multiple: int = 4, side: int = 256) -> list[np.ndarray]:
    """Centre crops of the held-out photos (bounded size keeps CPU time low)."""
    out = []
    for name in HELDOUT_PHOTOS:
        im = builtin_photo(name)
        h, w = im.shape[:2]
        s = min(side, h, w) // multiple * multiple
        y, x = (h - s) // 2, (w - s) // 2
        out.append(im[y:y + s, x:x + s])
    return out


def t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255.0


def hf_energy(x: torch.Tensor) -> float:
    """Mean squared Laplacian: how much fine detail an image has."""
    k = torch.tensor([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=torch.float32).expand(3, 1, 3, 3)
    return float(F.conv2d(x, k, groups=3).pow(2).mean())


def bench_sr(steps: int, out: Path) -> list[dict]:
    """`steps` warm-up (pixel loss) steps, then steps // 4 adversarial steps (resumed run).
    The family's defaults (srgan.py) are used: 48 px crops, batch 8, lr 2e-4 decayed linearly."""
    from torchmetrics.functional.image import peak_signal_noise_ratio as psnr, structural_similarity_index_measure as ssim
    warm = steps
    run = ganforge.train("photos", model="srgan", out=out / "sr", steps=warm, warmup_steps=warm, scale=4, **COMMON)
    shutil.copytree(run.path, out / "sr-warmup", dirs_exist_ok=True)
    ganforge.train("photos", model="srgan", out=out / "sr", resume=True, steps=warm + steps // 4, warmup_steps=warm,
                   scale=4, **COMMON)
    models = {"warm-up (SRResNet)": ImageModel.load(out / "sr-warmup", tile=96),
              "SRGAN": ImageModel.load(out / "sr", tile=96)}
    rows = {k: [] for k in ["bicubic", *models, "warm-up + x8 self-ensemble"]}
    for im in heldout():
        hr = t(im)
        lr_t = F.interpolate(hr, scale_factor=0.25, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
        lr = (lr_t[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        outs = {"bicubic": F.interpolate(t(lr), scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)}
        outs.update({k: t(m.upscale(lr)) for k, m in models.items()})
        # geometric self-ensemble (`ganforge upscale --self-ensemble`): same net, 8x the inference
        outs["warm-up + x8 self-ensemble"] = t(models["warm-up (SRResNet)"].upscale(lr, self_ensemble=True))
        for k, y in outs.items():
            rows[k].append((float(psnr(y, hr, data_range=1.0)), float(ssim(y, hr, data_range=1.0)),
                            hf_energy(y) / hf_energy(hr)))
    return [dict(task="SR x4", method=k, psnr=np.mean([r[0] for r in v]), ssim=np.mean([r[1] for r in v]),
                 hf_ratio=np.mean([r[2] for r in v])) for k, v in rows.items()]


def bench_inpaint(steps: int, out: Path) -> list[dict]:
    import cv2
    run = ganforge.train("photos", model="inpaint", out=out / "inpaint", steps=steps, **COMMON)  # defaults: 48 px
    model = ImageModel.load(run.path, tile=128)
    torch.manual_seed(123)
    from ganforge.nets.gated import smooth_fill
    res = {"OpenCV Telea": [], "smooth fill alone (G's starting point)": [], "ganforge inpaint": []}
    coverage = []
    # 48 px tiles of the held-out photos: the scale the net was trained at (holes of the same
    # relative size on a larger image are far larger in pixels than any hole seen in training)
    tiles = [im[y:y + 48, x:x + 48] for im in heldout(side=192) for y in range(0, 192, 48) for x in range(0, 192, 48)]
    for im in tiles:
        for _ in range(1):
            m = random_masks(2, im.shape[0])[:, 0].amax(0).numpy() > 0.5  # a stroke and a box
            if m.mean() < 0.15:
                continue
            coverage.append(m.mean())
            telea = cv2.inpaint(np.ascontiguousarray(im[..., ::-1]), m.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)[..., ::-1]
            mt = torch.from_numpy(m.astype(np.float32))[None, None]
            fill = ((smooth_fill(t(im) * 2 - 1, mt)[0].permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255)
            for k, y in (("OpenCV Telea", telea), ("smooth fill alone (G's starting point)", fill),
                         ("ganforge inpaint", model.inpaint(im, m))):
                d = (y.astype(float) - im.astype(float))[m] / 255.0
                res[k].append((10 * np.log10(1.0 / np.mean(d ** 2)), np.abs(d).mean()))
    return [dict(task=f"inpaint 48px (holes {100 * np.mean(coverage):.0f}% avg, n={len(coverage)})", method=k,
                 hole_psnr=np.mean([r[0] for r in v]), hole_l1=np.mean([r[1] for r in v])) for k, v in res.items()]


def bench_colorize(steps: int, out: Path) -> list[dict]:
    from ganforge.data.photos import TRAIN_PHOTOS
    run = ganforge.train("photos", model="colorize", out=out / "colorize", steps=steps, **COMMON)  # defaults: 64 px
    model = ImageModel.load(run.path, tile=128)
    mean_ab = torch.stack([rgb_to_lab(t(builtin_photo(n)[::4, ::4]))[0, 1:].mean((1, 2)) for n in TRAIN_PHOTOS]).mean(0)
    res = {"predict mean colour": [], "ganforge colorize": []}
    for im in heldout():
        truth = rgb_to_lab(t(im))[0]
        pred = rgb_to_lab(t(model.colorize(im)))[0]
        base = truth.clone()
        base[1:] = mean_ab[:, None, None]
        # Delta E (CIE76) over the chroma, with the true lightness for both (colour error only)
        for k, lab in (("ganforge colorize", pred), ("predict mean colour", base)):
            res[k].append(float((lab[1:] - truth[1:]).pow(2).sum(0).sqrt().mean()))
    return [dict(task="colorize", method=k, delta_e=np.mean(v)) for k, v in res.items()]


def bench_cyclegan(steps: int, out: Path) -> list[dict]:
    run = ganforge.train("photos-pairs", model="cyclegan", out=out / "cyclegan", steps=steps, image_size=32,
                         batch_size=4, channels=16, lr=2e-4, **COMMON)
    from safetensors.torch import load_file
    from ganforge.nets import build_net
    g_ab = ImageModel.load(run.path, tile=128)
    state = load_file(str(run.path / "checkpoint.safetensors"))
    spec = json.loads((run.path / "generator.json").read_text())["net"]
    g_ba = build_net(spec).eval()
    g_ba.load_state_dict({k[len("s.nets.G_ba."):]: v for k, v in state.items() if k.startswith("s.nets.G_ba.")})
    g_ba = ImageModel(g_ba, {**g_ab.info}, tile=128)
    tr, cyc, ident = [], [], []
    for im in heldout(side=128):
        truth = known_transform(im).astype(float)
        fake_b = g_ab.translate(im)
        tr.append(np.abs(fake_b - truth).mean())
        cyc.append(np.abs(g_ba.translate(fake_b).astype(float) - im).mean())
        ident.append(np.abs(im.astype(float) - truth).mean())
    return [dict(task="cyclegan known answer (L1, 0-255)", method="identity mapping", translation_l1=np.mean(ident),
                 cycle_l1=0.0),
            dict(task="cyclegan known answer (L1, 0-255)", method="ganforge cyclegan", translation_l1=np.mean(tr),
                 cycle_l1=np.mean(cyc))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="sr,inpaint,colorize,cyclegan")
    ap.add_argument("--steps", type=int, default=300, help="training steps per family (SR: warm-up; +50%% adversarial)")
    for k in ("sr", "inpaint", "colorize", "cyclegan"):
        ap.add_argument(f"--{k}-steps", type=int, default=None, help=f"{k}: overrides --steps")
    ap.add_argument("--out", default="runs/bench-i2i")
    a = ap.parse_args()
    prov = provenance()
    torch.set_num_threads(1)
    out = Path(a.out) / time.strftime("%Y%m%d-%H%M%S")  # a fresh folder: nothing under --out is deleted
    out.mkdir(parents=True, exist_ok=False)
    fns = {"sr": bench_sr, "inpaint": bench_inpaint, "colorize": bench_colorize, "cyclegan": bench_cyclegan}
    rows = []
    for name in a.only.split(","):
        t0 = time.time()
        steps = getattr(a, f"{name}_steps") or (a.steps if name != "cyclegan" else max(1, a.steps // 3))
        got = fns[name](steps, out)
        for r in got:
            r["bench"], r["train_steps"], r["seconds"] = name, steps, round(time.time() - t0)
        rows += got
        for r in got:
            print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()), flush=True)
    (out / f"results-{a.only.replace(',', '-')}.json").write_text(json.dumps(rows, indent=2, default=float))
    for name in a.only.split(","):  # one results file per task, each with its own provenance
        mine = [r for r in rows if r.get("bench") == name]
        write_result(f"image_to_image_{name}", f"Image-to-image: {name}", markdown(mine, name), prov)


NOT_SHOWN = ("task", "method", "bench")


def markdown(rows: list[dict], name: str) -> str:
    """The task's rows as a table (every number the script measured), and what they mean."""
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in NOT_SHOWN]
    fmt = (lambda v: f"{v:.4g}" if isinstance(v, float) else str(v))
    lines = [f"{rows[0]['task']}. " + HELDOUT_NOTE if rows else HELDOUT_NOTE, "",
             "| method | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for r in rows:
        lines.append(f"| {r['method']} | " + " | ".join(fmt(r.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


HELDOUT_NOTE = ("Trained on the offline photos (`photos` / `photos-pairs`) with the family's defaults, one "
                "thread; scored on held-out photos never trained on (scikit-image `chelsea`, scikit-learn "
                "`flower.jpg`, 256 px centre crops). `seconds` = training + evaluation wall time.")


if __name__ == "__main__":
    main()
