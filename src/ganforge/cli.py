"""The `ganforge` command. Thin: parse, call the API, print. User mistakes exit 2 in one line."""
from __future__ import annotations

import json
import os
import sys

import click

from .families.options import LOSSES
from .io.errors import GanforgeError


class TrainCommand(click.Command):
    """`ganforge train --help` lists every registered family with its own options, read from
    the registry when help is asked for (so plain commands do not import torch for it)."""

    def format_epilog(self, ctx, formatter):
        from .data.registry import DATASETS
        from .families import FAMILIES
        with formatter.section("Families (--model)"):
            formatter.write_dl([(name, cls.summary) for name, cls in FAMILIES.items()])
            formatter.write_paragraph()
            formatter.write_text("Each family takes the common options and its own; an option it does not "
                                 "use is refused with the list of its own.")
        with formatter.section("Built-in data"):
            formatter.write_dl([(name, s.description) for name, s in DATASETS.items()])


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ganforge")
def cli():
    """Train, sample, inspect and report on GANs. Try: ganforge train ring8"""


@cli.command(cls=TrainCommand)
@click.argument("data")
@click.option("--model", help="Family (listed below; default: chosen by the data).")
@click.option("--unconditional", is_flag=True, help="Labelled images: train dcgan, not the default cgan.")
@click.option("--loss", type=click.Choice(LOSSES), help="Adversarial loss (default: the family's recipe for the data).")
@click.option("--preset", help="Named architecture preset, e.g. 'seed' (100->128->784 MLP GAN).")
@click.option("--steps", type=int, help="Generator updates in total.")
@click.option("--minutes", type=float, help="Train for this long instead of --steps (steps from the measured speed).")
@click.option("--batch-size", type=int, help="Examples per step (per process under torchrun).")
@click.option("--lr", type=float, help="Learning rate of G and D.")
@click.option("--lr-g", type=float, help="Learning rate of G (overrides --lr).")
@click.option("--lr-d", type=float, help="Learning rate of D (overrides --lr).")
@click.option("--n-critic", type=int, help="D updates per G update.")
@click.option("--z-dim", type=int, help="Latent size.")
@click.option("--channels", type=int, help="Base width of conv nets.")
@click.option("--hidden", type=int, help="Width of MLP layers.")
@click.option("--depth", type=int, help="Hidden layers of MLP nets.")
@click.option("--gp-weight", type=float, help="Gradient penalty weight of --loss wgan-gp (default 10).")
@click.option("--lr-decay/--no-lr-decay", default=None, help="Decay both learning rates linearly to 0 over the run.")
@click.option("--projection/--no-projection", default=None, help="cgan: projection discriminator (default on).")
@click.option("--r1-gamma", type=float, help="R1 penalty weight (0 = off).")
@click.option("--r1-every", type=int, help="Lazy R1: apply it every k steps with weight k·γ.")
@click.option("--r1-batch", type=int, help="R1 on the first k real examples of each batch (0 = all).")
@click.option("--spectral-norm/--no-spectral-norm", default=None, help="Spectral norm on every D layer.")
@click.option("--pack", type=int, help="PacGAN: D judges this many samples at once (1 = off).")
@click.option("--ema-decay", type=float, help="EMA of G weights (0 = off).")
@click.option("--sample-filter/--no-sample-filter", default=None,
              help="Sampling keeps only fakes D scores like real data (default: on for 2D points).")
@click.option("--ac-weight", type=float, help="cgan: AC-GAN classifier loss weight (0 = off).")
@click.option("--ac-fake/--no-ac-fake", default=None,
              help="cgan: D's AC head also learns the asked class on G's images (AC-GAN; default on); off: real images only.")
@click.option("--class-pool/--no-class-pool", default=None,
              help="cgan: D's class terms read its last features summed over positions, so a class reads the same anywhere in the image (off by default: it did not carry to held-out data).")
@click.option("--class-guide", type=float,
              help="cgan: weight of a content classifier, trained on real images only, that G's images must read as the asked class (0 = off).")
@click.option("--mbstd", type=int, help="dcgan/cgan: minibatch-std group size in D (0 = off).")
@click.option("--upsample", type=click.Choice(["transposed", "resize"]),
              help="dcgan/cgan: how G doubles its size: transposed convs or nearest-neighbour resize + conv.")
@click.option("--image-size", type=int, help="Resize folder images to this square size.")
@click.option("--augment", type=click.Choice(("off", "diffaug", "ada")),
              help="Augment D's inputs, real and fake: diffaug (always) or ada (adaptive p); default ada below 2,000 images.")
