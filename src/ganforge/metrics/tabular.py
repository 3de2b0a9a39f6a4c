"""Synthetic-table quality and machine-learning efficacy, each with its protocol stated.

Column shapes: 1 - KS statistic (continuous), 1 - total-variation distance (categorical; a
missing value is a category). Column-pair trends: 1 - |r_real - r_synth| / 2 for two
continuous columns (Pearson), else 1 - TV distance of the joint frequency table, continuous
columns cut into 10 quantile bins of the real column. Quality = mean(shapes, pair trends).
ML efficacy: a HistGradientBoosting classifier (sklearn defaults, seed 0) trained on the
synthetic table and, separately, on the real training table; both scored on the real holdout.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..data.table_columns import plan_columns
from ..data.table_transform import category_key, numeric_values
from ..io.errors import GanforgeError

QUALITY_PROTOCOL = ("column shapes: 1-KS (continuous), 1-TV (categorical, missing as a category); "
                    "pair trends: 1-|dPearson|/2 (continuous pairs), 1-TV of joint frequencies "
                    "(other pairs; continuous cut in 10 real-quantile bins); quality = mean of both")
ML_PROTOCOL = ("HistGradientBoostingClassifier (sklearn defaults, random_state=0) trained on "
               "synthetic vs on real training rows, scored on the real holdout; binary F1 of the "
               "rarer class, else macro F1; AUROC (one-vs-rest macro if multiclass)")


def column_kinds(real: pd.DataFrame, discrete: list[str] | None = None) -> tuple[dict, dict]:
    """({column: 'continuous' | 'categorical'} for compared columns (IDs/constants skipped), plan)."""
    plan, _ = plan_columns(real, discrete)
    return {c: ("continuous" if p["kind"] in ("continuous", "datetime") else "categorical")
            for c, p in plan.items() if p["kind"] in ("continuous", "categorical", "datetime")}, plan


def _num(s: pd.Series, plan_entry: dict) -> np.ndarray:
    return numeric_values(s, plan_entry)


def _cat(s: pd.Series) -> pd.Series:
    """Values as canonical text ('3' for 3 and 3.0, 'None' for missing), mapped per unique value."""
    codes, uniques = pd.factorize(s.astype(object), use_na_sentinel=True)
    names = np.array([str(category_key(u)) for u in uniques] + ["None"], dtype=object)
    return pd.Series(names[codes], index=s.index)


def _tv(a: pd.Series, b: pd.Series) -> float:
    p, q = a.value_counts(normalize=True), b.value_counts(normalize=True)
    return 0.5 * float(p.subtract(q, fill_value=0).abs().sum())


def _bins(real: np.ndarray, synth: np.ndarray) -> tuple[pd.Series, pd.Series]:
    ok = real[~np.isnan(real)]
    edges = np.unique(np.quantile(ok, np.linspace(0, 1, 11))) if len(ok) else np.array([0.0])
    def cut(v):
        codes = np.searchsorted(edges[1:-1], v, side="right").astype(object)
        codes[np.isnan(v)] = "nan"
        return pd.Series(codes).astype(str)
    return cut(real), cut(synth)


def quality(real: pd.DataFrame, synth: pd.DataFrame, discrete: list[str] | None = None) -> dict:
    """Column shapes, column-pair trends and the overall quality score (all in [0, 1])."""
    kinds, plan = column_kinds(real, discrete)
    missing = [c for c in kinds if c not in synth.columns]
    if missing:
        raise GanforgeError(f"the synthetic table lacks column '{missing[0]}' of the real one; "
                            f"compare tables with the same columns")
    num = {c: (_num(real[c], plan[c]), _num(synth[c], plan[c])) for c, k in kinds.items() if k == "continuous"}
    cat = {c: (_cat(real[c]), _cat(synth[c])) for c, k in kinds.items() if k == "categorical"}
    shapes = {}
    from scipy.stats import ks_2samp
    for c, (r, s) in num.items():
        r, s = r[~np.isnan(r)], s[~np.isnan(s)]
        shapes[c] = 1.0 - float(ks_2samp(r, s).statistic) if len(r) and len(s) else 0.0
    for c, (r, s) in cat.items():
        shapes[c] = 1.0 - _tv(r, s)
    binned = {c: _bins(*num[c]) for c in num}
    pairs = {}
    for a, b in itertools.combinations(kinds, 2):
        if a in num and b in num:
            pairs[(a, b)] = 1.0 - abs(_corr(num[a][0], num[b][0]) - _corr(num[a][1], num[b][1])) / 2
        else:
            ra, sa = binned[a] if a in num else cat[a]
            rb, sb = binned[b] if b in num else cat[b]
            jr = ra.reset_index(drop=True) + "\x1f" + rb.reset_index(drop=True)
            js = sa.reset_index(drop=True) + "\x1f" + sb.reset_index(drop=True)
            pairs[(a, b)] = 1.0 - _tv(jr, js)
    shape_score = float(np.mean(list(shapes.values())))
    pair_score = float(np.mean(list(pairs.values()))) if pairs else shape_score
    return {"quality": (shape_score + pair_score) / 2, "column_shapes": shape_score,
            "pair_trends": pair_score, "shapes": shapes,
            "pairs": {f"{a} | {b}": v for (a, b), v in pairs.items()}, "kinds": kinds,
            "protocol": QUALITY_PROTOCOL}


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return 0.0
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def _features(df: pd.DataFrame, kinds: dict, plan: dict, target: str, cats: dict) -> np.ndarray:
    cols = []
    for c, k in kinds.items():
        if c == target:
            continue
        if k == "continuous":
            cols.append(_num(df[c], plan[c]))
        else:  # codes from the real training table; unseen -> NaN (HGB: missing)
            lookup = cats[c]
            cols.append(_cat(df[c]).map(lookup).to_numpy(np.float64, na_value=np.nan))
    return np.stack(cols, 1)


def ml_efficacy(train: pd.DataFrame, synth: pd.DataFrame, holdout: pd.DataFrame, target: str,
                discrete: list[str] | None = None) -> dict:
    """F1 and AUROC of the same classifier trained on synthetic vs on real rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import f1_score, roc_auc_score
    kinds, plan = column_kinds(train, discrete)
    if target not in train.columns:
        raise GanforgeError(f"--target '{target}' is not a column; columns are: {', '.join(map(str, train.columns))}")
    if kinds.get(target) != "categorical":
        raise GanforgeError(f"--target '{target}' must be a categorical column to classify; pick another")
    cats = {c: {v: i for i, v in enumerate(sorted(_cat(train[c]).unique()))}
            for c, k in kinds.items() if k == "categorical"}
    y_tr, y_te, y_sy = _cat(train[target]), _cat(holdout[target]), _cat(synth[target])
    classes = sorted(y_tr.unique())
    binary = len(classes) == 2
    positive = y_tr.value_counts().idxmin()
    # native categorical splits need < 255 codes; wider columns stay ordinal codes
    mask = np.array([k == "categorical" and len(cats[c]) < 250 for c, k in kinds.items() if c != target])
    x_te = _features(holdout, kinds, plan, target, cats)
    out = {"target": target, "positive": positive if binary else None, "protocol": ML_PROTOCOL}
    for name, df, y in (("real", train, y_tr), ("synthetic", synth, y_sy)):
        if y.nunique() < 2:
            out[name] = {"f1": 0.0, "auroc": 0.5, "note": "only one class present"}
            continue
        x = _features(df, kinds, plan, target, cats)
        clf = HistGradientBoostingClassifier(random_state=0, categorical_features=mask if mask.any() else None)
        clf.fit(x, y.to_numpy())
        prob = clf.predict_proba(x_te)
        pred = clf.classes_[prob.argmax(1)]
        if binary:
            f1 = f1_score(y_te, pred, pos_label=positive, zero_division=0)
            pcol = list(clf.classes_).index(positive) if positive in clf.classes_ else None
            auc = roc_auc_score(y_te == positive, prob[:, pcol]) if pcol is not None else 0.5
        else:
            f1 = f1_score(y_te, pred, average="macro", zero_division=0)
            full = np.zeros((len(x_te), len(classes)))
            for i, c in enumerate(clf.classes_):
                if c in classes:
                    full[:, classes.index(c)] = prob[:, i]
            present = [c for c in classes if (y_te == c).any()]
            auc = roc_auc_score(y_te, full[:, [classes.index(c) for c in present]] /
                                full[:, [classes.index(c) for c in present]].sum(1, keepdims=True).clip(1e-12),
                                multi_class="ovr", labels=present) if len(present) > 2 else 0.5
        out[name] = {"f1": float(f1), "auroc": float(auc)}
    return out
