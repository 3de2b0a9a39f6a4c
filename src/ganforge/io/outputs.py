"""Output files a command is about to write, checked before anything is computed or written:
a user's file is never replaced without --overwrite, a command never writes over its own
inputs (not even with --overwrite), and two outputs never share one path."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import GanforgeError


def _key(p: Path) -> str:
    # resolve() follows symlinks and `..`; normcase folds case where the file system does
    return os.path.normcase(str(Path(p).resolve()))


def check_outputs(outputs: list[tuple[Path, Path | None]], inputs=(), overwrite: bool = False) -> None:
    """`outputs`: (output path, the input it is made from or None). Raises GanforgeError on the
    first collision, input overwrite, or existing file (unless `overwrite`)."""
    ins = {_key(p): p for p in inputs}
    seen: dict[str, tuple[Path, Path | None]] = {}
    for out, src in outputs:
        k = _key(out)
        if k in seen:
            a, b = seen[k][1], src
            raise GanforgeError(f"inputs {a} and {b} would both be written to {out}; "
                                f"rename one or process them into separate --out folders")
        seen[k] = (out, src)
        if k in ins:
            raise GanforgeError(f"output {out} is the input {ins[k]}; ganforge never writes over its "
                                f"inputs: choose another --out")
        if Path(out).is_dir():
            raise GanforgeError(f"output {out} is a folder; pass a file name")
        if Path(out).exists() and not overwrite:
            raise GanforgeError(f"output {out} already exists; pass --overwrite to replace it "
                                f"or choose another --out")


def check_output(out: str | Path, inputs=(), overwrite: bool = False) -> None:
    """One output file (see `check_outputs`)."""
    check_outputs([(Path(out), None)], [Path(p) for p in inputs if p is not None], overwrite)


def write_folder(path: str | Path, fill) -> Path:
    """Write a folder whole or not at all: `fill(tmp)` writes into a fresh sibling folder, which
    then replaces `path` by a rename (an interrupted write leaves only a hidden temp folder)."""
    import shutil
    import tempfile
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        fill(tmp)
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path
