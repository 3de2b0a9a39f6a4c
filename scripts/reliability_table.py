"""Write docs/reliability.md's table of bad inputs from the cases tests/test_bad_inputs.py runs:
each case is run once through the real CLI (in-process) in a fresh temp folder, and the table
records what the user gets: the exit code, the one error line, and whether any file changed.

    .venv/bin/python scripts/reliability_table.py      # rewrites the table in docs/reliability.md
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- cases: begin (scripts/reliability_table.py) -->", "<!-- cases: end -->"


def run_case(bad, setup, argv) -> tuple[int, str, bool]:
    from ganforge.cli import main
    with tempfile.TemporaryDirectory() as d:
        t = Path(d) / "case"
        t.mkdir()
        cwd = os.getcwd()
        os.chdir(d)
        try:
            setup(t)
            before = bad.snapshot(Path(d))
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    main([a.format(t=t) for a in argv])
                    code = 0
                except SystemExit as e:
                    code = e.code
            changed = bad.snapshot(Path(d)) != before
        finally:
            os.chdir(cwd)
        text = err.getvalue().strip().replace(str(t), "…").replace(d, "…")
        return code, text, changed


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import test_bad_inputs as bad
    _make_trained(bad)
    rows = ["| case | command | exit | what the user reads (stderr) | files changed |", "|---|---|---|---|---|"]
    for name, setup, argv, _ in bad.CASES:
        code, text, changed = run_case(bad, setup, argv)
        cmd = " ".join(a.replace("{t}/", "") for a in argv)
        line = re.sub(r"\s+", " ", text).replace("|", "\\|")
        rows.append(f"| {name} | `ganforge {cmd}` | {code} | {line} | {'**yes**' if changed else 'no'} |")
        print(rows[-1], flush=True)
    doc = DOC.read_text()
    start, stop = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    DOC.write_text(doc[:start] + "\n" + "\n".join(rows) + "\n" + doc[stop:])
    print(f"wrote {len(rows) - 2} cases to {DOC}")


def _make_trained(bad) -> None:
    """The 2-step ring8 run some cases copy (what the test module's fixture makes)."""
    import ganforge
    out = Path(tempfile.mkdtemp(prefix="trained")) / "ring"
    ganforge.train("ring8", out=out, steps=2, hidden=8, depth=1, log_every=1, ckpt_every=2, progress=False)
    bad._TRAINED = out


if __name__ == "__main__":
    main()
