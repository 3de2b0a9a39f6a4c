"""Text to image on the built-in captioned sets, measured the way the field measures it.

Protocol (per data set; mnist5k-captions by default, fashion-mnist-captions with --data):
- Methods. `text2img` at its defaults (the GAN under test); `cgan`, the class-conditional GAN
  at its defaults on the same images, sampled with the caption's class (it cannot read the
  attributes: the baseline that ignores them); `real (retrieval)`, for each caption a held-out
  real image whose class and attribute levels match the caption (the ceiling: real pixels that
  fit the words).
- Captions. data/attributes.py `evaluation_captions`: a class and two attributes each, in
  three groups of --per-group: `seen` (training templates and combinations), `heldout_template`
  (two phrasings never trained on) and `heldout_combo` (per class, an attribute pair never
  mentioned together in training). One image per caption.
- Tuning (--tune, --candidate): text2img settings are compared on `seen` and
  `validation_template` captions (data/attributes.py VALIDATION_TEMPLATES, three more phrasings
  never trained on) and written to text2img_tune.md; the held-out groups are measured only
  in the full run, for the chosen defaults.
- R-precision (AttnGAN; evaluator kept separate from the GAN as TISE asks): a matching model
  trained here on real (image, caption) pairs of the training split, with its own bag-of-words
  text encoder and CNN (not MiniLM, not the GAN's D), ranks the true caption among 100: itself
  and 99 captions of other content (class or attributes differ) from the evaluation captions
  plus 600 more drawn the same way. Two such judges: the `content` judge's words are only the
  class nouns and attribute words, so a phrasing it never saw reads like a seen one (the
  template gaps are read on it); the `all-words` judge reads every training word, and on real
  images its held-out-template R-precision falls by itself (its own phrasing gap, shown beside).
- --subspace: the text2img run's own weights read again with each caption's embedding projected
  onto the training captions' principal directions holding a share of their variance (0: the
  embedding as given), one row per share; with --min-corr, only the span of those directions
  whose canonical correlation with the images is at least CORR (text_min_corr); no training.
- Class accuracy: ganforge's shipped classifier for the set (mnist-cnn / fashion-cnn) reads
  the generated image; correct = the class the caption names.
- Attribute accuracy: the attribute is measured on the pixels; correct = on the asked side of
  its class median (training-split thresholds); chance 50%. Per attribute.
- FID / precision / recall (shipped classifier's features): images for the `seen` captions vs
  the held-out real images; floor: as many real training images vs the same held-out ones.
Writes benchmarks/results/text2img.md (+ .json), stamped with date, commit and machine; a run on
one data set keeps the other sets' sections. `--table` re-renders the .md from the .json.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _matcher import JUDGES, r_precision, train_matcher  # noqa: E402
from _record import RESULTS, provenance, write_result  # noqa: E402

import ganforge  # noqa: E402
from ganforge.data import attributes as attr  # noqa: E402
from ganforge.data.captions import load_builtin  # noqa: E402
from ganforge.metrics.extractors import load_builtin as load_extractor  # noqa: E402
from ganforge.metrics.fid import fid  # noqa: E402
from ganforge.metrics.prdc import prdc  # noqa: E402

CLASSIFIER = {"mnist5k": "mnist-cnn", "fashion-mnist": "fashion-cnn", "digits": "digits-cnn"}
GROUPS = attr.GROUPS
TUNE_GROUPS = ("seen", "validation_template")  # --tune: settings are chosen on these, never on the held-out ones


# ---- images for each method ---------------------------------------------------------------
def retrieval(captions: list[dict], held, lev: dict, seed: int) -> torch.Tensor:
    """Per caption, a held-out real image of its class whose levels match what it asks (the best
    partial match where none matches all)."""
    rng = np.random.default_rng(seed)
    y = held.labels.numpy()
    out = []
    for c in captions:
        score = sum((lev[k] == v).astype(int) for k, v in c["asked"].items() if v != 0) + 100 * (y == c["label"])
        best = np.flatnonzero(score == score.max())
        out.append(int(rng.choice(best)))
    return held.x[out]


def scores(images: torch.Tensor, captions: list[dict], base: str, thr: dict, clf, matchers: dict, pool, seed,
           groups=GROUPS) -> dict:
    images = images.clamp(-1, 1)
    labels = np.array([c["label"] for c in captions])
    _, probs = clf(images)
    values = attr.measure(((images[:, 0].numpy() + 1) / 2), attr.SET_ATTRIBUTES[base])
    asked = {k: np.array([c["asked"][k] for c in captions]) for k in values}
    match = attr.binary_match(values, labels, asked, thr)
    rp = {j: r_precision(matchers[j], images, captions, pool, seed) for j in JUDGES}
    out = {}
    for grp in groups:
        m = np.array([c["group"] == grp for c in captions])
        row = {"r_precision": float(rp["content"][m].mean()), "r_precision_all_words": float(rp["all-words"][m].mean()),
               "class_acc": float((probs.argmax(1)[m] == labels[m]).mean())}
        for k, v in match.items():
            row[k] = float(np.nanmean(v[m])) if np.isfinite(v[m]).any() else None
        out[grp] = row
    return out


def distribution(images: torch.Tensor, real: torch.Tensor, clf) -> dict:
    fg, fr = clf(images)[0], clf(real)[0]
    return {"fid": fid(fg, fr), **{k: prdc(fr, fg)[k] for k in ("precision", "recall")}}


# ---- one data set -------------------------------------------------------------------------
def run_set(data_name: str, args, work: Path) -> dict:
    base = data_name.removesuffix("-captions")
    train, held = load_builtin(base, "train"), load_builtin(base, "eval")
    thr = train.info["attributes"]["thresholds"]
    clf = load_extractor(CLASSIFIER[base])
    res = {"data": data_name, "train_images": len(train.x), "heldout_images": len(held.x), "methods": {},
           "per_group": args.per_group}
    t0 = time.time()
    matchers = {j: train_matcher(train, base, args.matcher_steps, args.seed, j) for j in JUDGES}
    res["matcher_seconds"] = round(time.time() - t0, 1)
    captions = attr.evaluation_captions(base, args.per_group, seed=args.seed + 1, groups=args.groups)
    lev = attr.levels(attr.measure((held.x[:, 0].numpy() + 1) / 2, attr.SET_ATTRIBUTES[base]),
                      held.labels.numpy(), thr)
    seen = [i for i, c in enumerate(captions) if c["group"] == "seen"]
    res["groups"] = list(args.groups)
    real_ref = held.x[torch.randperm(len(held.x), generator=torch.Generator().manual_seed(0))[:len(seen)]]
    floor_imgs = train.x[torch.randperm(len(train.x), generator=torch.Generator().manual_seed(1))[:len(seen)]]
    res["floor"] = distribution(floor_imgs, real_ref, clf)
    texts = [c["caption"] for c in captions]
    pool = captions + attr.evaluation_captions(base, 200, seed=args.seed + 100)  # R-precision distractors
    for method in [*args.methods, *args.candidate]:
        t0 = time.time()
        row = {}
        if method == "real (retrieval)":
            images = retrieval(captions, held, lev, args.seed)
        else:
            family = "cgan" if method == "cgan" else "text2img"
            opts = {"steps": args.steps} if args.steps and family == "text2img" else {}
            if method in args.candidate:
                row["options"] = args.candidate[method]
                opts.update(args.candidate[method])
            folder = family if method in ("text2img", "cgan") else re.sub(r"[^a-z0-9]+", "-", method.lower())
            out = work / f"{base}-{folder}"
            if args.reuse and (out / "generator.json").exists():
                run = reused_run(out, data_name, family, args.seed, opts)
                row["train_seconds"], row["reused"] = logged_seconds(out), True
            else:
                print(f"training {method} on {data_name}", flush=True)
                run = ganforge.train(data_name, model=family, out=out, seed=args.seed, progress=False,
                                     log_every=100, sample_every=10**6, ckpt_every=10**6, **opts)
                row["train_seconds"] = round(time.time() - t0, 1)
            row["steps"] = run.config["config"]["steps"]
            model = ganforge.load(run.path)
            if family == "text2img":
                if row.get("reused"):  # sampling-only options (the caption subspace) at today's defaults
                    model.subspace = default_subspace(run.path)
                images, _ = model.sample_tensor(1, texts, seed=args.seed)
            else:
                images, _ = model.sample_tensor(len(captions), labels=[c["label"] for c in captions], seed=args.seed)
        row["groups"] = scores(images, captions, base, thr, clf, matchers, pool, args.seed, args.groups)
        row["distribution"] = distribution(images[seen], real_ref, clf)
        res["methods"][method] = row
        print(method, "R-precision", {g: round(v["r_precision"], 3) for g, v in row["groups"].items()},
              "seen", json.dumps(row["groups"]["seen"]), flush=True)
    if args.subspace and "text2img" in res["methods"]:
        subspace_rows(res, work / f"{base}-text2img", texts, captions, seen, real_ref,
                      (base, thr, clf, matchers, pool), args)
    grid_caps = [c for c in captions if c["group"] == "seen"][:8]
    if "text2img" in res["methods"]:
        model = ganforge.load(work / f"{base}-text2img")
        if res["methods"]["text2img"].get("reused"):
            model.subspace = default_subspace(work / f"{base}-text2img")
        out = RESULTS / f"text2img{'_tune' if args.tune else ''}_{base}.png"
        model.write(out, 8, text=[c["caption"] for c in grid_caps], seed=args.seed)
        res["grid"] = {"png": out.name, "rows": [c["caption"] for c in grid_caps]}
    return res


def trained_pairs(run: Path):
    """The (image, caption embedding) pairs `run` trained on, as its sampling view sees them."""
    from ganforge.families.text2img import Text2Img
    cfg = ganforge.Run(run).config["config"]
    return Text2Img.load_data(cfg["data"], cfg)


def default_subspace(run: Path):
    """The caption subspace a run trained as `run` was would sample through at today's defaults of
    the sampling-only options (a run saved before one existed gets it too)."""
    from ganforge.families.text2img import Text2ImgOptions
    cfg = ganforge.Run(run).config["config"]
    opt = lambda k: cfg.get(k, getattr(Text2ImgOptions, k))  # noqa: E731
    return trained_pairs(run).subspace(opt("text_subspace"), opt("text_min_corr"))


def subspace_rows(res: dict, run: Path, texts, captions, seen, real_ref, judges, args) -> None:
    """The text2img run's own weights, sampled with captions projected onto the training
    captions' principal directions at each --subspace share (0: as given), one row each."""
    model = ganforge.load(run)
    embedded = trained_pairs(run)
    base, thr, clf, matchers, pool = judges
    for share, corr in [(s, c) for s in args.subspace for c in (args.min_corr if 0 < s < 1 else [0])]:
        model.subspace = embedded.subspace(share, corr)
        images, _ = model.sample_tensor(1, texts, seed=args.seed)
        name = ("text2img, captions as given" if share in (0, 1) else
                f"text2img, subspace {share:g}" + (f", min corr {corr:g}" if corr else ""))
        k = 0 if model.subspace is None else len(model.subspace[1])
        row = {"options": {"text_subspace": share, "text_min_corr": corr}, "components": k, "weights_of": "text2img",
               "groups": scores(images, captions, base, thr, clf, matchers, pool, args.seed, args.groups),
               "distribution": distribution(images[seen], real_ref, clf)}
        res["methods"][name] = row
        print(name, f"({k} components)", "R-precision", {g: round(v["r_precision"], 3) for g, v in row["groups"].items()},
              flush=True)


