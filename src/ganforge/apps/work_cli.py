"""GANs at work: `ganforge anomaly fit DATA --out RUN`, `ganforge anomaly score RUN NEW_DATA --out
scores.csv`, and `ganforge augment RUN --per-class N --out synth.npz` (a labelled training set;
`ganforge synthesize` is its older name)."""
from __future__ import annotations

import copy

import click


@click.group()
def anomaly():
    """Anomaly detection: fit on normal data only, then score new data (higher = more anomalous)."""


@anomaly.command("fit")
@click.argument("data")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder for the detector.")
@click.option("--method", type=click.Choice(["fanogan", "ganomaly"]),
              help="f-AnoGAN (WGAN-GP + izi_f encoder) or GANomaly (encoder-decoder-encoder); "
                   "default: ganomaly for images, fanogan for tables and points (measured best on each).")
@click.option("--normal-class", help="Labelled data: the normal class(es), by index or name, comma-separated; "
                                     "the other classes are left out of the fit.")
@click.option("--fpr", type=float, default=0.05, show_default=True,
              help="False-positive rate on held-out normal data that sets the threshold.")
@click.option("--steps", type=int, help="Training steps (f-AnoGAN: GAN and encoder together).")
@click.option("--gan-steps", type=int, help="f-AnoGAN: WGAN-GP steps before the encoder trains.")
@click.option("--batch-size", type=int)
@click.option("--lr", type=float, help="Learning rate of every net.")
@click.option("--z-dim", type=int, help="Latent size.")
@click.option("--arch", type=click.Choice(["conv", "mlp"]), help="Images: conv nets or MLPs on the flattened image.")
@click.option("--channels", type=int, help="Base width of conv nets (images).")
@click.option("--hidden", type=int, help="Width of MLP layers.")
@click.option("--n-critic", type=int, help="f-AnoGAN: critic updates per generator update.")
@click.option("--kappa", type=float, help="f-AnoGAN: weight of the discriminator-feature residual in the score.")
@click.option("--anomaly-score", type=click.Choice(["latent", "recon", "recon+latent", "recon+latent+knn",
                                                    "recon+latent+cls", "recon+latent+knn+cls"]),
              help="GANomaly: latent distance (the paper's), reconstruction error, both standardized, plus the "
                   "kNN distance of the code to training codes, plus 1 - the largest probability of a class head "
                   "on the code (default for images: recon+latent; recon+latent+knn where the normal data spans "
                   "several classes, recon+latent+knn+cls where those classes are labelled).")
@click.option("--w-cls", type=float, help="GANomaly, labelled normal classes: weight of the class head's "
                                          "cross-entropy on the code (default 1 where the score reads it).")
@click.option("--image-size", type=int, help="Resize images to this square size.")
@click.option("--members", type=int,
              help="Detectors trained with different seeds, their standardized scores averaged "
                   "(default: 3 for images, where measured better; 1 for tables and points).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", help="auto, cpu, cuda, cuda:1 ...")
@click.option("--threads", type=int, help="CPU threads (default auto).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def fit_command(data, out, method, normal_class, fpr, quiet, image_size, seed, members, **options):
    """Fit a detector on DATA, normal items only: images (built-in set, folder, .npz), 2D points
    or a table (.csv). 20% of it is held out: half chooses the checkpoint (lowest reconstruction
    error), half sets the threshold at --fpr."""
    from .anomaly import fit
    classes = normal_class.split(",") if normal_class else None
    run = fit(data, out, method=method, normal_class=classes, fpr=fpr, seed=seed, image_size=image_size,
              progress=not quiet, members=members, **{k: v for k, v in options.items() if v is not None})
    d = run.doc
    click.echo(f"fitted {d['method']} on {d['normal_items']['train']} normal items -> {run.path} "
               f"(checkpoint of step {d['chosen_step']}, {d['chosen_by']})")
    click.echo(f"threshold {d['threshold']:.6g}: {d['threshold_protocol']}")
    click.echo(f"next: ganforge anomaly score {run.path} NEW_DATA --out scores.csv")


@anomaly.command("score")
@click.argument("run_dir", type=click.Path())
@click.argument("data")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV: item, score, anomalous[, label].")
@click.option("--fpr", type=float, help="Re-choose the threshold at this false-positive rate "
                                        "(from the held-out normal scores of the fit).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it already exists.")
def score_command(run_dir, data, out, fpr, overwrite):
    """Score every item of DATA with the detector in RUN_DIR (higher = more anomalous)."""
    from ..io.outputs import check_output
    from .anomaly import score
    check_output(out, inputs=[data], overwrite=overwrite)
    df = score(run_dir, data, out=out, fpr=fpr)
    rate = df.attrs["fpr"]
    click.echo(f"scored {len(df)} items -> {out}: {int(df['anomalous'].sum())} above the threshold "
               f"{df.attrs['threshold']:.6g} (set at {rate:.1%} false positives on held-out normal data)")


@click.command("augment")
@click.argument("run_dir", type=click.Path())
@click.option("--per-class", type=int, required=True, help="Images (or table rows) per class.")
@click.option("--out", required=True, type=click.Path(),
              help="A .npz (images, labels), a new folder (one sub-folder of PNGs per class), or a .csv for a table run.")
@click.option("--label", help="Table runs: the categorical column that holds the class.")
@click.option("--min-confidence", type=float,
              help="Keep only images a logistic regression fitted on the run's own data gives this probability of "
                   "their class (acceptance per class is reported).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace a .npz or .csv --out if it already exists.")
def augment(run_dir, per_class, out, label, min_confidence, seed, overwrite):
    """Write a class-balanced labelled synthetic set from the conditional run RUN_DIR (a cgan, or
    a `ganforge tabular fit` run with --label), in a layout `ganforge train` / `tabular fit` and
    your own code read back. Whether it helps a classifier depends on the data: see
    benchmarks/results/augment.md for measured uplifts (and losses)."""
    from pathlib import Path

    from ..io.outputs import check_output
    from .synthesize import synthesize_to
    if Path(out).suffix.lower() in (".npz", ".csv"):
        check_output(out, overwrite=overwrite)
    rep = synthesize_to(run_dir, out, per_class, seed=seed, min_confidence=min_confidence, label=label,
                        log=lambda m: click.echo(m, err=True))
    what = f"rows of '{label}'" if label else "images"
    click.echo(f"wrote {rep['count']} {what} ({per_class} per class, {len(rep['classes'])} classes) to {rep['out']}")
    if "acceptance" in rep:
        click.echo("accepted by the run's classifier at >= "
                   f"{min_confidence}: " + ", ".join(f"{k} {v:.0%}" for k, v in rep["acceptance"].items()))


# The command's first name, kept so scripts written for it still run; hidden from --help.
synthesize = copy.copy(augment)
synthesize.name, synthesize.hidden = "synthesize", True
