"""Whole training steps of a 64 px colour cgan (G upsamples by nearest resize + 3x3 conv, the
default for nets of four or more doublings): ganforge's ResizeConv, which computes each resize +
conv as the one stride-2 transposed conv it equals, against the plain two-layer version
(nn.Upsample, then nn.Conv2d) of the same parameters, alternated in one process.

    python benchmarks/resize_conv.py [--rounds 3] [--steps 20] [--threads 1]

Each round times --steps whole steps (ganforge's Trainer: D and G phases, EMA, channels_last)
of each version after one warm-up step; the table gives the median seconds per step and the
ratio. Writes benchmarks/results/resize_conv.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import provenance, write_result  # noqa: E402

from ganforge.data.base import Dataset  # noqa: E402
from ganforge.engine.loop import Trainer  # noqa: E402
from ganforge.families import build_family, family_class  # noqa: E402
from ganforge.families.resolve import resolve  # noqa: E402
from ganforge.io.rundir import RunDir  # noqa: E402
from ganforge.nets.conv import ResizeConv  # noqa: E402

FAST, PLAIN = ResizeConv.forward, nn.Sequential.forward


def trainer(tmp: Path, threads: int) -> Trainer:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(512, 3, 64, 64, generator=g) * 2 - 1
    data = Dataset(name="random-64", kind="images", x=x, labels=torch.randint(0, 10, (512,), generator=g),
                   class_names=[str(i) for i in range(10)])
    cfg = resolve(family_class("cgan"), {"model": "cgan", "data": "random-64", "threads": threads,
                                         "log_every": 10**9}, data.meta(), "random-64")
    torch.manual_seed(0)
    fam = build_family(cfg, data.meta())
    tr = Trainer(fam, data, cfg, RunDir(tmp / "run"), progress=False)
    for net in fam.nets.values():
        net.train()
    return tr


def timed(tr: Trainer, steps: int) -> float:
    def step():
        tr._one_step({})
        tr.step += 1
    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prov = provenance()
    times = {"one transposed conv (ResizeConv)": [], "upsample + conv (plain)": []}
    with tempfile.TemporaryDirectory() as tmp:
        tr = trainer(Path(tmp), args.threads)
        for r in range(args.rounds):
            for name, fwd in zip(times, (FAST, PLAIN)):
                ResizeConv.forward = fwd
                times[name].append(timed(tr, args.steps))
                print(f"round {r + 1}: {name}: {times[name][-1]:.3f} s/step", flush=True)
        ResizeConv.forward = FAST
    med = {k: statistics.median(v) for k, v in times.items()}
    fast, plain = med.values()
    rows = ["| G upsampling | s/step (median) | rounds |", "|---|---|---|"]
    rows += [f"| {k} | {v:.3f} | {', '.join(f'{t:.3f}' for t in times[k])} |" for k, v in med.items()]
    body = (f"cgan, 3x64x64, 10 classes, batch {tr.cfg.batch_size}, channels {tr.cfg.channels}, "
            f"{args.threads} thread(s), {args.rounds} rounds of {args.steps} steps, alternated.\n\n"
            + "\n".join(rows) + f"\n\nWhole step: the transposed-conv form is **{plain / fast:.2f}x** as fast.\n")
    write_result("resize_conv", "Resize + conv upsampling as one transposed conv (64 px cgan step)", body, prov)


if __name__ == "__main__":
    main()
