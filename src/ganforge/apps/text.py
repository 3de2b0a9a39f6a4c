"""`ganforge generate RUN --text "a thick, slanted seven" -n 16 --out x.png`: images from words."""
from __future__ import annotations

import click

from ..io.outputs import check_output


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--text", "texts", multiple=True, required=True,
              help='A caption, in quotes; repeat --text for more captions (one grid row each).')
@click.option("-n", "n", type=int, default=16, show_default=True, help="Images per caption.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help=".png (grid, one row per caption) or .npz (samples, captions).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1 ...")
@click.option("--overwrite", is_flag=True, help="Replace --out if it already exists.")
def generate(run_dir, texts, n, out, seed, device, overwrite):
    """Draw N images per caption from a text-to-image run (ganforge train DATA --model text2img)."""
    from ..artifacts.text import TextToImage
    from ..data.text import check_captions
    from ..io.device import pick_device
    texts = check_captions(list(texts))  # bad captions stop here, before any model is loaded
    check_output(out, overwrite=overwrite)
    model = TextToImage.load(run_dir, str(pick_device(device)))
    s = model.write(out, n, text=texts, seed=seed)
    click.echo(f"wrote {len(s.samples)} images {tuple(s.samples.shape[1:])} for {len(texts)} "
               f"caption{'s' if len(texts) > 1 else ''} to {out}")
