"""`ganforge export RUN --format onnx --out g.onnx`: the saved generator as an ONNX graph.

The graph is the generator net alone, in model space: noise generators take `z` (N, z_dim)
float32 [and `labels` (N,) int64 when conditional] and give images in [-1, 1] (N, C, H, W) or
points (N, D); image-to-image generators take `image` (N, C, H, W) in [-1, 1] [and `mask`
(N, 1, H, W) for inpaint], at the fixed side `--size` (ImageModel tiles large images in Python).
The batch size is dynamic where the exporter can trace it so: torch 2.13's TorchScript exporter
cannot for the gated inpainting net (a depthwise conv whose kernel is expanded to the input's
channel count; the dynamo exporter fails on it as well), whose graph then takes batches of 1.
The sample filter stays in Python.
The safetensors format needs no export: RUN/generator.safetensors + generator.json already are it.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import click
import torch
from torch import nn

from ..artifacts.saved import read_generator
from ..io.checkpoint import atomic_write
from ..io.errors import GanforgeError
from ..io.outputs import check_output


class _Noise(nn.Module):
    def __init__(self, net, conditional: bool):
        super().__init__()
        self.net, self.conditional = net, conditional

    def forward(self, z, labels=None):
        return self.net(z, labels if self.conditional else None)


def export_inputs(info: dict, n: int = 2, size: int | None = None, seed: int = 0):
    """(names, example tensors) that the exported graph takes, for this saved generator."""
    g = torch.Generator().manual_seed(seed)
    if info["input"] == "noise":
        z = torch.randn(n, info["z_dim"], generator=g)
        if info.get("num_classes"):
            return ["z", "labels"], (z, torch.randint(info["num_classes"], (n,), generator=g))
        return ["z"], (z,)
    if info["input"] == "image":
        c = int(info.get("in_channels", 3))
        side = size or max(int(info.get("min_size", 16)), 32)
        side += -side % int(info.get("multiple", 1))
        x = torch.rand(n, c, side, side, generator=g) * 2 - 1
        if info.get("task") == "inpaint":
            return ["image", "mask"], (x, (torch.rand(n, 1, side, side, generator=g) > 0.7).float())
        return ["image"], (x,)
    raise GanforgeError(f"ONNX export covers noise and image-to-image generators; this run's model "
                        f"takes '{info['input']}' (use its generator.safetensors + generator.json)")


def module_for(net: nn.Module, info: dict) -> nn.Module:
    net = net.eval()
    return _Noise(net, bool(info.get("num_classes"))) if info["input"] == "noise" else net


def export_onnx(run_dir: str | Path, out: str | Path, size: int | None = None) -> dict:
    """Write the run's generator to `out` (ONNX, batch size dynamic; images of side `size`)."""
    net, info = read_generator(run_dir)
    names, module, error = export_inputs(info, size=size)[0], module_for(net, info), None
    for axes in ({k: {0: "batch"} for k in [*names, "output"]}, None):  # dynamic batch, else batch 1
        example = export_inputs(info, n=2 if axes else 1, size=size)[1]

        def write(tmp):
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # the exporter's tracer warnings say nothing to a user
                torch.onnx.export(module, example, tmp, input_names=names, output_names=["output"],
                                  dynamic_axes=axes, dynamo=False, opset_version=17)
        try:
            atomic_write(Path(out), write)
            return {**info, "onnx_batch": "dynamic" if axes else 1}
        except Exception as e:  # the exporter's own errors: one line naming the op it could not map
            error = e
    raise GanforgeError(f"ONNX export of this '{info.get('family')}' generator failed: "
                        f"{str(error).splitlines()[0][:200]}")


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True,
              help="onnx (safetensors needs no export: RUN/generator.safetensors is it).")
@click.option("--out", "--onnx", "out", required=True, type=click.Path(dir_okay=False), help="Output file, e.g. g.onnx.")
@click.option("--size", type=click.IntRange(16, 4096), help="Image-to-image: the graph's image side (default 32).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it already exists.")
def export(run_dir, fmt, out, size, overwrite):
    """Export RUN_DIR's generator (noise or image-to-image) to ONNX, for onnxruntime and others."""
    check_output(out, overwrite=overwrite)
    info = export_onnx(run_dir, out, size)
    names, example = export_inputs(info, size=size)
    shapes = ", ".join(f"{k} {('N',) + tuple(t.shape[1:])}" for k, t in zip(names, example))
    click.echo(f"wrote {out}: inputs {shapes} -> output in model space ([-1, 1] for images); "
               f"batch N: {info['onnx_batch']}")
