"""Training health monitor: detectors over metric streams, a Trainer callback, remedies, doctor."""
from .detectors import Finding, detect, status
from .monitor import HEALTHY, HealthMonitor

__all__ = ["Finding", "detect", "status", "HealthMonitor", "HEALTHY"]
