"""Network registry: every net is rebuilt from a JSON spec {"net": name, "kwargs": {...}}.

That is how a saved run is loaded without code execution: the spec names a class here, the
weights come from safetensors.
"""
from __future__ import annotations

from torch import nn

from ..errors import GanforgeError
from .conv import ConvDiscriminator, ConvGenerator
from .mlp import MLPDiscriminator, MLPGenerator

NETS: dict[str, type[nn.Module]] = {
    "mlp_g": MLPGenerator, "mlp_d": MLPDiscriminator,
    "conv_g": ConvGenerator, "conv_d": ConvDiscriminator,
}


def register_net(name: str):
    """Decorator for families that bring their own nets (image-to-image, tabular, ...)."""
    def wrap(cls):
        if name in NETS and NETS[name] is not cls:
            raise ValueError(f"net name '{name}' is already registered")
        NETS[name] = cls
        return cls
    return wrap


def build_net(spec: dict) -> nn.Module:
    if spec.get("net") not in NETS:
        raise GanforgeError(f"unknown network '{spec.get('net')}' in saved run; "
                            f"was it made by a newer ganforge? known: {', '.join(NETS)}")
    return NETS[spec["net"]](**spec["kwargs"])
