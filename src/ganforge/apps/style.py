"""`ganforge mix|walk|project`: latent-space controls of a trained noise-to-image run
(artifacts/style.py does the work; `ganforge sample --truncation` lives with `sample`)."""
from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from ..io.errors import GanforgeError
from ..io.outputs import check_output

_truncation = click.option("--truncation", type=float, help="stylegan: pull w towards its mean (1 = off, 0 = the mean image).")
_label = click.option("--label", help="Class (index or name) for conditional models (default: drawn per seed).")
_overwrite = click.option("--overwrite", is_flag=True, help="Replace --out if it already exists.")


def _load(run_dir):
    from ..artifacts.noise import Generator
    return Generator.load(run_dir)  # another kind of run: one line naming the command it takes


def _suffix(out, *allowed):
    if Path(out).suffix.lower() not in allowed:
        raise GanforgeError(f"--out must end in {' or '.join(allowed)}, got '{Path(out).name}'")


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--coarse", required=True, help="Seeds giving the coarse styles (rows), e.g. 1,2,3 or 0-4.")
@click.option("--fine", required=True, help="Seeds giving the fine styles (columns).")
@click.option("--crossover", type=int, help="First layer taken from the fine seed (default: half the layers).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Grid image (.png).")
@_truncation
@_label
@_overwrite
def mix(run_dir, coarse, fine, crossover, out, truncation, label, overwrite):
    """Style-mixing grid of a stylegan run: each cell has the coarse styles (pose, shape) of its
    row's seed and the fine styles (stroke, texture) of its column's seed."""
    from ..artifacts.style import parse_seeds, style_mix
    from ..io.images import save_png
    _suffix(out, ".png")
    a, b = parse_seeds(coarse, "--coarse"), parse_seeds(fine, "--fine")
    check_output(out, overwrite=overwrite)
    res = style_mix(_load(run_dir), a, b, crossover, label, truncation)
    save_png(Path(out), res["picture"])
    click.echo(f"wrote {out}: {len(a)} x {len(b)} mixes, layers 0-{res['crossover'] - 1} of "
               f"{res['n_ws']} from --coarse")


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Animation (.gif).")
@click.option("-n", "n", type=int, default=4, show_default=True, help="Walks side by side.")
@click.option("--points", type=int, default=4, show_default=True, help="Random latents each walk loops through.")
@click.option("--frames", type=int, default=48, show_default=True)
@click.option("--fps", type=int, default=12, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@_truncation
@_label
@_overwrite
def walk(run_dir, out, n, points, frames, fps, seed, truncation, label, overwrite):
    """Latent walk of a noise-to-image run as a looping GIF (stylegan walks in W, others in z)."""
    from ..artifacts.style import walk_frames
    from ..io.checkpoint import atomic_write
    _suffix(out, ".gif")
    if not 1 <= fps <= 50:
        raise GanforgeError(f"--fps must be 1..50, got {fps}")
    check_output(out, overwrite=overwrite)
    pics = walk_frames(_load(run_dir), n, points, frames, seed, label, truncation)
    from PIL import Image
    ims = [Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p) for p in pics]
    atomic_write(Path(out), lambda tmp: ims[0].save(tmp, format="GIF", save_all=True, append_images=ims[1:],
                                                     duration=int(1000 / fps), loop=0))
    click.echo(f"wrote {out}: {len(ims)} frames, {n} walk(s) through {points} latents")


@click.command()
@click.argument("run_dir", type=click.Path())
@click.argument("image", type=click.Path())
@click.option("--steps", type=int, default=300, show_default=True, help="Optimisation steps.")
@click.option("--wplus", is_flag=True, help="One w per layer (W+): closer fits, less typical of the model.")
@click.option("--out", type=click.Path(dir_okay=False), help="Target | projection side by side (.png).")
@click.option("--save-w", type=click.Path(dir_okay=False), help="The found w as .npz (w, label).")
@_label
@_overwrite
def project(run_dir, image, steps, wplus, out, save_w, label, overwrite):
    """Project a real IMAGE into the W space of a stylegan run and report the reconstruction
    error (RMS pixel difference in [0, 1] units; the mean-w image's error for scale)."""
    from ..artifacts.style import project as run_project
    from ..artifacts.style import require_style
    from ..io.images import read_image, save_png
    for path, ext in ((out, ".png"), (save_w, ".npz")):
        if path is not None:
            _suffix(path, ext)
            check_output(path, [image], overwrite)
    gen = _load(run_dir)
    require_style(gen, "projection")
    c, h, w = gen.data["shape"]
    arr = _fit(read_image(Path(image), "L" if c == 1 else "RGB"), h, w)
    res = run_project(gen, arr, steps=steps, label=label, wplus=wplus)
    if out:
        save_png(Path(out), np.concatenate([arr, res["image"]], axis=1))
    if save_w:
        from ..io.checkpoint import atomic_write
        arrays = {"w": res["w"].numpy(), "label": np.array(-1 if res["label"] is None else res["label"])}

        def write_npz(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        atomic_write(Path(save_w), write_npz)
    click.echo(json.dumps({k: res[k] for k in ("rms", "rms_start", "psnr", "steps", "label", "wplus")}))


def _fit(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    """The image at the model's size: centre-cropped to its aspect, Lanczos-resized."""
    if arr.shape[:2] == (h, w):
        return arr
    from PIL import Image
    H, W = arr.shape[:2]
    s = min(H / h, W / w)
    ch, cw = round(h * s), round(w * s)
    top, left = (H - ch) // 2, (W - cw) // 2
    im = Image.fromarray(arr[top:top + ch, left:left + cw].squeeze(-1) if arr.shape[-1] == 1 else arr[top:top + ch, left:left + cw])
    out = np.asarray(im.resize((w, h), Image.LANCZOS), dtype=np.uint8)
    return out[..., None] if out.ndim == 2 else out


COMMANDS = [mix, walk, project]
