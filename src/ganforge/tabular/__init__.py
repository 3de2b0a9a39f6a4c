"""Tabular synthetic data: `from ganforge.tabular import TabularGAN`.

fit / sample / save / load (model.py), column detection and safe CSV reading (columns.py),
mode-specific normalisation (transform.py), training-by-sampling (sampler.py), evaluate
(evaluate.py; metrics in ganforge.metrics.tabular*), CLI (cli.py), HTML report in
ganforge.report.tabular. Imports are lazy so `ganforge --help` does not load pandas.
"""
from __future__ import annotations

_EXPORTS = {"TabularGAN": ".model", "load_table": ".columns", "load_demo": ".columns",
            "read_csv": ".columns", "evaluate": ".evaluate"}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(name)


__all__ = list(_EXPORTS)
