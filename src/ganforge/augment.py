"""Labelled synthetic training sets, the public module: `ganforge.augment.write(...)` (what
`ganforge augment` does), `.synthesize(...)` (images in memory) and `.synthesize_rows(...)` (a
tabular run's rows as a DataFrame). The code is in apps/synthesize.py.
"""
from .apps.synthesize import synthesize, synthesize_rows
from .apps.synthesize import synthesize_to as write

__all__ = ["write", "synthesize", "synthesize_rows"]
