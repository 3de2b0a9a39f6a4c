"""Defaults on data they were never tuned on: held-out discipline for the image recipes.

The image defaults (families/gan.py `image_defaults`) are tuned on TUNING_SETS with TUNING_SEEDS
and reported here on HELD_OUT_SETS with REPORT_SEEDS, which the tuning never saw. Every set is
written to an .npz and trained exactly as a user would: `ganforge.train(path)`, no flags (the
data decides the family: labelled images train cgan). Sets (offline; built once, cached):

  fashion-wear-20   Fashion-MNIST clothing (6 classes: T-shirt, trouser, pullover, dress, coat,
                    shirt), 1,000 each, resized to 20x20 grey
  fashion-kit-36    Fashion-MNIST sandal, sneaker, bag, ankle boot, 1,000 each, 36x36 grey
  shapes-60         shapes drawn with Pillow (circle, square, triangle, cross), random colour,
                    size, place and angle on a random background, 1,000 each, 60x60 RGB
  faces-25          scikit-image lfw_subset: 100 faces and 100 non-faces, 25x25 grey
  textures-100      crops of scikit-image brick, grass, gravel (400 each, flips), 100x100 grey
  mnist5k, digits   the tuning sets (built-in), reported on the report seeds for comparison
  mnist5k-rgb-64    tuning set for large colour images: mnist5k's digits scaled to 30-46 px at a
                    random place on 64x64, a random background colour and an independent
                    foreground colour at least 120 levels away (10 classes, 500 each)

Per set and seed: wall time of training; label accuracy read by two readers, ganforge's own
(`ganforge.evaluate`: the shipped or run-trained CNN) and an independent judge CNN of another
architecture trained here on 80% of the real images (its accuracy on the other 20% beside it),
the weaker reported; FID, precision, recall, coverage in ganforge's features with their
real-vs-real floors; the lowest per-class recall; and the health monitor's findings.

    python benchmarks/generalisation.py                       # every set, report seed 1
    python benchmarks/generalisation.py --sets shapes-60 --seeds 1 2
    python benchmarks/generalisation.py --tuning              # the tuning sets on the tuning seeds
    python benchmarks/generalisation.py --table               # only rewrite the .md from the .jsonl
    python benchmarks/generalisation.py --sets shapes-60 --keep /tmp/runs   # keep the trained runs (logs, samples)
    python benchmarks/generalisation.py --sets shapes-60 --opt channels=8 steps=6000   # a variant: generalisation_tuning.jsonl
Rows append to benchmarks/results/generalisation.jsonl (keyed by date, commit, machine);
benchmarks/results/generalisation.md is rewritten from the latest row of each set and seed.
"""
from __future__ import annotations

import argparse
import sys
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import ganforge
from _record import latest, provenance
from ganforge.metrics.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CACHE = Path(os.environ.get("GANFORGE_BENCH_CACHE", Path(tempfile.gettempdir()) / "ganforge-generalisation"))
TUNING_SETS = ("mnist5k", "digits", "mnist5k-rgb-64")
TUNING_SEEDS = (0,)
HELD_OUT_SETS = ("fashion-wear-20", "fashion-kit-36", "shapes-60", "faces-25", "textures-100")
REPORT_SEEDS = (1, 2, 3)
EVAL_N = 2500


