"""`ganforge translate|colorize|upscale|inpaint`: apply a trained image-to-image run to files."""
from __future__ import annotations

from pathlib import Path

import click

from ..io.errors import GanforgeError
from ..io.outputs import check_output, check_outputs

_common = [click.argument("run_dir", type=click.Path()),
           click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1 ..."),
           click.option("--tile", type=int, default=256, show_default=True,
                        help="Tile side in pixels: bounds memory on large images."),
           click.option("--overwrite", is_flag=True, help="Replace output files that already exist "
                        "(inputs are never overwritten).")]


def common(f):
    for deco in reversed(_common):
        f = deco(f)
    return f


def _load(run_dir, device, tile):
    from ..artifacts.image import ImageModel
    from ..io.device import pick_device
    if tile < 16:
        raise GanforgeError(f"--tile must be at least 16, got {tile}")
    return ImageModel.load(run_dir, str(pick_device(device)), tile)


@click.command()
@common
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the outputs (PNG).")
def translate(run_dir, device, tile, overwrite, inputs, out):
    """Translate INPUT images (files or folders) with a pix2pix or cyclegan run into --out."""
    from tqdm import tqdm

    from ..io.images import IMAGE_SUFFIXES, read_rgb, write_image
    model = _load(run_dir, device, tile)
    model.expect("translate")
    files = []
    for p in map(Path, inputs):
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        elif not p.is_file():
            raise GanforgeError(f"input {p} does not exist; pass image files or folders")
        else:
            files.append(p)
    if not files:
        raise GanforgeError("no images found in the inputs; pass .png/.jpg files or folders of them")
    outputs = [(Path(out) / (p.stem + ".png"), p) for p in files]
    check_outputs(outputs, files, overwrite)  # cat.jpg beside cat.png, --out = an input folder
    images = [read_rgb(p) for p in files]  # check every input before writing anything
    for arr, p in zip(images, files):
        model._check_size(arr, p)
    for arr, (dest, p) in tqdm(list(zip(images, outputs)), desc="translate", disable=len(files) < 2):
        write_image(dest, model.translate(arr, p))
    click.echo(f"translated {len(files)} image(s) -> {out}")


@click.command()
@common
@click.argument("image", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output image (.png/.jpg).")
def colorize(run_dir, device, tile, overwrite, image, out):
    """Colourise a greyscale (or colour, its lightness is used) IMAGE with a colorize run."""
    from ..io.images import read_rgb, write_image
    check_output(out, [image], overwrite)
    model = _load(run_dir, device, tile)
    model.expect("colorize")
    write_image(out, model.colorize(read_rgb(image, allow_grey=True), image))
    click.echo(f"wrote {out}")


@click.command()
@common
@click.argument("image", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output image (.png/.jpg).")
@click.option("--self-ensemble", is_flag=True,
              help="Average over the 8 flips/rotations of IMAGE: higher PSNR, 8x slower, less sharp.")
def upscale(run_dir, device, tile, overwrite, image, out, self_ensemble):
    """Super-resolve IMAGE by the srgan run's factor (x2 or x4)."""
    from ..io.images import read_rgb, write_image
    check_output(out, [image], overwrite)
    model = _load(run_dir, device, tile)
    model.expect("upscale")
    arr = model.upscale(read_rgb(image), image, self_ensemble=self_ensemble)
    write_image(out, arr)
    click.echo(f"wrote {out} ({arr.shape[1]}x{arr.shape[0]}, x{model.scale})")


@click.command()
@common
@click.argument("image", type=click.Path())
@click.option("--mask", required=True, type=click.Path(dir_okay=False),
              help="Same-size image; white (> 127) marks the pixels to fill.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output image (.png/.jpg).")
def inpaint(run_dir, device, tile, overwrite, image, mask, out):
    """Fill the white area of MASK in IMAGE with an inpaint run."""
    from ..io.images import read_mask, read_rgb, write_image
    check_output(out, [image, mask], overwrite)
    model = _load(run_dir, device, tile)
    model.expect("inpaint")
    arr = read_rgb(image)
    m = read_mask(mask, arr.shape[:2])
    write_image(out, model.inpaint(arr, m, image))
    click.echo(f"wrote {out} ({100 * m.mean():.1f}% of pixels filled)")


COMMANDS = [translate, colorize, upscale, inpaint]
