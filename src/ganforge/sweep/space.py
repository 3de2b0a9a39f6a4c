"""What a sweep searches: a small space per kind of data, cut down to the options the family
declares. Learning rates are log-uniform; everything else is a short list of values that the
families' own recipes use (families/gan.py, data/registry.py), so no trial is exotic.

Each space is stored with the sweep (sweep.json), and widened to hold the data's defaults: the
first trial is always the defaults, so the report says what the search gained over them.
"""
from __future__ import annotations

# name -> ("log", low, high) for a log-uniform float, or ("choice", [values])
POINTS = {
    "lr_g": ("log", 1e-4, 3e-3), "lr_d": ("log", 1e-4, 3e-3),
    "betas": ("choice", [[0.5, 0.999], [0.0, 0.9]]),
    "loss": ("choice", ["ns", "hinge", "ls"]),
    "hidden": ("choice", [64, 128, 256]),
    "r1_gamma": ("choice", [0.0, 1e-3, 1e-2, 1e-1]),
    "ema_decay": ("choice", [0.0, 0.99, 0.999]),
}
IMAGES = {
    "lr_g": ("log", 5e-5, 1e-3), "lr_d": ("log", 5e-5, 1e-3),
    "betas": ("choice", [[0.5, 0.999], [0.0, 0.9], [0.0, 0.99]]),
    "loss": ("choice", ["ns", "hinge"]),
    "channels": ("choice", [16, 32, 64]),
    "r1_gamma": ("choice", [0.0, 0.1, 1.0, 10.0]),
    "ema_decay": ("choice", [0.0, 0.999]),
}
SPACES = {"points": POINTS, "images": IMAGES}


def space_for(family, kind: str, defaults: dict, fixed=()) -> dict:
    """The space for `family` on data of `kind`: only its options, its losses, none of the
    `fixed` ones (given by the user), and widened to hold `defaults` (the data's options)."""
    own, out = set(family.Options.names()) - set(fixed), {}
    for name, spec in SPACES[kind].items():
        if name not in own:
            continue
        d = defaults.get(name)
        d = list(d) if isinstance(d, tuple) else d
        if spec[0] == "log":
            low, high = spec[1], spec[2]
            if isinstance(d, (int, float)) and d > 0:
                low, high = min(low, d), max(high, d)
            out[name] = ["log", low, high]
        else:
            values = [v for v in spec[1] if name != "loss" or v in family.losses]
            if d is not None and d not in values and (name != "loss" or d in family.losses):
                values.append(d)
            if len(values) > 1:
                out[name] = ["choice", values]
    return out


def _key(v) -> str | int | float:
    """Optuna's categorical values must be scalars: a pair is stored as 'a,b'."""
    return ",".join(str(x) for x in v) if isinstance(v, list) else v


def _value(name: str, v):
    return tuple(float(x) for x in v.split(",")) if name == "betas" else v


def suggest(trial, space: dict) -> dict:
    """Options for one trial (train() keyword arguments)."""
    out = {}
    for name, spec in space.items():
        if spec[0] == "log":
            out[name] = trial.suggest_float(name, spec[1], spec[2], log=True)
        else:
            out[name] = _value(name, trial.suggest_categorical(name, [_key(v) for v in spec[1]]))
    return out


def fixed_params(space: dict, values: dict) -> dict:
    """`values` (options) as the trial parameters that enqueue a trial with them."""
    return {k: _key(list(v) if isinstance(v, tuple) else v) for k, v in values.items() if k in space}


def as_options(params: dict) -> dict:
    return {k: _value(k, v) for k, v in params.items()}


def describe(space: dict) -> str:
    parts = []
    for name, spec in space.items():
        parts.append(f"{name} log-uniform [{spec[1]:g}, {spec[2]:g}]" if spec[0] == "log"
                     else f"{name} in {{{', '.join(str(_key(v)) for v in spec[1])}}}")
    return "; ".join(parts)
