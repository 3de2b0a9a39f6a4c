"""Anomaly detection, the public module: `ganforge.anomaly.fit(...)` / `.score(...)`.

The code is in apps/anomaly.py (fit, score, checkpoint choice, threshold), families/anomaly.py
(the `ganomaly` and `fanogan` families) and artifacts/detector.py (`Detector`, what
`ganforge.load` returns for a detector's run).
"""
from .apps.anomaly import METHODS, AnomalyRun, fit, load_run, score, threshold_at
from .artifacts.detector import Detector

__all__ = ["fit", "score", "load_run", "threshold_at", "AnomalyRun", "Detector", "METHODS"]