def reused_run(path: Path, data_name: str, family: str, seed: int, opts: dict):
    """A finished run in --work trained as this run would train it (--reuse), or exit."""
    run = ganforge.Run(path)
    cfg = run.config["config"]
    asked = {"data": data_name, "model": family, "seed": seed, **opts}
    differ = {k: (cfg.get(k), v) for k, v in asked.items() if cfg.get(k) != v}
    if differ:
        sys.exit(f"error: --reuse: {path} was trained with other settings {differ} (saved, asked); "
                 f"pass a new --work folder")
    print(f"reusing {path} ({cfg['steps']} steps)", flush=True)
    return run


def logged_seconds(path: Path) -> float:
    """Training-loop seconds of a finished run, from its log (sec_per_step x steps per log line)."""
    total, last = 0.0, 0
    for line in (path / "log.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "sec_per_step" in r and "step" in r:
            total, last = total + r["sec_per_step"] * (r["step"] - last), r["step"]
    return round(total, 1)


def table(res: dict) -> str:
    attrs = attr.SET_ATTRIBUTES[res["data"].removesuffix("-captions")]
    head = ["method", "captions", "R-precision", "R-precision (all-words judge)", "class acc",
            *[f"{a} acc" for a in attrs]]
    lines = [f"### {res['data']}: {res['train_images']:,} training images, {res['heldout_images']:,} held out\n",
             *([section(res)] if "provenance" in res else []), "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for name, row in res["methods"].items():
        for grp in res.get("groups", GROUPS):
            g = row["groups"][grp]
            lines.append(f"| {name} | {grp} | {fmt(g['r_precision'])} | {fmt(g.get('r_precision_all_words'))} | "
                         f"{fmt(g['class_acc'])} | "
                         + " | ".join(fmt(g[a]) for a in attrs) + " |")
    lines += ["", "| method | FID | precision | recall | training |", "|---|---|---|---|---|"]
    fl = res["floor"]
    lines.append(f"| floor (real train vs held-out) | {fl['fid']:.2f} | {fl['precision']:.3f} | {fl['recall']:.3f} | - |")
    for name, row in res["methods"].items():
        d = row["distribution"]
        t = (f"{row['steps']} steps, {row['train_seconds']:.0f} s" + (" (reused run: its log's loop time)"
                                                                       if row.get("reused") else "")
             if "steps" in row else (f"the text2img run's weights ({row['components']} components)" if row["components"]
                 else "the text2img run's weights")
             if "components" in row else "-")
        lines.append(f"| {name} | {d['fid']:.2f} | {d['precision']:.3f} | {d['recall']:.3f} | {t} |")
    if "text2img" in res["methods"] and "real (retrieval)" in res["methods"] and "heldout_template" in res["groups"]:
        lines += ["", *goals(res)]
    if "grid" in res:
        lines += ["", f"Samples: `{res['grid']['png']}`, one row per caption: "
                  + "; ".join(f"\"{c}\"" for c in res["grid"]["rows"]) + "."]
    return "\n".join(lines) + "\n"


def goals(res: dict) -> list[str]:
    """The text-to-image goals, read from one data set's numbers (text2img at its defaults)."""
    gen, real = (res["methods"][m]["groups"] for m in ("text2img", "real (retrieval)"))
    attrs = attr.SET_ATTRIBUTES[res["data"].removesuffix("-captions")]
    met = lambda ok: "met" if ok else "not met"  # noqa: E731
    out = ["Goals, read from the text2img rows (real-image rows beside them):", ""]
    for grp in res["groups"]:
        ratio = gen[grp]["r_precision"] / max(real[grp]["r_precision"], 1e-9)
        out.append(f"- R-precision on {grp} captions {ratio:.2f}x the real images' (goal: at least 0.6x): {met(ratio >= 0.6)}")
    out.append(f"- class accuracy on seen captions {gen['seen']['class_acc']:.3f} (goal: at least 0.85): "
               f"{met(gen['seen']['class_acc'] >= 0.85)}")
    for a in attrs:
        v = gen["seen"][a]
        out.append(f"- {a} accuracy on seen captions {v:.3f} (goal: at least 0.75): {met(v >= 0.75)}")
    for grp in ("heldout_template", "heldout_combo"):
        gap, real_gap = (100 * (g["seen"]["r_precision"] - g[grp]["r_precision"]) for g in (gen, real))
        n = res.get("per_group", 300)
        p1, p2 = gen["seen"]["r_precision"], gen[grp]["r_precision"]
        half = 196 * np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)  # 95% interval of a difference of two shares
        line = (f"- R-precision, seen minus {grp}: {gap:+.1f} points, 95% interval ±{half:.1f} ({n} captions "
                f"each) (goal: at most 5; real images: {real_gap:+.1f}): {met(gap <= 5)}")
        if "r_precision_all_words" in gen["seen"]:
            g_all, r_all = (100 * (g["seen"]["r_precision_all_words"] - g[grp]["r_precision_all_words"])
                            for g in (gen, real))
            line += f"; all-words judge: {g_all:+.1f} (real images: {r_all:+.1f})"
        out.append(line)
    return out


def kept_results(path: Path, measured: list[str]) -> list[dict]:
    """The previous file's results for the data sets this run did not measure, each with its own
    provenance (a run on one set leaves the others' numbers in place)."""
    if not path.exists():
        return []
    prev = json.loads(path.read_text())
    return [{**r, "provenance": r.get("provenance") or prev["provenance"]}
            for r in prev["results"] if r["data"] not in measured]


def section(res: dict) -> str:
    p = res["provenance"]
    return (f"Measured {p['date']} at commit {p['commit']} on {p['machine']} (load average {p['load_average']} "
            f"at the start; the whole run {p['seconds'] / 60:.0f} min). Re-run: `{p['command']}`\n")


def parse_candidate(text: str) -> tuple[str, dict]:
    """'name:k=v,k=v' -> (name, {k: v}); values read as JSON where they parse (numbers, true/false)."""
    name, _, rest = text.partition(":")
    opts = {}
    for item in filter(None, rest.split(",")):
        k, eq, v = item.partition("=")
        if not eq:
            sys.exit(f"error: --candidate {text!r}: write options as key=value")
        try:
            opts[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            opts[k.strip()] = v.strip()
    return name.strip(), opts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["mnist5k-captions"])
    p.add_argument("--methods", nargs="+", default=["text2img", "cgan", "real (retrieval)"])
    p.add_argument("--steps", type=int, help="text2img steps (default: its own)")
    p.add_argument("--per-group", type=int, default=1000,
                   help="captions per group (1,000: a 95%% interval of about ±4 points on a gap between groups)")
    p.add_argument("--matcher-steps", type=int, default=800)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--candidate", action="append", default=[], metavar="NAME:K=V,...",
                   help="also train text2img with these options, as a row NAME (e.g. 'noise:text_noise=0.3')")
    p.add_argument("--tune", action="store_true",
                   help=f"tuning: captions {' and '.join(TUNE_GROUPS)} only, methods only the --candidate rows "
                        f"unless --methods is given; writes text2img_tune.md")
    p.add_argument("--subspace", nargs="+", type=float, default=[], metavar="SHARE",
                   help="also read the text2img run's weights with captions projected onto the training "
                        "captions' principal directions holding each SHARE of their variance (0: as given)")
    p.add_argument("--min-corr", nargs="+", type=float, default=[0.0], metavar="CORR",
                   help="with --subspace: also keep only the directions correlated with the images at least "
                        "CORR (text_min_corr; 0: all of the share's directions), one row per share and CORR")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default=None, help="folder for the runs (default: a new dated one under runs/)")
    p.add_argument("--reuse", action="store_true",
                   help="score the finished runs already in --work (trained with the same settings) "
                        "instead of training them again")
    p.add_argument("--table", action="store_true", help="only re-render text2img.md from text2img.json")
    given_methods = any(a == "--methods" or a.startswith("--methods=") for a in sys.argv[1:])
    args = p.parse_args()
    args.candidate = dict(parse_candidate(c) for c in args.candidate)
    args.groups = TUNE_GROUPS if args.tune else GROUPS
    if args.tune and not given_methods:
        args.methods = []
    if args.table:
        return write_markdown(json.loads((RESULTS / "text2img.json").read_text()), tune=False, keep_history=False)
    torch.set_num_threads(args.threads)
    work = Path(args.work or f"runs/bench-text2img-{time.strftime('%Y%m%d-%H%M%S')}")
    if work.exists() and any(work.iterdir()) and not args.reuse:
        sys.exit(f"error: {work} already holds files; pass a new --work folder")
    prov = provenance()
    t0 = time.time()
    results = [run_set(d, args, work) for d in args.data]
    prov["seconds"] = round(time.time() - t0)
    for r in results:
        r["provenance"] = dict(prov)
    name = "text2img_tune" if args.tune else "text2img"
    results = kept_results(RESULTS / f"{name}.json", args.data) + results
    doc = {"provenance": prov, "protocol": __doc__, "results": results}
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=2))
    write_markdown(doc, args.tune)


def write_markdown(doc: dict, tune: bool, keep_history: bool = True) -> None:
    prov, results, name = dict(doc["provenance"]), doc["results"], "text2img_tune" if tune else "text2img"
    prov["summary"] = "Each data set's section says when, at which commit and on which machine it was measured."
    body = ("R-precision: true caption ranked first among 100 by a matching model trained here on real "
            "pairs (own bag-of-words text encoder; the content judge reads only class and attribute words, the "
            "all-words judge every word). Class accuracy: shipped classifier. Attribute accuracy: measured "
            "on the pixels, asked side of the class median (chance 0.5). Protocol: benchmarks/text2img.py."
            "\n\n" + "\n".join(table(r) for r in results))
    if tune:
        body = ("Tuning run: captions of the seen and the validation templates (data/attributes.py "
                "VALIDATION_TEMPLATES); the held-out templates and combinations are not looked at. " + body)
    write_result(name, "Text to image" + (" tuning" if tune else "") + ": R-precision, class and attribute accuracy",
                 body, prov, keep_history=keep_history)


if __name__ == "__main__":
    main()
