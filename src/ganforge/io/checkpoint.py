"""Checkpoints: one safetensors file holding every tensor, with all other state as JSON in
its metadata. Loading parses JSON and raw tensors only — it never executes code. Every file
ganforge writes goes through `atomic_write`: a temp file, fsync'd, renamed into place, and the
folder fsync'd, so a kill (or a power cut) at any moment leaves the previous file whole."""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .errors import GanforgeError

META_KEY = "ganforge"


def flatten(obj, prefix: str, tensors: dict):
    """Replace tensors in a nested structure by references, collecting them in `tensors`."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().clone().contiguous()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: flatten(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
        # optimiser state is keyed by int: keep the key types
        return {"__items__": [[k, flatten(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    return obj


def unflatten(obj, tensors: dict):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__items__" in obj:
            return {k: unflatten(v, tensors) for k, v in obj["__items__"]}
        return {k: unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten(v, tensors) for v in obj]
    return obj


def _fsync(path, directory: bool = False) -> None:
    """Flush a file's (or a folder's entries') data to the disk. Some systems cannot open a
    folder for fsync (Windows): there the rename alone has to do."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), fsync it, rename it over `path` (same folder, so the rename is
    atomic) and fsync the folder (so the rename itself survives a power cut). A write that
    fails (disk full, no permission) leaves `path` as it was and raises one GanforgeError line."""
    path, tmp = Path(path), None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
        tmp = None
    except (OSError, SafetensorError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0]
        raise GanforgeError(f"cannot write {path} ({why}); the previous {path.name}, if any, is unchanged") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _fsync(path.parent, directory=True)


def stale_temp_files(folder: Path) -> list[Path]:
    """Temp files `atomic_write` left behind when its process was killed mid-write (mkstemp's
    `.<name>.<8 random characters>.tmp`)."""
    return sorted(p for p in Path(folder).glob(".*.tmp") if re.fullmatch(r"\..+\.[a-z0-9_]{8}\.tmp", p.name))


def atomic_write_text(path: Path, text: str) -> None:
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    atomic_write(path, write)


def save_state(path: Path, state: dict) -> None:
    """Save a nested dict of tensors and JSON values. Refuses weights with NaN/inf."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten(state, "s", tensors)
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise FloatingPointError(f"refusing to checkpoint non-finite values in {bad[0]}"
                                 f"{f' (+{len(bad) - 1} more)' if len(bad) > 1 else ''}")
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={META_KEY: json.dumps(skeleton)}))


def read_metadata(path: Path) -> dict:
    """The JSON part of a checkpoint, without loading its tensors."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return json.loads(f.metadata()[META_KEY])
    except Exception as e:  # noqa: BLE001
        raise GanforgeError(f"cannot read checkpoint {path} ({str(e).splitlines()[0]}); "
                            f"it is damaged or not a ganforge file") from None


def load_state(path: Path) -> dict:
    skeleton = read_metadata(path)
    try:
        tensors = load_file(str(path))
    except Exception as e:  # noqa: BLE001
        raise GanforgeError(f"cannot read checkpoint {path} ({str(e).splitlines()[0]})") from None
    return unflatten(skeleton, tensors)
