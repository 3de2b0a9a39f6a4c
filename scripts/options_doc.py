"""Write docs/options.md from the registries: every family's own options (type, default, the
`ganforge train` help text), the common options, and the built-in sets with their recipes.

    python scripts/options_doc.py            # rewrite docs/options.md
    python scripts/options_doc.py --check    # exit 1 if docs/options.md is out of date

tests/test_docs.py runs the check, so the page cannot drift from the code.
"""
from __future__ import annotations

import argparse
import inspect
import io
import sys
import tokenize
from dataclasses import MISSING, fields
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "options.md"


def _default(f) -> str:
    if f.default is not MISSING:
        v = f.default
    elif f.default_factory is not MISSING:
        v = f.default_factory()
    else:
        return "required"
    if v is None:
        return "auto" if f.name not in ("preset", "keep_best", "out", "model") else "-"
    if isinstance(v, tuple):
        v = list(v)
    return f"`{v}`"


def _type(f) -> str:
    return str(f.type).split(" |")[0].replace("tuple[float, float]", "two floats")


def _train_help() -> dict[str, str]:
    """`ganforge train`'s options by name (`--lr-g` -> lr_g) with their help text."""
    from ganforge.cli import cli
    return {p.name: " ".join((p.help or "").split())
            for p in cli.commands["train"].params if isinstance(p, click.Option)}


def _field_comments(cls) -> dict[str, str]:
    """An options dataclass's fields by name with the comment that ends their line (the help of
    options that have no `ganforge train` flag), from this class and the classes it extends."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        name = None
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME and name is None and tok.start[1] == 4:
                name = tok.string  # a field line starts at the class body's indent
            elif tok.type == tokenize.COMMENT and name:
                out[name] = tok.string.lstrip("# ").strip()
            elif tok.type in (tokenize.NEWLINE, tokenize.NL):
                name = None
    return out


DATA_HELP = "The data: a built-in set's name, a folder, or a file (.npz, .csv, ...); see the table at the bottom."


def _rows(opts, helps: dict, comments: dict | None = None) -> list[str]:
    from ganforge.families.options import flag
    lines = ["| option | type | default | what it does |", "|---|---|---|---|"]
    for f in opts:
        where = ("`DATA` (the argument)" if f.name == "data" else f"`{flag(f.name)}`" if f.name in helps
                 else f"`{f.name}` (config file / API)")
        text = (DATA_HELP if f.name == "data" else helps.get(f.name) or (comments or {}).get(f.name, "")
                ).replace("|", "\\|")
        if f.metadata.get("run"):
            text = (text + " " if text else "") + "*(how to run: may change on resume)*"
        lines.append(f"| {where} | {_type(f)} | {_default(f)} | {text} |")
    return lines


def render() -> str:
    from ganforge.data.registry import DATASETS, recipe
    from ganforge.families import FAMILIES
    from ganforge.families.options import RunOptions
    helps = _train_help()
    out = ["# Options of every family",
           "",
           "Generated from the family and data registries by `python scripts/options_doc.py` (do not",
           "edit by hand; `make test` fails when this page is out of date). Every option is a",
           "`ganforge train` flag where one exists, a keyword of `ganforge.train(...)`, and a key of a",
           "`--config` JSON/YAML file. A family refuses an option it does not use.",
           "",
           "Defaults, lowest precedence first: the option's default below < the family's defaults",
           "for the kind of data (size, count, labels) < the built-in set's measured recipe (bottom",
           "of this page) < `--preset` < what you give. `ganforge info RUN` shows what a run used.",
           "Options marked *how to run* are outside a run's identity: `ganforge resume RUN` accepts",
           "new values for them; any other change is refused with the option named.",
           "",
           "## Common options (every family)",
           ""]
    out += _rows(fields(RunOptions), helps, _field_comments(RunOptions))
    common = {f.name for f in fields(RunOptions)}
    for name, cls in FAMILIES.items():
        own = [f for f in fields(cls.Options) if f.name not in common]
        out += ["", f"## `{name}`", "", cls.summary[0].upper() + cls.summary[1:] + ".", ""]
        losses = getattr(cls, "losses", ())
        if losses and any(f.name == "loss" for f in own):
            out += [f"Losses: {', '.join(f'`{x}`' for x in losses)}.", ""]
        presets = getattr(cls, "presets", {})
        if presets:
            out += ["Presets: " + "; ".join(f"`{p}` = {_kv(v)}" for p, v in presets.items()) + ".", ""]
        out += _rows(own, helps, _field_comments(cls.Options)) if own else ["Only the common options."]
    out += ["", "## Built-in data and their recipes", "",
            "| name | kind | what | recipe (default family: options) |", "|---|---|---|---|"]
    for name, s in DATASETS.items():
        fam = s.recipe.get("model")
        rec = recipe(name, fam) if fam else {}
        more = "; ".join(f"{f}: {_kv(v)}" for f, v in s.family_recipes.items())
        text = (f"{fam}: {_kv({k: v for k, v in rec.items() if k != 'model'})}" if fam else "-") + \
            (f"; {more}" if more else "")
        out.append(f"| `{name}` | {s.kind} | {s.description.replace('|', '/')} | {text} |")
    return "\n".join(out) + "\n"


def _kv(d: dict) -> str:
    return ", ".join(f"{k}={list(v) if isinstance(v, tuple) else v}" for k, v in d.items())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when out of date")
    a = ap.parse_args()
    text = render()
    if a.check:
        same = PAGE.exists() and PAGE.read_text() == text
        print("docs/options.md is up to date" if same else
              "docs/options.md is out of date: run `python scripts/options_doc.py`")
        return 0 if same else 1
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
