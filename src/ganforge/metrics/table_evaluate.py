"""`evaluate(real, synth, holdout, target)`: quality, ML efficacy and privacy in one dict, and
the plain-text summary the CLI prints. Protocols: ganforge.metrics.tabular*."""
from __future__ import annotations

import pandas as pd

from ..data.table_columns import check_table
from ..io.errors import GanforgeError
from .tabular import ml_efficacy, quality
from .tabular_privacy import privacy


def evaluate(real: pd.DataFrame, synth: pd.DataFrame, holdout: pd.DataFrame | None = None,
             target: str | None = None, discrete: list[str] | None = None) -> dict:
    """`real` is the table the model was fitted on; `holdout` real rows it never saw."""
    check_table(real, "the real table")
    check_table(synth, "the synthetic table")
    if holdout is not None:
        check_table(holdout, "the holdout table")
        extra = [c for c in real.columns if c not in holdout.columns]
        if extra:
            raise GanforgeError(f"the holdout table lacks column '{extra[0]}'; use a split of the same table")
    out = {"rows": {"real": len(real), "synthetic": len(synth),
                    "holdout": len(holdout) if holdout is not None else 0},
           "quality": quality(real, synth, discrete),
           "privacy": privacy(real, synth, holdout, discrete)}
    if holdout is not None:
        target = target if target is not None else str(real.columns[-1])
        out["ml_efficacy"] = ml_efficacy(real, synth, holdout, target, discrete)
    elif target is not None:
        raise GanforgeError("--target needs --holdout (real rows not used for fitting) to test on")
    return out


def summary_lines(r: dict) -> list[str]:
    q, p = r["quality"], r["privacy"]
    lines = [f"quality        {q['quality']:.3f}  (column shapes {q['column_shapes']:.3f}, "
             f"pair trends {q['pair_trends']:.3f})"]
    if "ml_efficacy" in r:
        m = r["ml_efficacy"]
        lines.append(f"ML efficacy    target '{m['target']}': F1 {m['synthetic']['f1']:.3f} / AUROC "
                     f"{m['synthetic']['auroc']:.3f} trained on synthetic; F1 {m['real']['f1']:.3f} / "
                     f"AUROC {m['real']['auroc']:.3f} trained on real")
    lines.append(f"exact copies   {p['exact_copies']:.2%} of synthetic rows"
                 + (f" (holdout vs train: {p['exact_copies_holdout']:.2%})" if "exact_copies_holdout" in p else ""))
    dcr = f"DCR median     synthetic->train {p['dcr_synthetic_median']:.3f}"
    if "dcr_holdout_median" in p:
        dcr += (f", holdout->train {p['dcr_holdout_median']:.3f}; synthetic rows closer than the "
                f"holdout's 5th percentile: {p['closer_than_holdout_p05']:.1%}")
        lines += [dcr, f"MIA AUROC      {p['mia_auroc']:.3f}  (0.5 = no membership signal)"]
    else:
        lines.append(dcr)
    return lines
