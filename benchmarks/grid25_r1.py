"""grid25: the R1 weight chosen on seeds the report never uses (benchmarks/mixtures.py reports 0-9).

Each case is mixtures.py's `run_one` (train, then score 2,500 samples with the PacGAN protocol,
the generator alone and through the default sample filter) with the given options on top of the
defaults, one thread. Rows append to benchmarks/results/grid25_r1.jsonl.

    python benchmarks/grid25_r1.py base 10,11,12 '{"r1_gamma": 0.01}'
    python benchmarks/grid25_r1.py r1x3 10,11,12,13,14 '{"r1_gamma": 0.03}'
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

from _record import provenance
from mixtures import run_one

ROWS = Path(__file__).resolve().parent / "results" / "grid25_r1.jsonl"


def main() -> None:
    name, seeds, over = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], json.loads(sys.argv[3])
    torch.set_num_threads(1)
    prov = provenance()
    with tempfile.TemporaryDirectory() as tmp:
        for s in seeds:
            row = {"name": name, "over": over, **run_one("grid25", s, Path(tmp), threads=1, **over),
                   "date": prov["date"], "commit": prov["commit"], "machine": prov["machine"]}
            print(json.dumps(row), flush=True)
            with open(ROWS, "a") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
