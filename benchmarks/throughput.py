"""Training-step throughput: ganforge's loop vs a plain eager fp32 PyTorch reference of the same
architecture (written below), run alternately in one process; achieved GFLOP/s (counted with
torch.utils.flop_counter on the reference step) against measured fp32 and bf16 GEMM peaks.

    python benchmarks/throughput.py [--rounds 5] [--steps 10] [--device cpu|cuda]

Writes benchmarks/results/throughput.md (the file it replaces moves to benchmarks/results/history/).

Models: DCGAN on 28x28x1, batch 128 (mnist5k's defaults: channels 32, z 64) and the seed MLP
GAN (G 100->128->784, D 784->128->1), batch 128. ganforge runs with its defaults (precision
auto, channels_last for conv nets, thread policy, fused Adam, EMA of G), and once more each
with NCHW and with fp32 forced, to show what each setting buys; the reference with torch's
defaults, no EMA. The last column is a hand-written step (`HandWritten`: ganforge's fast
settings and nothing else) against the same reference: the speed-up the step could reach
with no library code at all. The GEMM peak is the best rate of 1024^2 and 2048^2 matmuls.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from _record import provenance, write_result
from ganforge.families.resolve import resolve
from ganforge.data.base import Dataset
from ganforge.families import build_family, family_class
from ganforge.engine.loop import Trainer
from ganforge.engine.precision import cpu_has_native_bf16
from ganforge.io.rundir import RunDir


def reference_dcgan(z=64, c=32):
    G = nn.Sequential(nn.Linear(z, 4 * c * 49), nn.BatchNorm1d(4 * c * 49), nn.ReLU(), nn.Unflatten(1, (4 * c, 7, 7)),
                      nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(),
                      nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                      nn.Conv2d(c, 1, 3, 1, 1), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, c, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(2 * c, 4 * c, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * c * 49, 1))
    return G, D, z


def reference_mlp(z=100, h=128):
    G = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    D = nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.LeakyReLU(0.2), nn.Linear(h, 1))
    return G, D, z


class Reference:
    """The textbook eager fp32 GAN step: D on real + detached fake, then G, non-saturating loss."""

    fused = None  # torch's default Adam

    def __init__(self, make, x, device):
        self.G, self.D, self.z = (m.to(device) if isinstance(m, nn.Module) else m for m in make())
        self.oG = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.5, 0.999), fused=self.fused)
        self.oD = torch.optim.Adam(self.D.parameters(), 2e-4, betas=(0.5, 0.999), fused=self.fused)
        self.x, self.device = x.to(device), device

    def step(self):
        real = self.x[torch.randint(len(self.x), (128,))]
        fake = self.G(torch.randn(128, self.z, device=self.device))
        self.oD.zero_grad(set_to_none=True)
        d = F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake.detach())).mean()
        d.backward()
        self.oD.step()
        self.oG.zero_grad(set_to_none=True)
        g = F.softplus(-self.D(fake)).mean()
        g.backward()
        self.oG.step()


class HandWritten(Reference):
    """The same GAN step written by hand with what ganforge's defaults do, and nothing else:
    bf16 autocast, channels_last for conv nets, one D pass over real + fake, one G forward,
    fused Adam; no stats, logging, EMA or library code. What the step could cost at best."""

    fused = True

    def __init__(self, make, x, device):
        super().__init__(make, x, device)
        conv = any(isinstance(m, nn.Conv2d) for m in self.D.modules())
        if conv:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.dtype = torch.bfloat16 if device == "cuda" or cpu_has_native_bf16() else torch.float32

    def step(self):
        real = self.x.index_select(0, torch.randint(len(self.x), (128,), device=self.device))
        with torch.autocast(self.device, self.dtype, enabled=self.dtype != torch.float32):
            fake = self.G(torch.randn(128, self.z, device=self.device))
            self.oD.zero_grad(set_to_none=True)
            logit = self.D(torch.cat([real, fake.detach()])).float()
            d = F.softplus(-logit[:128]).mean() + F.softplus(logit[128:]).mean()
            d.backward()
            self.oD.step()
            self.oG.zero_grad(set_to_none=True)
            self.D.requires_grad_(False)
            g = F.softplus(-self.D(fake).float()).mean()
            g.backward()
            self.D.requires_grad_(True)
            self.oG.step()


def ganforge_step(options, x, device):
    data = Dataset(name="bench", kind="images", x=x)
    options = dict(options, data="bench", batch_size=128, device=device, log_every=10**9)
    cfg = resolve(family_class(options.get("model", "dcgan")), options, data.meta(), "bench")
    torch.manual_seed(0)
    fam = build_family(cfg, data.meta())
    tr = Trainer(fam, data, cfg, RunDir(tempfile.mkdtemp()), progress=False)
    sums = {}
    for n in fam.nets.values():
        n.train()

    def step():
        tr._one_step(sums)
        tr.step += 1
        sums.clear()
    return step, tr


def timed(step, n, device):
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / n


def gemm_peak(dtype, device, sizes=(1024, 2048), reps=5, rounds=3):
    """The best GEMM rate measured: square matmuls of each size, best of `rounds`."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        a @ b
        best = max(best, max(2 * n ** 3 / timed(lambda: a @ b, reps, device) / 1e9 for _ in range(rounds)))
    return best


