"""`ganforge evaluate RUN_DIR`: every quality number of a trained generator, with its protocol
and the real-vs-real floor, written atomically to RUN_DIR/metrics.json.

Protocol. The real training data is split (seeded) into two disjoint halves A and B of n
examples each (2D mixtures: two fresh draws). n generated samples are compared with A; the
*floor* compares B with A in exactly the same way, so it is the score of a perfect generator at
this n and with this extractor. Conditional models are sampled with A's labels.
"""
from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..artifacts.noise import Generator
from ..artifacts.saved import read_info
from ..data import load_dataset
from ..io.checkpoint import atomic_write_text, read_metadata
from ..io.errors import GanforgeError
from ..io.rundir import RunDir
from . import extractors
from .fid import classifier_score, fid, kid
from .memorisation import memorisation
from .prdc import prdc

DEFAULT_N, POINTS_N = 10_000, 2_500   # images: FID's usual 10k; points: PacGAN's 2,500
K_PR, K_DC = 3, 5
METRICS_JSON = "metrics.json"
# name -> (label, which way is better)
METRICS = {"fid": ("FID", "lower"), "kid": ("KID", "lower"), "precision": ("precision", "higher"),
           "recall": ("recall", "higher"), "density": ("density", "higher (1 = real)"),
           "coverage": ("coverage", "higher"), "classifier_score": ("classifier score", "higher"),
           "label_accuracy": ("label accuracy", "higher"), "modes": ("modes captured", "higher"),
           "high_quality": ("high-quality share", "higher"), "reverse_kl": ("reverse KL", "lower"),
           "discriminative": ("discriminative score", "lower")}


def run_dataset(run: RunDir):
    """The run's real data, reloaded exactly as training saw it (same resize)."""
    doc = run.read_config()
    cfg, meta = doc["config"], doc["data"]
    square = meta["kind"] == "images" and meta["shape"][-1] == meta["shape"][-2]
    size = cfg.get("image_size") or (meta["shape"][-1] if square else None)
    data = load_dataset(cfg["data"], size)
    if list(data.shape) != list(meta["shape"]):
        raise GanforgeError(f"the data '{cfg['data']}' now has shape {list(data.shape)}, but the run was "
                            f"trained on {meta['shape']}; evaluate against the original data")
    return data


