"""`ganforge tabular fit | sample | evaluate`: thin click commands over ganforge.tabular."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..io.errors import GanforgeError


def _names(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


@click.group()
def tabular():
    """Synthetic tables (CTGAN-class): fit a CSV, sample rows, evaluate quality and privacy.
    Try: ganforge tabular fit fair --out runs/fair"""


@tabular.command()
@click.argument("data")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the fitted model.")
@click.option("--discrete", help="Comma-separated categorical columns (default: detected).")
@click.option("--epochs", type=int, default=200, show_default=True, help="Passes over the table.")
@click.option("--batch-size", type=int, default=500, show_default=True, help="Rows per step (multiple of 10).")
@click.option("--ema-decay", type=float, default=0.99, show_default=True,
              help="Sample from an exponential moving average of G's weights (0 turns it off).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda ...")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the CSV.")
@click.option("--on-problem", type=click.Choice(["warn", "stop", "fix"]), default="warn", show_default=True,
              help="What the health monitor does on a problem (as for `ganforge train`).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def fit(data, out, discrete, epochs, batch_size, ema_decay, seed, device, encoding, on_problem, quiet):
    """Fit a synthesizer on DATA: a CSV file or a built-in table name (fair)."""
    from . import TabularGAN
    model = TabularGAN(epochs=epochs, batch_size=batch_size, ema_decay=ema_decay, seed=seed, device=device,
                       progress=not quiet, on_problem=on_problem)
    model.fit(data, discrete_columns=_names(discrete), out=out, encoding=encoding)
    click.echo(f"fitted in {model.fit_seconds_:.0f} s -> {out}")
    click.echo(f"next: ganforge tabular sample {out} -n 1000 --out synth.csv")


@tabular.command()
@click.argument("run_dir", type=click.Path())
@click.option("-n", "n", type=int, default=1000, show_default=True, help="Rows to generate.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .csv file.")
@click.option("--condition", "conditions", multiple=True, help="col=value (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace --out if it already exists.")
def sample(run_dir, n, out, conditions, seed, overwrite):
    """Generate N synthetic rows from a fitted RUN_DIR into a CSV."""
    from ..io.checkpoint import atomic_write
    from ..io.outputs import check_output
    from . import TabularGAN
    if not out.lower().endswith(".csv"):
        raise GanforgeError(f"--out must end in .csv, got '{Path(out).name}'")
    check_output(out, overwrite=overwrite)
    cond = {}
    for c in conditions:
        if "=" not in c:
            raise GanforgeError(f"--condition '{c}' is not col=value; e.g. --condition sex=Female")
        k, v = c.split("=", 1)
        cond[k.strip()] = v.strip()
    df = TabularGAN.load(run_dir).sample(n, conditions=cond or None, seed=seed)
    atomic_write(Path(out), lambda tmp: df.to_csv(tmp, index=False))
    click.echo(f"wrote {len(df)} rows x {df.shape[1]} columns to {out}")


@tabular.command()
@click.argument("real")
@click.argument("synth")
@click.option("--holdout", help="Real rows NOT used for fitting (enables ML efficacy, DCR reference, MIA).")
@click.option("--target", help="Column to classify for ML efficacy (default: the last column).")
@click.option("--discrete", help="Comma-separated categorical columns (default: detected).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write an HTML report here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write all numbers as JSON here.")
@click.option("--encoding", default="utf-8", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace --report / --json files that already exist.")
def evaluate(real, synth, holdout, target, discrete, report_path, json_path, encoding, overwrite):
    """Compare SYNTH to REAL (the fitting table): quality, ML efficacy, privacy."""
    from ..io.outputs import check_outputs
    check_outputs([(Path(p), None) for p in (json_path, report_path) if p], [Path(real), Path(synth)]
                  + ([Path(holdout)] if holdout else []), overwrite)
    from ..data.table_columns import load_table, read_csv
    from ..io.checkpoint import atomic_write_text
    from ..metrics.table_evaluate import evaluate as run_eval
    from ..metrics.table_evaluate import summary_lines
    real_df, _ = load_table(real, encoding)
    synth_df = read_csv(synth, encoding)
    hold_df = read_csv(holdout, encoding) if holdout else None
    result = run_eval(real_df, synth_df, hold_df, target, _names(discrete))
    for line in summary_lines(result):
        click.echo(line)
    if json_path:
        atomic_write_text(Path(json_path), json.dumps(result, indent=2, default=str))
        click.echo(f"wrote {json_path}")
    if report_path:
        from ..report.tabular import write_tabular_report
        write_tabular_report(report_path, real_df, synth_df, result)
        click.echo(f"wrote {report_path}")
