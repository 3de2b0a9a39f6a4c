"""`ganforge dashboard [RUNS_DIR]`: watch runs in a browser (local, offline)."""
from __future__ import annotations

import secrets
from pathlib import Path

import click

from ..io.errors import GanforgeError

INSTALL = "pip install 'ganforge[dashboard]'"


@click.command()
@click.argument("runs_dir", type=click.Path(), default="runs")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; any other than localhost needs the printed token.")
@click.option("--token", help="Token for a non-local --host (default: a random one, printed).")
@click.option("--allow-train", is_flag=True,
              help="Let the page start runs (into RUNS_DIR), stop and resume them; off by default.")
def dashboard(runs_dir, port, host, token, allow_train):
    """Serve a live dashboard of the runs in RUNS_DIR (default runs/): status, curves, health
    findings, sample grids over time, metrics next to their floor. Reads only inside RUNS_DIR.
    With --allow-train the page also starts, stops and resumes runs (`ganforge train` processes
    writing into RUNS_DIR)."""
    try:
        import uvicorn

        from .server import create_app, needs_token
    except ImportError as e:
        raise GanforgeError(f"the dashboard needs {e.name}: {INSTALL}") from None
    if not Path(runs_dir).is_dir():
        raise GanforgeError(f"runs folder {runs_dir} does not exist; pass the folder that holds your "
                            f"run folders (ganforge train --out runs/NAME)")
    if needs_token(host):
        token = token or secrets.token_urlsafe(24)
    app = create_app(runs_dir, token=token if needs_token(host) else None, allow_train=allow_train)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"dashboard of {Path(runs_dir).resolve()} at http://{shown}:{port}/"
               + (f"?token={token}" if needs_token(host) else "")
               + ("   (runs can be started from the page)" if allow_train else "") + "   (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
