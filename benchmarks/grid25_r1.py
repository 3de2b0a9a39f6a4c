"""grid25: the R1 weight chosen on seeds the report never uses (benchmarks/mixtures.py reports 0-9).

Each case trains `ganforge.train("grid25", seed=s, threads=1, **overrides)` and scores 2,500
samples with the mixtures protocol (metrics/modes.py), the generator alone and through the
default sample filter. Rows append to benchmarks/results/grid25_r1.jsonl.

    python benchmarks/grid25_r1.py base 10,11,12 '{"r1_gamma": 0.01}'
    python benchmarks/grid25_r1.py r1x3 10,11,12,13,14 '{"r1_gamma": 0.03}'
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

import ganforge
from _record import provenance
from ganforge.data.mixtures import mixture_means
from ganforge.metrics.modes import mode_stats

ROWS = Path(__file__).resolve().parent / "results" / "grid25_r1.jsonl"


def main() -> None:
    name, seeds, over = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], json.loads(sys.argv[3])
    torch.set_num_threads(1)
    prov = provenance()
    means, sd = mixture_means("grid25")
    with tempfile.TemporaryDirectory() as tmp:
        for s in seeds:
            t0 = time.time()
            run = ganforge.train("grid25", out=f"{tmp}/{name}_{s}", seed=s, progress=False, threads=1, **over)
            g = ganforge.load(run.path)
            raw = mode_stats(g.sample(2500, seed=0, filter=False).samples, means.numpy(), sd)
            f = mode_stats(g.sample(2500, seed=0).samples, means.numpy(), sd)
            row = dict(name=name, seed=s, over=over, wall=round(time.time() - t0), raw_modes=raw["modes"],
                       raw_hq=raw["high_quality"], raw_rkl=round(raw["reverse_kl"], 4),
                       hq=f["high_quality"], rkl=round(f["reverse_kl"], 4),
                       date=prov["date"], commit=prov["commit"], machine=prov["machine"])
            print(json.dumps(row), flush=True)
            with open(ROWS, "a") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