@click.option("--w-dim", type=int, help="stylegan: style vector size.")
@click.option("--map-layers", type=int, help="stylegan: mapping network depth.")
@click.option("--style-mixing", type=float, help="stylegan: share of batches trained with two mixed styles (default 0.9).")
@click.option("--scale", type=int, help="srgan: upscale factor, 2 or 4 (default 4).")
@click.option("--warmup-steps", type=int, help="srgan: pixel-loss-only steps before the adversarial loss (default steps/4); "
                   "colorize: reconstruction-only steps (default steps/2).")
@click.option("--window", type=int, help="timegan: time steps per window (default 24; a .npz: its own).")
@click.option("--cell", type=click.Choice(("gru", "lstm", "tcn")), help="timegan: gru, lstm or tcn (causal convs).")
@click.option("--layers", type=int, help="timegan: stacked RNN layers (default 3).")
@click.option("--embed-steps", type=int, help="timegan: embedding-only steps first (default steps/6).")
@click.option("--supervised-steps", type=int, help="timegan: supervised-only steps next (default steps/6).")
@click.option("--change-moments", type=float, help="timegan: weight of a moment loss on step-to-step changes "
                   "(default 0: the paper's losses; tried at 100: worse on held-out seeds).")
@click.option("--sample-rate", type=int, help="wavegan, specgan: clips are resampled to this rate in Hz (default 8000).")
@click.option("--clip-samples", type=int, help="wavegan, specgan: samples per clip, a multiple of 1024 (wavegan) or of "
                   "--spec-size² (specgan) (default 8192).")
@click.option("--spec-size", type=int, help="specgan: spectrogram bands = frames, a power of two (default 64).")
@click.option("--griffin-lim", type=int, help="specgan: Griffin-Lim iterations per sampled clip (default 32).")
@click.option("--phase-shuffle", type=int, help="wavegan: D shifts activations by up to this many samples (default 2).")
@click.option("--seed", type=int, help="Seed of weights, data order and noise (default 0).")
@click.option("--device", help="auto, cpu, cuda, cuda:1 ...")
@click.option("--precision", type=click.Choice(("fp32", "bf16", "fp16", "auto")),
              help="Autocast precision (default auto: bf16 for image GANs on native-bf16 CPUs and CUDA, else fp32).")
@click.option("--threads", type=int, help="CPU threads (default auto: the cores idle at start, at most 8).")
@click.option("--compile/--no-compile", "compile", default=None, help="torch.compile the nets (eager fallback).")
@click.option("--channels-last/--no-channels-last", default=None, help="NHWC conv nets (default: on for noise-to-image conv nets).")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default runs/<data>).")
@click.option("--resume", is_flag=True, help="Continue the run in --out exactly where it stopped.")
@click.option("--config", "config_file", type=click.Path(), help="JSON/YAML file of options.")
@click.option("--log-every", type=int, help="Steps between log.jsonl records and health checks.")
@click.option("--sample-every", type=int, help="Steps between sample grids in samples/.")
@click.option("--ckpt-every", type=int, help="Steps between checkpoints (also written at the end and on Ctrl-C).")
@click.option("--eval-every", type=int, help="Cheap FID/KID/precision/recall/coverage (time series: a discriminative score) every K steps (0 = off).")
@click.option("--eval-n", type=int, help="Samples per training-time evaluation (default 1000).")
@click.option("--keep-best", help="Keep the best generator by this metric in RUN/best/ (e.g. fid; time series: discriminative).")
@click.option("--on-problem", type=click.Choice(["warn", "fix", "stop"]),
              help="Health monitor action on a problem: warn (default), fix (roll back + change), stop.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--tensorboard", is_flag=True, help="Also write scalars, sample grids and findings to RUN/tensorboard/.")
def train(data, model, out, resume, config_file, quiet, tensorboard, **options):
    """Train a GAN on DATA: a built-in name (listed below), a folder of images (sub-folders =
    classes) or a .npz with 'images' [and 'labels']. Image-to-image models train on random
    crops (--image-size) of full-size photos. An option the chosen family does not use is
    refused. With --resume the saved options are kept: give only what you change (--steps)."""
    _train(data, model=model, out=out, resume=resume, config=config_file, progress=not quiet,
           tensorboard=tensorboard, **options)


