"""Train every family a few steps at fixed seeds and hash the resulting weights.

A change that should not alter training (a layout change, a refactor) must leave every hash
unchanged; run this before and after and compare. `--check` compares with the last recorded
file and exits 1 on any difference. Writes benchmarks/results/family_hashes.json keyed by date,
commit and machine.

    python benchmarks/family_hashes.py [--check]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

import ganforge

RESULTS = Path(__file__).resolve().parent / "results" / "family_hashes.json"
I2I = dict(image_size=32, batch_size=4, channels=8, log_every=5, steps=12, ckpt_every=12, sample_every=12)
CASES = {
    "vanilla_ring8": ("ring8", dict(model="vanilla", steps=60)),
    "vanilla_grid25": ("grid25", dict(model="vanilla", steps=60)),
    "vanilla_seed": ("digits", dict(preset="seed", steps=30)),
    "dcgan_digits": ("digits", dict(model="dcgan", steps=20, channels=8)),
    "dcgan_wgan": ("digits", dict(model="dcgan", steps=20, channels=8, loss="wgan-gp", n_critic=2)),
    "cgan_digits": ("digits", dict(model="cgan", steps=20, channels=8)),
    "cgan_mnist": ("mnist5k", dict(model="cgan", steps=10, channels=8)),
    "lapgan_mnist": ("mnist5k", dict(model="lapgan", steps=6, channels=8)),
    "pix2pix": ("photos-pairs", dict(model="pix2pix", **I2I)),
    "colorize": ("photos", dict(model="colorize", **I2I)),
    "srgan": ("photos", dict(model="srgan", **I2I)),
    "inpaint": ("photos", dict(model="inpaint", **I2I)),
    "cyclegan": ("photos-pairs", dict(model="cyclegan", **I2I)),
}


def weights_hash(path: Path) -> str:
    d = load_file(str(path))
    h = hashlib.sha256()
    for k in sorted(d):
        h.update(k.encode())
        h.update(d[k].float().numpy().tobytes())
    return h.hexdigest()[:16]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the recorded hashes; exit 1 if any differ")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out, hashes = Path(tempfile.mkdtemp(prefix="ganforge-hashes-")), {}
    for name, (data, opts) in CASES.items():
        ganforge.train(data, out=out / name, progress=False, threads=1, **opts)
        hashes[name] = {"checkpoint": weights_hash(out / name / "checkpoint.safetensors"),
                        "generator": weights_hash(out / name / "generator.safetensors")}
    from ganforge.tabular import TabularGAN
    model = TabularGAN(epochs=2, batch_size=100, progress=False, verbose=False).fit("fair", out=out / "tabular")
    hashes["tabular"] = {"generator": weights_hash(out / "tabular" / "generator.safetensors"),
                         "sample": hashlib.sha256(model.sample(50).to_csv().encode()).hexdigest()[:16]}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    doc = {"date": time.strftime("%Y-%m-%d"), "commit": commit, "machine": platform.processor() or platform.machine(),
           "torch": torch.__version__, "hashes": hashes}
    for name, h in hashes.items():
        print(f"{name:16s} {h}")
    if args.check:
        old = json.loads(RESULTS.read_text())["hashes"]
        diff = sorted(k for k in set(old) | set(hashes) if old.get(k) != hashes.get(k))
        print("identical to the recorded hashes" if not diff else f"DIFFERENT: {', '.join(diff)}")
        return 1 if diff else 0
    RESULTS.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
