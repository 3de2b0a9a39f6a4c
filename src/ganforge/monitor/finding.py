"""A health finding and the helpers every detector shares (detectors.py, class_detectors.py)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

SUSTAIN = 5          # records (x log_every steps) a pattern must last to count as sustained
SEVERITY = {"healthy": 0, "warning": 1, "problem": 2}


@dataclass
class Finding:
    finding: str                 # divergence | nan | mode_collapse | d_overpowering | ...
    severity: str                # warning | problem
    step: int                    # step at which it was detected
    onset: int                   # first step of the evidence window
    evidence: dict = field(default_factory=dict)
    advice: str = ""

    def to_record(self) -> dict:
        return asdict(self)


def _vals(records, key):
    return [r[key] for r in records if isinstance(r.get(key), (int, float))]


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _onset(records, key, threshold, above=False) -> int:
    """First step of the final run of records on the bad side of `threshold`."""
    onset = records[-1]["step"]
    for r in reversed(records):
        v = r.get(key)
        if not isinstance(v, (int, float)) or ((v < threshold) if above else (v > threshold)):
            break
        onset = r["step"]
    return onset
