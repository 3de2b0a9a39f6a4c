"""Tabular synthetic data: `from ganforge.tabular import TabularGAN`.

fit / sample / save / load (model.py), CLI (cli.py). The table data path lives in
ganforge.data (table_columns: safe CSV reading and column kinds; table_transform: mode-specific
normalisation; table_sampler: training-by-sampling), the scores in ganforge.metrics
(table_evaluate, tabular, tabular_privacy), the HTML report in ganforge.report.tabular. Imports are lazy so `ganforge --help` does not load pandas.
"""
from __future__ import annotations

_EXPORTS = {"TabularGAN": "ganforge.tabular.model", "load_table": "ganforge.data.table_columns",
            "load_demo": "ganforge.data.table_columns", "read_csv": "ganforge.data.table_columns",
            "evaluate": "ganforge.metrics.table_evaluate"}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)


__all__ = list(_EXPORTS)