def _train(data, tensorboard=False, **kwargs):
    import time

    from .api import train as api_train
    from .families import family_class
    from .report.tensorboard import TensorBoardWriter
    t0 = time.time()
    tb = TensorBoardWriter() if tensorboard else None  # checks the package before training
    run = api_train(data, callbacks=[tb] if tb else (), **kwargs)
    if tb:
        tb.close(run.path)
    click.echo(f"trained {run.config['family']} on {data} to step {run.step} "
               f"in {time.time() - t0:.0f} s -> {run.path}")
    use = family_class(run.config["family"]).next_command
    if "{run}/best" in use and not (run.path / "best").is_dir():  # --eval-every 0: no kept best
        use = use.replace("{run}/best", "{run}")
    click.echo(f"samples: {run.path / 'samples'}   next: ganforge {use.format(run=run.path)}")


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--steps", type=int, help="Train on to this many steps in all (default: the saved number).")
@click.option("--device", help="auto, cpu, cuda, cuda:1 ...")
@click.option("--threads", type=int, help="CPU threads (default auto).")
@click.option("--on-problem", type=click.Choice(["warn", "fix", "stop"]), help="Health monitor action.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def resume(run_dir, quiet, **options):
    """Continue RUN_DIR where it stopped, with the options it was started with."""
    from .api import Run
    from .io.checkpoint import read_metadata
    run = Run(run_dir)
    # the data the checkpoint was trained on (config.json only describes the run; a damaged or
    # edited one must not send training to another folder)
    saved = read_metadata(run.dir.checkpoint_path)["config"] if run.dir.has_checkpoint() else run.config["config"]
    _train(saved["data"], out=run_dir, resume=True, progress=not quiet, **options)


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("-n", "n", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("--out", required=True, type=click.Path(), help=".npz (arrays) or .png (grid); time series also .csv; "
              "audio: a folder of WAV files.")
@click.option("--label", help="Class of a conditional model, by index or name (`ganforge info` lists them; default: uniform).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-filter", is_flag=True, help="Keep every fake, also those the run's sample filter rejects.")
@click.option("--truncation", type=float, help="stylegan: truncation psi, pulls w towards its mean (1 = off, 0 = the mean image).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it already exists.")
def sample(run_dir, n, out, label, seed, no_filter, overwrite, truncation):
    """Generate N samples from a trained run into OUT (.npz or .png; time series: .csv, .npz or .png;
    audio: a folder of WAV files, .npz or .png of spectrograms)."""
    from .artifacts.audio import AudioModel
    from .artifacts.noise import Generator
    from .artifacts.saved import read_info
    from .artifacts.series import SeriesModel
    from .io.outputs import check_output
    # a noise, series or audio model; another kind is refused with its own command
    kind = read_info(run_dir)["input"]
    gen = {"series": SeriesModel, "audio": AudioModel}.get(kind, Generator).load(run_dir)
    psi = {} if truncation is None else {"truncation": truncation}
    if psi and not isinstance(gen, Generator):
        raise GanforgeError("--truncation needs a stylegan run; this run's model has no mapping network")
    if isinstance(gen, AudioModel):  # a folder of clips: checked (and written whole) by the model
        s = gen.write(out, n, label=label, seed=seed, overwrite=overwrite, **psi)
    else:
        check_output(out, overwrite=overwrite)
        s = gen.write(out, n, label=label, seed=seed, filter=False if no_filter else None, **psi)
    how = " (sample filter on: off-support fakes redrawn)" if gen.has_filter and not no_filter else ""
    click.echo(f"wrote {len(s.samples)} samples {tuple(s.samples.shape[1:])} to {out}{how}")


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info(run_dir, as_json):
    """Show a run's config, progress and last logged numbers."""
    from .api import Run
    run = Run(run_dir)
    doc = run.config
    last = run.log[-1] if run.log else {}
    summary = {"run": str(run.path), "family": doc["family"], "data": doc["data"]["name"],
               "step": run.step, "steps": doc["config"]["steps"], "last": last,
               "precision": doc.get("precision"), "config": doc["config"]}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"run      {run.path}\nfamily   {doc['family']} on {doc['data']['name']} "
               f"{tuple(doc['data']['shape'])}\nprogress {run.step}/{doc['config']['steps']} steps"
               + (f" ({doc['precision']})" if doc.get("precision") else ""))
    if last:
        click.echo("last     " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in last.items()))
    names = doc["data"].get("class_names") or []
    if names:
        click.echo("classes  " + ", ".join(f"{i} = {c}" for i, c in enumerate(names)) + "   (sample --label NAME or INDEX)")
    click.echo("config   " + "  ".join(f"{k}={v}" for k, v in doc["config"].items() if v is not None))


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--no-eval", is_flag=True, help="Do not run `ganforge evaluate` when metrics.json is missing or stale.")
@click.option("-n", "n", type=int, help="Samples for that evaluation (see `ganforge evaluate -n`).")
def report(run_dir, no_eval, n):
    """Write RUN_DIR/report.html: scorecard with real-vs-real floor, samples, per-class grid,
    interpolation, curves, nearest-neighbour pairs, config (self-contained, offline)."""
    from .report.html import write_report
    path = write_report(run_dir, evaluate=not no_eval, n=n, say=lambda m: click.echo(m, err=True))
    click.echo(f"wrote {path}")


