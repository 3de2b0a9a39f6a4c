"""The one reader of a saved generator: `generator.json` (net spec, inputs, data description)
and `generator.safetensors` (weights). No pickle, no training code; a damaged or hostile file
gives a one-line error. Every model object (noise sampler, image model, table model) loads here.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..io.checkpoint import atomic_write
from ..io.errors import GanforgeError
from ..nets import build_net

GENERATOR_JSON, GENERATOR_WEIGHTS = "generator.json", "generator.safetensors"
FILTER_WEIGHTS = "filter.safetensors"  # the discriminator of the sample filter, if any
INPUTS = {"noise": "samples noise", "image": "translates images", "table": "synthesises table rows",
          "series": "samples time series", "audio": "generates audio clips", "anomaly": "scores anomalies",
          "text": "draws images from text"}


def command_for(info: dict, run_dir: Path) -> str:
    """The command that uses this saved model (named in the error for a wrong one)."""
    if info["input"] == "table":
        return f"ganforge tabular sample {run_dir} -n 1000 --out synth.csv"
    if info["input"] == "image":
        return f"ganforge {info.get('task', 'translate')} {run_dir} ..."
    if info["input"] == "text":
        return f"ganforge generate {run_dir} --text \"...\" -n 16 --out images.png"
    if info["input"] == "anomaly":
        return f"ganforge anomaly score {run_dir} NEW_DATA --out scores.csv"
    if info["input"] == "audio":
        return f"ganforge sample {run_dir} -n 16 --out clips"
    return f"ganforge sample {run_dir} -n 64 --out samples.png"


def read_info(run_dir: str | Path) -> dict:
    """generator.json of a run folder, checked to be what ganforge writes."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GanforgeError(f"run folder {run_dir} does not exist; pass the --out folder of a training run")
    meta, weights = run_dir / GENERATOR_JSON, run_dir / GENERATOR_WEIGHTS
    if not meta.is_file() or not weights.is_file():
        raise GanforgeError(f"{run_dir} has no trained generator yet ({GENERATOR_JSON}); "
                            f"train it first or wait for its first checkpoint")
    try:
        info = json.loads(meta.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GanforgeError(f"{meta} is not valid JSON ({e}); the run folder is damaged") from None
    if not isinstance(info, dict) or info.get("input") not in INPUTS or not isinstance(info.get("net"), dict):
        raise GanforgeError(f"{meta} does not describe a ganforge generator (no known 'input' and 'net'); "
                            f"the run folder is damaged or from a newer ganforge")
    return info


def load_weights(module, path: Path) -> None:
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise GanforgeError(f"cannot read weights {path} ({str(e).splitlines()[0]}); the run folder is damaged") from None
    bad = [k for k, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise GanforgeError(f"weights {path} are not finite (NaN or inf in {bad[0]}); the run folder is damaged")
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        raise GanforgeError(f"weights {path} do not fit the network in {path.parent / GENERATOR_JSON} "
                            f"({str(e).splitlines()[0][:120]}); the run folder is damaged") from None


def read_generator(run_dir: str | Path, expect: str | None = None):
    """(net, info) of a saved generator. `expect`: the input kind the caller can use; another
    kind is refused with the command that does use it."""
    run_dir = Path(run_dir)
    info = read_info(run_dir)
    if expect is not None and info["input"] != expect:
        raise GanforgeError(f"{run_dir} holds a '{info.get('family')}' model, which {INPUTS[info['input']]}; "
                            f"use `{command_for(info, run_dir)}` (or ganforge.load(run) in Python)")
    return load_net(info["net"], run_dir / GENERATOR_WEIGHTS), info


def load_net(spec: dict, path: Path):
    """The net `spec` names with the weights in `path`. It is built on the meta device first (no
    memory) and its tensor shapes are compared with the file's header, so a damaged or hostile
    spec cannot make ganforge allocate what the weights file does not back."""
    try:
        with safe_open(str(path), framework="pt") as f:
            have = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise GanforgeError(f"cannot read weights {path} ({str(e).splitlines()[0]}); the run folder is damaged") from None
    with torch.device("meta"):
        want = {k: tuple(v.shape) for k, v in build_net(spec).state_dict().items()}
    if want != have:
        k = next(iter(sorted(set(want) ^ set(have))), None) or next(k for k in want if want[k] != have[k])
        raise GanforgeError(f"weights {path} do not fit the network in {path.parent / GENERATOR_JSON} "
                            f"({k}: file {have.get(k)}, network {want.get(k)}); the run folder is damaged")
    net = build_net(spec)
    load_weights(net, path)
    return net


def write_generator(run_dir: str | Path, net, info: dict) -> None:
    """Write `net`'s weights, then the JSON that describes them (each file atomically)."""
    run_dir = Path(run_dir)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()}
    atomic_write(run_dir / GENERATOR_WEIGHTS, lambda tmp: save_file(tensors, tmp))
    atomic_write(run_dir / GENERATOR_JSON, lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2)))