# ---- the sets -------------------------------------------------------------------------------
def _resize(x: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W[, C]) -> (N, size, size[, C]), antialiased bicubic."""
    t = torch.from_numpy(x).float()
    t = t[:, None] if t.dim() == 3 else t.permute(0, 3, 1, 2)
    t = F.interpolate(t, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    t = t.clamp(0, 255).round().to(torch.uint8)
    return (t[:, 0] if x.ndim == 3 else t.permute(0, 2, 3, 1)).numpy()


def _fashion(classes, per_class, size):
    from ganforge.data.builtin import load
    d = load("fashion-mnist")
    x = ((d.x[:, 0].numpy() + 1) * 127.5).round().astype(np.uint8)
    y = d.labels.numpy()
    idx = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in classes])
    return _resize(x[idx], size), np.searchsorted(classes, y[idx])


def _shapes(per_class=1000, size=60, seed=0):
    from PIL import Image, ImageDraw
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label in range(4):
        for _ in range(per_class):
            bg = tuple(int(v) for v in rng.integers(0, 256, 3))
            fg = tuple(int(v) for v in (np.array(bg) + rng.integers(80, 176, 3)) % 256)
            im = Image.new("RGB", (4 * size, 4 * size), bg)  # drawn at 4x, downsampled: smooth edges
            draw = ImageDraw.Draw(im)
            r = rng.uniform(0.18, 0.34) * 4 * size
            cx, cy = rng.uniform(r + 4, 4 * size - r - 4, 2)
            a = rng.uniform(0, 2 * np.pi)
            if label == 0:
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
            else:
                n = {1: 4, 2: 3, 3: 12}[label]
                if label == 3:  # a cross: 12 corners at radii r and r/3
                    pts = [(cx + rad * np.cos(a + t), cy + rad * np.sin(a + t))
                           for k in range(4) for rad, t in ((r, k * np.pi / 2 - 0.32), (r, k * np.pi / 2 + 0.32),
                                                            (r / 2.2, k * np.pi / 2 + np.pi / 4))]
                else:
                    pts = [(cx + r * np.cos(a + 2 * np.pi * k / n), cy + r * np.sin(a + 2 * np.pi * k / n))
                           for k in range(n)]
                draw.polygon(pts, fill=fg)
            images.append(np.asarray(im.resize((size, size), Image.LANCZOS)))
            labels.append(label)
    return np.stack(images), np.array(labels)


def _faces():
    from skimage import data
    x = data.lfw_subset()  # 100 faces then 100 non-faces, floats in [0, 1]
    return (x * 255).round().astype(np.uint8), np.repeat([0, 1], 100)


def _mnist_rgb(size=64, seed=0):
    from ganforge.data.builtin import load
    rng = np.random.default_rng(seed)
    d = load("mnist5k")
    ink = (d.x[:, 0] + 1) / 2  # (N, 28, 28) in [0, 1]
    out = np.empty((len(ink), size, size, 3), np.uint8)
    for i in range(len(ink)):
        s = int(rng.integers(30, 47))
        a = F.interpolate(ink[i][None, None], size=(s, s), mode="bilinear", align_corners=False)[0, 0].numpy()
        top, left = rng.integers(0, size - s + 1, 2)
        alpha = np.zeros((size, size), np.float32)
        alpha[top:top + s, left:left + s] = a.clip(0, 1)
        bg = rng.integers(0, 256, 3)
        while True:
            fg = rng.integers(0, 256, 3)
            if np.abs(fg - bg).sum() >= 120:
                break
        out[i] = (bg * (1 - alpha[..., None]) + fg * alpha[..., None]).round().astype(np.uint8)
    return out, d.labels.numpy()


def _textures(per_class=400, size=100, seed=0):
    from skimage import data
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(("brick", "grass", "gravel")):
        src = getattr(data, name)()
        for _ in range(per_class):
            top, left = rng.integers(0, src.shape[0] - size, 2)
            crop = src[top:top + size, left:left + size]
            images.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
            labels.append(label)
    return np.stack(images), np.array(labels)


BUILDERS = {
    "fashion-wear-20": lambda: _fashion([0, 1, 2, 3, 4, 6], 1000, 20),
    "fashion-kit-36": lambda: _fashion([5, 7, 8, 9], 1000, 36),
    "shapes-60": _shapes,
    "faces-25": _faces,
    "textures-100": _textures,
    "mnist5k-rgb-64": _mnist_rgb,
}


def dataset(name: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(what to pass to ganforge.train, uint8 images (N, H, W, C), labels) for a set."""
    if name not in BUILDERS:  # a built-in tuning set
        from ganforge.data.builtin import load
        d = load(name)
        x = ((d.x.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().astype(np.uint8)
        return name, x, d.labels.numpy()
    path = CACHE / f"{name}.npz"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        x, y = BUILDERS[name]()
        np.savez_compressed(path, images=x, labels=y)
    with np.load(path) as f:
        x, y = f["images"], f["labels"]
    return str(path), (x[..., None] if x.ndim == 3 else x), y


# ---- the independent judge --------------------------------------------------------------------
class Judge(nn.Module):
    """A label reader unlike ganforge's DomainCNN: inputs resized to 32x32, two conv pairs with
    max pooling, global average pooling, dropout."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        def pair(i, o):
            return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                    nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]
        self.body = nn.Sequential(*pair(channels, 16), *pair(16, 32), nn.Conv2d(32, 64, 3, padding=1),
                                  nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
                                  nn.Linear(64, classes))

    def forward(self, x):
        return self.body(F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False))


def _model_space(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1


def train_judge(x: np.ndarray, y: np.ndarray, seed: int = 0, passes: int = 60_000, epochs: int = 30):
    """Judge trained on a stratified 80% (±2 px shifts), and its accuracy on the other 20%:
    `passes` images or `epochs` passes over the training part, whichever is fewer (>= 300 steps)."""
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: max(1, (y == c).sum() // 5)]
                           for c in np.unique(y)])
    train = np.setdiff1d(np.arange(len(y)), test)
    xt, yt = _model_space(x[train]), torch.from_numpy(y[train]).long()
    torch.manual_seed(seed)
    net = Judge(x.shape[-1], int(y.max()) + 1)
    steps = max(300, min(passes, epochs * len(train)) // 64)
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(steps):
        idx = torch.randint(len(xt), (64,), generator=g)
        dx, dy = torch.randint(-2, 3, (2,), generator=g).tolist()
        xb = torch.roll(xt[idx], (dy, dx), (2, 3))
        loss = F.cross_entropy(net(xb), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    return net, _accuracy(net, _model_space(x[test]), torch.from_numpy(y[test]).long())


@torch.no_grad()
def _accuracy(net, x: torch.Tensor, y: torch.Tensor) -> float:
    pred = torch.cat([net(x[i:i + 500]).argmax(1) for i in range(0, len(x), 500)])
    return float((pred == y).float().mean())


# ---- one set, one seed ----------------------------------------------------------------------
def run_one(name: str, seed: int, out: Path, judge_cache: dict, **options) -> dict:
    """One set, one seed, at the defaults (`options`: a tuning variant's explicit options)."""
    data, x, y = dataset(name)
    if name not in judge_cache:
        t = time.time()
        judge_cache[name] = (*train_judge(x, y), time.time() - t)
    judge, judge_real_acc, judge_s = judge_cache[name]
    t0, cpu0, load0 = time.time(), time.process_time(), os.getloadavg()[0]
    run = ganforge.train(data, out=out, seed=seed, progress=False, **options)
    wall, cpu = time.time() - t0, time.process_time() - cpu0
    cfg = run.config["config"]
    doc = evaluate(run.path, n=min(EVAL_N, len(x) // 2), write=True)
    m = {r["metric"]: (r["value"], r["floor"]) for r in doc["metrics"]}
    nc = int(y.max()) + 1
    per = max(100, min(500, len(y) // nc))
    gen = ganforge.load(run.path)
    asked = torch.arange(nc).repeat_interleave(per)
    xs, _ = gen.sample_tensor(len(asked), labels=asked, seed=seed + 100)
    xs = (((xs.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1)  # what a user saves: 8-bit
    judge_acc = _accuracy(judge, xs, asked)
    pc = doc.get("per_class") or []
    recalls = [r["recall"] for r in pc if r.get("recall") is not None]
    findings = sorted({f"{r['finding']} ({r['severity']})" for r in run.log if "finding" in r and "severity" in r})
    return {"set": name, "tuning": name in TUNING_SETS, "seed": seed, "family": run.config["family"],
            "shape": run.config["data"]["shape"], "count": len(y), "classes": nc, "steps": run.step,
            "options": {k: cfg[k] for k in ("steps", "batch_size", "channels", "z_dim", "loss", "spectral_norm",
                                            "ac_weight", "lr_g", "lr_d", "betas", "ema_decay", "r1_gamma",
                                            "augment", "upsample", "class_pool", "ac_fake", "class_guide") if k in cfg},
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load": round((load0 + os.getloadavg()[0]) / 2, 1),
            "judge_real_acc": round(judge_real_acc, 4), "judge_acc": round(judge_acc, 4), "judge_train_s": round(judge_s, 1),
            "own_acc": _r(m.get("label_accuracy", (None, None))[0]),
            "own_real_acc": _r(m.get("label_accuracy", (None, None))[1]),
            "extractor": doc["protocol"]["extractor"],
            **{k: _r(m[k][0]) for k in ("fid", "precision", "recall", "coverage")},
            **{f"{k}_floor": _r(m[k][1]) for k in ("fid", "precision", "recall", "coverage")},
            "class_recall_min": _r(min(recalls)) if recalls else None,
            "class_recall_floor_min": _r(min(r["recall_floor"] for r in pc if r.get("recall_floor") is not None))
            if recalls else None,
            "near_copy": _r(doc["memorisation"]["near_copy_share"]),
            "findings": findings}


def _r(v):
    return round(float(v), 4) if isinstance(v, (int, float)) else v


# ---- results ----------------------------------------------------------------------------------
def stamp() -> dict:
    p = provenance()
    return {"date": p["date"], "commit": p["commit"], "machine": f"{p['machine']}, {torch.get_num_threads()} threads"}


def latest_rows(jsonl: Path) -> list[dict]:
    """The latest row of each (set, seed), in the script's set order."""
    order = {n: i for i, n in enumerate((*HELD_OUT_SETS, *TUNING_SETS))}
    return sorted(latest(jsonl, lambda r: (r["set"], r["seed"])).values(), key=lambda r: (order[r["set"]], r["seed"]))


def render(rows: list[dict]) -> str:
    keys = sorted({(r["date"][:10], r["commit"], r["machine"]) for r in rows})
    lines = ["# Generalisation: image defaults on sets they were not tuned on",
             "",
             "`python benchmarks/generalisation.py` (the latest row of each set and seed in "
             "generalisation.jsonl); measured " + "; ".join(f"{d} at commit {c}, {m}" for d, c, m in keys) + ". "
             "Shared machine: wall times are inflated when the load average (column *load*) exceeds the "
             "core count.",
             "",
             f"Tuning sets (the defaults were chosen on these, seeds {', '.join(map(str, TUNING_SEEDS))}): "
             f"{', '.join(TUNING_SETS)} (mnist5k-rgb-64, for large colour images, chose G's resize upsampling for "
             f"nets of four or more doublings; its variants: generalisation_tuning.jsonl). Held-out sets (never "
             f"tuned on): {', '.join(HELD_OUT_SETS)}; fashion-kit-36 only until it moved that threshold (first "
             f"\"above 32 px\", which cost it recall; families/gan.py). "
             f"Every row trains `ganforge.train(DATA, seed=SEED)` with no other option.",
             "",
             "Label accuracy: **weaker** of two readers: the independent judge CNN (trained here on 80% of "
             "the real images; *real* = its accuracy on the other 20%) and ganforge's own reader "
             "(`ganforge evaluate`'s extractor; *real* = its held-out accuracy). FID, precision, recall, "
             "coverage: `ganforge evaluate` in ganforge's features (shipped CNN for built-in sets, else a "
             "CNN trained on the run's data), floor = real half B vs real half A at the same n. Near copies: the "
             "share of generated images closer to a training image than 99% of reference real images are "
             "(`ganforge evaluate`'s memorisation check; about 1% for a generator that does not copy; – where "
             "the row predates the column).",
             "",
             "| set | tuned on | seed | family | shape | n | steps | wall s | load | label acc (weaker) | "
             "judge: gen / real | own: gen / real | FID (floor) | precision (floor) | recall (floor) | "
             "coverage (floor) | worst class recall (floor) | near copies | monitor findings |",
             "|" + "---|" * 19]
    for r in rows:
        own = r["own_acc"]
        weaker = min(v for v in (r["judge_acc"], own) if v is not None)
        real = r["judge_real_acc"] if weaker == r["judge_acc"] else r["own_real_acc"]
        lines.append(
            f"| {r['set']} | {'yes' if r['tuning'] else 'no'} | {r['seed']} | {r['family']} | "
            f"{'x'.join(map(str, r['shape']))} | {r['count']:,} | {r['steps']} | {r['wall_s']:.0f} | {r['load']} | "
            f"{weaker:.1%} (real {real:.1%}) | {r['judge_acc']:.1%} / {r['judge_real_acc']:.1%} | "
            f"{_pct(own)} / {_pct(r['own_real_acc'])} | {r['fid']:.3g} ({r['fid_floor']:.2g}) | "
            f"{r['precision']:.2f} ({r['precision_floor']:.2f}) | {r['recall']:.2f} ({r['recall_floor']:.2f}) | "
            f"{r['coverage']:.2f} ({r['coverage_floor']:.2f}) | {_num(r['class_recall_min'])} "
            f"({_num(r['class_recall_floor_min'])}) | {_pct(r.get('near_copy'))} | {', '.join(r['findings']) or 'none'} |")
    lines += ["", "Options each run got from its data (defaults, no flags):", ""]
    seen = set()
    for r in rows:
        key = (r["set"], json.dumps(r["options"], sort_keys=True))
        if key not in seen:
            seen.add(key)
            lines.append(f"- {r['set']}: `{json.dumps(r['options'])}`")
    return "\n".join(lines) + "\n"


def _pct(v):
    return f"{v:.1%}" if isinstance(v, (int, float)) else "–"


def _num(v):
    return f"{v:.2f}" if isinstance(v, (int, float)) else "–"


def _value(text: str):
    """An --opt value: JSON where it parses (numbers, true/false, lists), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", nargs="+", choices=[*HELD_OUT_SETS, *TUNING_SETS])
    ap.add_argument("--seeds", nargs="+", type=int)
    ap.add_argument("--tuning", action="store_true", help="the tuning sets on the tuning seeds")
    ap.add_argument("--opt", nargs="+", default=[], metavar="KEY=VALUE",
                    help="a variant's training options (JSON values): rows go to generalisation_tuning.jsonl, "
                         "never to the defaults' table")
    ap.add_argument("--table", action="store_true", help="only rewrite generalisation.md from generalisation.jsonl")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="keep each trained run in DIR/SET-SEED (its log, samples and checkpoint) instead of a temp folder")
    args = ap.parse_args()
    if args.table:
        (RESULTS / "generalisation.md").write_text(render(latest_rows(RESULTS / "generalisation.jsonl")))
        return
    opts = {k: _value(v) for k, v in (o.split("=", 1) for o in args.opt)}
    sets = args.sets or (TUNING_SETS if args.tuning else (*HELD_OUT_SETS, *TUNING_SETS))
    seeds = args.seeds or (TUNING_SEEDS if args.tuning else REPORT_SEEDS[:1])
    st = stamp()
    RESULTS.mkdir(parents=True, exist_ok=True)
    jsonl = RESULTS / ("generalisation_tuning.jsonl" if opts else "generalisation.jsonl")
    judges: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.keep or tmp
        for name in sets:
            for seed in seeds:
                row = {**st, **run_one(name, seed, Path(tmp) / f"{name}-{seed}", judges, **opts),
                       **({"variant": opts, "command": "python benchmarks/generalisation.py " + " ".join(sys.argv[1:])}
                          if opts else {})}
                print(json.dumps(row), flush=True)
                with open(jsonl, "a") as f:
                    f.write(json.dumps(row) + "\n")
                if not opts:  # rewritten after every row (a long run interrupted keeps what it measured)
                    (RESULTS / "generalisation.md").write_text(render(latest_rows(jsonl)))


if __name__ == "__main__":
    main()