from .tabular.cli import tabular as _tabular  # noqa: E402  (ganforge tabular fit|sample|evaluate)

cli.add_command(_tabular)

from .apps.text import generate as _generate  # noqa: E402  (ganforge generate RUN --text ...)

cli.add_command(_generate)

from .apps.work_cli import anomaly as _anomaly  # noqa: E402  (ganforge anomaly fit|score)
from .apps.work_cli import augment as _augment  # noqa: E402  (labelled synthetic sets)
from .apps.work_cli import synthesize as _synthesize  # noqa: E402  (augment's older name, hidden)

cli.add_command(_anomaly)
cli.add_command(_augment)
cli.add_command(_synthesize)

from .apps.cli import COMMANDS as _i2i_commands  # noqa: E402  (translate, colorize, upscale, inpaint)

for _c in _i2i_commands:
    cli.add_command(_c)

from .apps.export import export as _export  # noqa: E402  (ganforge export RUN --format onnx)

cli.add_command(_export)

from .dashboard.cli import dashboard as _dashboard  # noqa: E402  (ganforge dashboard [RUNS_DIR])

cli.add_command(_dashboard)

from .sweep.cli import sweep as _sweep  # noqa: E402  (ganforge sweep DATA --trials N)

cli.add_command(_sweep)

from .apps.style import COMMANDS as _style_commands  # noqa: E402  (mix, walk, project)

for _c in _style_commands:
    cli.add_command(_c)


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("-n", "n", type=int, help="Generated samples = real samples per half "
              "(default 10000 images / 2500 points, capped at half the real data).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics.json document instead of a table.")
@click.option("--extractor", help="Feature network: auto (default), mnist-cnn, digits-cnn, fashion-cnn, user-cnn.")
@click.option("--inception-weights", type=click.Path(dir_okay=False),
              help="FID InceptionV3 weights (pt_inception-2015-12-05-6726825d.pth) for standard FID.")
@click.option("--seed", type=int, default=0, show_default=True, help="Real split and sampling seed.")
def evaluate(run_dir, n, as_json, extractor, inception_weights, seed):
    """Score RUN_DIR's generator against its real data (FID, KID, precision/recall,
    density/coverage, per-class, memorisation), with protocol and real-vs-real floor.
    Writes RUN_DIR/metrics.json."""
    from .metrics.evaluate import evaluate as run_eval
    from .metrics.evaluate import format_table
    doc = run_eval(run_dir, n=n, seed=seed, extractor=extractor, inception_weights=inception_weights,
                   log=None if as_json else lambda m: click.echo(m, err=True))
    click.echo(json.dumps(doc, indent=2) if as_json else format_table(doc))


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
def doctor(run_dir, as_json):
    """Diagnose a finished or running run from its log: findings, evidence, advice, fixes."""
    from .monitor.doctor import diagnose, format_diagnosis
    d = diagnose(run_dir)
    click.echo(json.dumps(d, indent=2) if as_json else format_diagnosis(d))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["--help"]
    try:
        rv = cli.main(argv, prog_name="ganforge", standalone_mode=False)
        sys.exit(rv if isinstance(rv, int) else 0)
    except GanforgeError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else str(e))
        sys.exit(0)
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "ganforge"
        click.echo(f"error: {e.format_message()} (see `{cmd} --help`)", err=True)
        sys.exit(2)
    except (click.exceptions.Abort, KeyboardInterrupt) as e:  # click turns Ctrl-C into Abort
        cause = e if isinstance(e, KeyboardInterrupt) else e.__cause__
        if isinstance(cause, KeyboardInterrupt) and os.environ.get("RANK", "0") == "0":  # torchrun: rank 0 says it
            click.echo(_interrupted(cause, argv), err=True)
        sys.exit(130)


def _interrupted(e: KeyboardInterrupt, argv: list[str]) -> str:
    """Ctrl-C: what was saved and how to go on. Training stops at a step boundary and saves it
    (engine/interrupt.py, which raises `Interrupted` with the step and the run folder)."""
    run, step = getattr(e, "run_path", None), getattr(e, "step", None)
    if run is None:
        return "interrupted: nothing new was saved (a run keeps its last checkpoint)"
    if argv[:1] == ["tabular"]:
        return f"interrupted at step {step}: the model so far is saved in {run}"
    return f"interrupted at step {step}: checkpoint saved in {run}; continue with `ganforge resume {run}`"