def bench(name, options, make_ref, x, args, threads_ref, hand=False):
    """ganforge vs the reference (and, with `hand`, the hand-written step), alternated."""
    dev = args.device
    gf_step, tr = ganforge_step(options, x, dev)
    gf_threads = torch.get_num_threads()  # the Trainer's thread policy
    ref = Reference(make_ref, x, dev)
    with FlopCounterMode(display=False) as fc:
        ref.step()
    flops = fc.get_total_flops()
    steps = {"gf": (gf_step, gf_threads), "ref": (ref.step, threads_ref)}
    if hand:
        steps["hand"] = (HandWritten(make_ref, x, dev).step, gf_threads)
    times = {k: [] for k in steps}
    for s, _ in steps.values():  # warm-up
        s(), s()
    for _ in range(args.rounds):  # alternate so load changes hit all alike
        for k, (s, threads) in steps.items():
            torch.set_num_threads(threads)
            times[k].append(timed(s, args.steps, dev))
    t = {k: statistics.median(v) for k, v in times.items()}
    g, r = t["gf"], t["ref"]
    return dict(model=name, precision=tr.precision.name, gf_threads=gf_threads, ref_threads=threads_ref,
                gf_img_s=128 / g, ref_img_s=128 / r, speedup=r / g, gflop_step=flops / 1e9,
                gf_gflops=flops / g / 1e9, ref_gflops=flops / r / 1e9,
                hand_speedup=r / t["hand"] if hand else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    prov = provenance()
    threads_ref = torch.get_num_threads()  # torch's default (or OMP_NUM_THREADS)
    x = torch.rand(2048, 1, 28, 28) * 2 - 1
    dcgan, mlp = dict(model="dcgan", channels=32, z_dim=64), dict(model="vanilla", preset="seed")
    rows = [bench("DCGAN 28x28 c32", dcgan, reference_dcgan, x, args, threads_ref, hand=True),
            bench("DCGAN 28x28 c32, --no-channels-last", dict(dcgan, channels_last=False), reference_dcgan, x, args,
                  threads_ref),
            bench("DCGAN 28x28 c32, forced fp32", dict(dcgan, precision="fp32"), reference_dcgan, x, args, threads_ref),
            bench("seed MLP 100-128-784", mlp, reference_mlp, x, args, threads_ref, hand=True),
            bench("seed MLP, forced fp32", dict(mlp, precision="fp32"), reference_mlp, x, args, threads_ref)]
    torch.set_num_threads(threads_ref)
    p32, p16 = gemm_peak(torch.float32, args.device), gemm_peak(torch.bfloat16, args.device)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    lines = [f"Device {args.device}, {os.cpu_count()} cores, load average {load[0]:.1f} at the end; best GEMM "
             f"(1024^2, 2048^2) with {threads_ref} threads: fp32 {p32:.1f} GFLOP/s, bf16 {p16:.1f} GFLOP/s. "
             f"Batch 128; median of {args.rounds} rounds of {args.steps} steps, ganforge and the reference "
             f"alternating.", "",
             "| model | ganforge precision / threads | ganforge img/s | reference fp32 img/s (threads) | speed-up "
             "| GFLOP/step | ganforge GFLOP/s | % fp32 peak | % bf16 peak | hand-written step's speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        hand = f"{r['hand_speedup']:.2f}x" if r["hand_speedup"] else "-"
        lines.append(f"| {r['model']} | {r['precision']} / {r['gf_threads']} | {r['gf_img_s']:.0f} | "
                     f"{r['ref_img_s']:.0f} ({r['ref_threads']}) | {r['speedup']:.2f}x | {r['gflop_step']:.3f} | "
                     f"{r['gf_gflops']:.1f} | {100 * r['gf_gflops'] / p32:.0f}% | {100 * r['gf_gflops'] / p16:.0f}% | "
                     f"{hand} |")
    print("\n".join(lines))
    sys.stdout.flush()
    write_result("throughput", "Training-step throughput", "\n".join(lines), prov)

if __name__ == "__main__":
    main()
