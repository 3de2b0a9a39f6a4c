"""`ganforge sweep DATA --trials N --metric fid --budget-minutes M`."""
from __future__ import annotations

import click

from .search import SWEEP_METRICS


@click.command()
@click.argument("data")
@click.option("--trials", type=int, default=20, show_default=True, help="Trials in all (a resumed sweep counts its earlier ones).")
@click.option("--metric", type=click.Choice(SWEEP_METRICS), default="fid", show_default=True,
              help="What to optimise: the training-time metric at each trial's last step.")
@click.option("--budget-minutes", type=float, default=60, show_default=True,
              help="Wall time of this session; a trial still running then is stopped and pruned.")
@click.option("--model", help="Family to tune (default: chosen by the data, as ganforge train).")
@click.option("--steps", type=int, help="Steps per trial (default: the family's for the data).")
@click.option("--eval-every", type=int, help="Steps between a trial's evaluations, where pruning decides (default steps/5).")
@click.option("--eval-n", type=int, default=500, show_default=True, help="Samples per evaluation.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every trial and of the sampler.")
@click.option("--out", type=click.Path(file_okay=False), help="Sweep folder (default sweeps/<data>).")
@click.option("--resume", is_flag=True, help="Continue the sweep in --out (its study.db).")
def sweep(data, trials, metric, budget_minutes, model, steps, eval_every, eval_n, seed, out, resume):
    """Tune a GAN on DATA with Optuna (TPE): each trial a run folder in --out, the first the
    defaults; trials the health monitor marks as a problem, or whose metric falls behind the
    median of the completed trials at the same step, are pruned (the median rule waits for a
    third of a trial's steps and for max(2, trials/4) completed trials). Writes report.md,
    parallel.png and best.json there."""
    import sys

    from .search import sweep as run_sweep
    say = lambda m: click.echo(m, err=True)  # noqa: E731
    try:
        s = run_sweep(data, trials=trials, metric=metric, budget_minutes=budget_minutes, model=model, out=out,
                      resume=resume, steps=steps, eval_every=eval_every, eval_n=eval_n, seed=seed, say=say)
    except KeyboardInterrupt:
        click.echo("interrupted: the trials done are kept; continue with the same command and --resume", err=True)
        sys.exit(130)
    best, report = s["best"], f"{s['folder']}/report.md"
    if best is None:
        click.echo(f"no trial completed; see {report}")
    else:
        click.echo(f"best: trial {best['trial']}, {metric} {best['value']:.4g} ({s['folder']}/{best['run']}); "
                   f"report: {report}")