def real_halves(data, n: int, seed: int = 0):
    """Two disjoint real sets A, B of n examples each, and a sentence saying how they were drawn."""
    if data.sampler is not None:
        g = torch.Generator().manual_seed(10_000 + seed)
        (xa, ya), (xb, yb) = data.sampler(n, g), data.sampler(n, g)
        return (xa, ya, xb, yb), n, f"two fresh draws of {n:,} from the {data.name} mixture (seed {seed})"
    total = len(data.x)
    n = min(n, total // 2)
    if n <= max(K_PR, K_DC) + 1:
        raise GanforgeError(f"{data.name} has only {total} examples: too few to split into two real "
                            f"halves for a floor; add data")
    perm = torch.randperm(total, generator=torch.Generator().manual_seed(10_000 + seed))
    a, b = perm[:n], perm[n:2 * n]
    y = data.labels
    desc = (f"{n:,} + {n:,} disjoint random examples of the {total:,} training examples "
            f"(split seed {seed})")
    return (data.x[a], y[a] if y is not None else None, data.x[b], y[b] if y is not None else None), n, desc


def core_metrics(fa, fb, fg, kid_subsets: int = 100, k_pr: int = K_PR, k_dc: int = K_DC) -> dict:
    """{metric: (generated vs A, floor = B vs A)} for FID, KID, precision/recall, density/coverage."""
    radii: dict = {}  # real A's k-NN radii: computed once for both comparisons
    g, f = prdc(fa, fg, k_pr, k_dc, radii), prdc(fa, fb, k_pr, k_dc, radii)
    out = {"fid": (fid(fg, fa), fid(fb, fa)),
           "kid": (kid(fa, fg, subsets=kid_subsets)[0], kid(fa, fb, subsets=kid_subsets)[0])}
    out.update({k: (g[k], f[k]) for k in g})
    return out


def _row(key, value, floor, protocol) -> dict:
    label, better = METRICS[key]
    return {"metric": key, "label": label, "value": value, "floor": floor, "better": better,
            "protocol": protocol}


def _per_class(ext, gen, xa_feats, fb, fg, ya, yb, yg, pg) -> list[dict]:
    names = gen.class_names
    card_acc = ext.card.get("heldout_per_class", [None] * len(names))
    pred = pg.argmax(1)
    rows = []
    for c, name in enumerate(names):
        a, b, g = ya == c, yb == c, yg == c
        row = {"class": c, "name": name, "n_generated": int(g.sum()),
               "accuracy": float((pred[g] == c).mean()) if g.any() else None,
               "real_heldout_accuracy": card_acc[c] if c < len(card_acc) else None,
               "coverage": None, "coverage_floor": None, "recall": None, "recall_floor": None}
        if min(a.sum(), b.sum(), g.sum()) > K_DC + 1:
            gen_s, real_s = prdc(xa_feats[a], fg[g], K_PR, K_DC), prdc(xa_feats[a], fb[b], K_PR, K_DC)
            row.update(coverage=gen_s["coverage"], coverage_floor=real_s["coverage"],
                       recall=gen_s["recall"], recall_floor=real_s["recall"])  # a class drawn as one image: ~0
        rows.append(row)
    return rows


def evaluate(run_dir: str | Path, n: int | None = None, seed: int = 0, extractor: str | None = None,
             inception_weights: str | Path | None = None, memorisation_n: int = 1000,
             kid_subsets: int = 100, write: bool = True, log=None) -> dict:
    """Evaluate a run's generator; returns the metrics.json document (and writes it)."""
    t0 = time.time()
    run = RunDir(run_dir)
    if not run.config_path.exists():
        raise GanforgeError(f"{run_dir} is not a ganforge run (no config.json); pass the --out folder of `ganforge train`")
    kind = read_info(run.path)["input"]
    if kind == "series":  # TimeGAN's scores instead (metrics/series_evaluate.py)
        from .series_evaluate import evaluate_series
        return evaluate_series(run.path, n, seed, write, log)
    if kind == "audio":  # no shipped audio feature extractor: the digit classifier lives in the benchmark
        raise GanforgeError(f"ganforge evaluate has no audio metrics yet; listen to `ganforge sample {run_dir} -n 16 "
                            f"--out clips`, and see benchmarks/audio.py for spoken-digits scores")
    gen = Generator.load(run.path)
    if n is not None and n < 20:
        raise GanforgeError(f"-n must be at least 20 (k-nearest-neighbour metrics need k={K_DC}+), got {n}")
    stages, tick = {}, [time.time()]

    def lap(name):  # seconds per stage, so a slow evaluation says where its time went (and shows progress)
        now = time.time()
        stages[name] = round(now - tick[0], 2)
        tick[0] = now
        if log and name not in ("load_data", "extractor"):  # bad input is refused before any progress line
            log(f"  {name}: {stages[name]:.1f} s")
    data = run_dataset(run)
    lap("load_data")
    ext = extractors.choose(data, run.path, extractor, inception_weights, log=log)
    lap("extractor")
    (xa, ya, xb, yb), n, split = real_halves(data, n or (POINTS_N if data.kind == "points" else DEFAULT_N), seed)
    if log:
        log(f"evaluating {run.path}: {n:,} generated vs {n:,} real, {ext.name} features")
    labels = ya if gen.num_classes else None
    xg, yg = gen.sample_tensor(n, labels=labels, seed=seed + 1)
    if data.kind == "images":  # compare what a user sees: generated images rounded to 8-bit
        xg = (((xg.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1)
    lap("generate")
    if log:
        log(f"features of {3 * n:,} images with {ext.name}")
    (fa, pa), (fb, pb), (fg, pg) = ext(xa), ext(xb), ext(xg)
    lap("features")
    proto = f"{ext.name} features, {n:,} generated vs {n:,} real (A); floor: real B vs real A"
    vals = core_metrics(fa, fb, fg, kid_subsets)
    rows = [_row("fid", *vals["fid"], proto),
            _row("kid", *vals["kid"], proto + f"; cubic kernel, {kid_subsets} subsets of {min(1000, n)}"),
            _row("precision", *vals["precision"], proto + f"; k={K_PR}"),
            _row("recall", *vals["recall"], proto + f"; k={K_PR}"),
            _row("density", *vals["density"], proto + f"; k={K_DC}"),
            _row("coverage", *vals["coverage"], proto + f"; k={K_DC}")]
    doc = {"run": str(run.path), "step": int(read_metadata(run.checkpoint_path)["step"]) if run.has_checkpoint() else None,
           "family": gen.info.get("family"), "data": data.name,
           "evaluated_at": datetime.datetime.now().isoformat(timespec="seconds")}
    if pg is not None and ext.is_classifier:
        rows.append(_row("classifier_score", classifier_score(pg), classifier_score(pb),
                         f"exp E KL(p(y|x) || p(y)) of {ext.name} on {n:,} generated; floor column: "
                         f"the same on real B (max {len(ext.card['classes'])})"))
    per_class = None
    if gen.num_classes and ext.is_classifier and list(ext.card["classes"]) == list(gen.class_names):
        ygn, pred = yg.numpy(), pg.argmax(1)
        rows.append(_row("label_accuracy", float((pred == ygn).mean()), ext.card.get("heldout_accuracy"),
                         f"{ext.name} reads the class of {n:,} generated samples, each asked for a label; "
                         f"floor column: the extractor's accuracy on held-out real data"))
        per_class = _per_class(ext, gen, fa, fb, fg, ya.numpy(), yb.numpy(), ygn, pg)
    modes = None
    means = data.info.get("means")
    if data.kind == "points" and means is not None:
        from .modes import mode_stats
        m, f = mode_stats(xg.numpy(), np.array(means), data.info["sd"]), \
            mode_stats(xb.numpy(), np.array(means), data.info["sd"])
        mp = f"PacGAN protocol on {n:,} samples (HQ = within 3 sd of nearest mode); floor: real B"
        rows += [_row("modes", m["modes"], f["modes"], mp + f"; of {m['of_modes']}"),
                 _row("high_quality", m["high_quality"], f["high_quality"], mp),
                 _row("reverse_kl", m["reverse_kl"], f["reverse_kl"], mp)]
        modes = {"generated": m, "real_b": f}
    lap("metrics")
    mem = None
    if data.sampler is None and memorisation_n > 0:
        heldout = None
        if data.name == "fashion-mnist" and data.info.get("source", "").startswith("Debian"):
            from ..data.builtin import load
            heldout = (load("fashion-mnist", "test").x, "the official 10k test split (never trained on)")
        mem = memorisation(data.x, xg[:memorisation_n], heldout, seed=seed)
        if data.kind == "images":
            from ..io.images import grid, save_png, to_uint8
            pairs = mem["closest"]
            top = torch.stack([xg[p["generated"]] for p in pairs] + [data.x[p["train"]] for p in pairs])
            save_png(run.path / "nearest_pairs.png", grid(to_uint8(top), nrow=len(pairs), upscale_to=480))
            mem["image"] = "nearest_pairs.png"
    doc.update({
        "protocol": {"extractor": ext.name, "extractor_info": ext.describe(),
                     "comparable_to_published_fid": ext.comparable,
                     "n_generated": n, "n_real": n, "real_split": split,
                     "floor": "real half B scored against real half A exactly like the generated samples",
                     "k_precision_recall": K_PR, "k_density_coverage": K_DC, "sample_seed": seed + 1,
                     "labels": "conditional models are sampled with real A's labels" if gen.num_classes else None,
                     "generated_images": "rounded to 8-bit like saved samples" if data.kind == "images" else None},
        "metrics": rows, "per_class": per_class, "modes": modes, "memorisation": mem})
    lap("memorisation")
    if data.kind == "images" and run.read_config()["config"].get("augment", "off") != "off":
        from .leak import leak_check  # trained with --augment: do the samples carry it?
        doc["leak"] = leak_check(xa, xg, seed)
        lap("leak")
    doc.update({"seconds": round(time.time() - t0, 2), "seconds_by_stage": stages,
                "threads": torch.get_num_threads()})
    if write:
        atomic_write_text(run.path / METRICS_JSON, json.dumps(doc, indent=2, default=_jsonable) + "\n")
    return doc


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def read_metrics(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / METRICS_JSON
    return json.loads(path.read_text()) if path.exists() else None


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:.1f}"


def format_table(doc: dict) -> str:
    """The readable table `ganforge evaluate` prints."""
    if doc.get("kind") == "series":
        from .series_evaluate import format_series
        return format_series(doc)
    p = doc["protocol"]
    lines = [f"{doc['family']} on {doc['data']}, step {doc['step']}  ({doc['run']})",
             f"extractor  {p['extractor_info']}",
             "           " + ("comparable to published FID at the same n" if p["comparable_to_published_fid"]
                             else "ganforge features: compare runs with each other, not with published Inception FIDs"),
             f"samples    {p['n_generated']:,} generated vs {p['n_real']:,} real; real split: {p['real_split']}",
             f"floor      {p['floor']} (what a perfect generator scores here)", ""]
    ks = {"precision": K_PR, "recall": K_PR, "density": K_DC, "coverage": K_DC}
    labels = [r["label"] + (f" k={ks[r['metric']]}" if r["metric"] in ks else "") for r in doc["metrics"]]
    w = max(len(s) for s in labels) + 2
    lines.append(f"{'metric'.ljust(w)}{'value':>10}  {'real-vs-real':>12}  better")
    for label, r in zip(labels, doc["metrics"]):
        lines.append(f"{label.ljust(w)}{_fmt(r['value']):>10}  {_fmt(r['floor']):>12}  {r['better']}")
    if doc.get("per_class"):
        lines += ["", f"per class (accuracy: extractor reads the generated class; coverage k={K_DC} vs that class's real A)",
                  f"{'class':<14}{'accuracy':>9} {'real acc':>9} {'coverage':>9} {'floor':>7}"]
        for c in doc["per_class"]:
            lines.append(f"{c['name'][:13]:<14}{_fmt(c['accuracy']):>9} {_fmt(c['real_heldout_accuracy']):>9} "
                         f"{_fmt(c['coverage']):>9} {_fmt(c['coverage_floor']):>7}")
    m = doc.get("memorisation")
    if m:
        lines += ["", f"memorisation ({m['n_generated']:,} generated; distance = RMS pixel difference to the nearest "
                      f"training example)",
                  f"  median nearest distance: generated {m['median_generated']:.4g}, "
                  f"{m['reference_label']} {m['median_reference']:.4g}",
                  f"  near copies (closer than {m['quantile']:.0%} of the reference): {m['near_copy_share']:.2%} "
                  f"of generated (reference by construction: {m['quantile']:.0%})"]
    lk = doc.get("leak")
    if lk:
        lines += ["", f"augmentation leak check ({lk['protocol']})",
                  f"  {'statistic':<22}{'generated':>10}{'real':>10}{'augmented':>11}  position (0 = real, 1 = augmented)"]
        lines += [f"  {r['label']:<22}{_fmt(r['generated']):>10}{_fmt(r['real']):>10}{_fmt(r['augmented_real']):>11}"
                  f"  {_fmt(r['position'])}" for r in lk["rows"]]
    lines += ["", f"evaluated in {doc['seconds']} s on {doc['threads']} thread(s); written to {doc['run']}/{METRICS_JSON}"]
    return "\n".join(lines)
