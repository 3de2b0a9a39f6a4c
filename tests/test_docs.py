"""Claims have code behind them: every `--flag` the README, docs/ and the health monitor's advice
name exists in the CLI; links resolve; every number in a README results table appears in the
results file it cites; docs/options.md is the registry's; no development history in the docs."""
from __future__ import annotations

import ast
import functools
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?%?")
THIRD_PARTY = ("torchrun", "srun", "#SBATCH", "pip ", "pytest", "apt-get", "make ")


def cli_options() -> dict[tuple[str, ...], set[str]]:
    """Every ganforge command path -> the flags it takes (both sides of --x/--no-x)."""
    from ganforge.cli import cli
    out: dict[tuple[str, ...], set[str]] = {}

    def walk(cmd, path):
        flags = set()
        for p in cmd.params:
            if isinstance(p, click.Option):
                flags |= {o for o in p.opts + p.secondary_opts if o.startswith("--")}
        out[path] = flags | {"--help"}
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
    walk(cli, ())
    return out


OPTIONS = cli_options()
ALL_FLAGS = set().union(*OPTIONS.values())


def command_of(words: list[str]) -> tuple[str, ...]:
    """The longest ganforge command path at the start of `words` (after `ganforge`)."""
    path: tuple[str, ...] = ()
    for w in words:
        if (*path, w) in OPTIONS:
            path = (*path, w)
        else:
            break
    return path


@functools.lru_cache(maxsize=None)
def script_help(script: str) -> str:
    """A benchmark's or script's own `--help` (its flags may be built in a loop)."""
    if not (ROOT / script).is_file():
        return ""
    r = subprocess.run([sys.executable, str(ROOT / script), "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    return r.stdout


def unknown_flags(text: str) -> list[str]:
    """Flags in `text` that do not exist where they are used. A `ganforge CMD ...` command (a
    code line or an inline code span) must use CMD's own flags; a flag elsewhere must exist in
    some ganforge command, or in the benchmark/script named on the same line, or belong to a
    third-party tool named there (torchrun, pip, ...)."""
    bad = []
    for line in text.replace("\\\n", " ").splitlines():
        spans = re.findall(r"`([^`]*)`", line) if "`" in line else [line]
        used = set()
        for span in spans:
            for m in re.finditer(r"\bganforge ((?:[\w.:/-]+ ?)+)", span):
                words = m.group(1).split()
                cmd = command_of(words)
                if not cmd:
                    continue
                rest = span[m.start():]
                for flag in FLAG.findall(rest.split("|")[0]):
                    used.add(flag)
                    if flag not in OPTIONS[cmd]:
                        bad.append(f"`ganforge {' '.join(cmd)}` has no {flag}: {line.strip()[:120]}")
        scripts = re.findall(r"((?:benchmarks|scripts)/\w+\.py)", line)
        for flag in FLAG.findall(line):
            if flag in used or flag in ALL_FLAGS or any(t in line for t in THIRD_PARTY) \
                    or any(flag in script_help(s) for s in scripts):
                continue
            bad.append(f"no ganforge command takes {flag}: {line.strip()[:120]}")
    return bad


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_flag_a_page_names_exists(page):
    assert unknown_flags(page.read_text()) == []


def test_the_flag_check_catches_a_flag_that_does_not_exist():
    assert unknown_flags("run `ganforge train ring8 --augmentation strong`")
    assert unknown_flags("use --frobnicate for speed")
    assert unknown_flags("`ganforge sample RUN --steps 3`")  # a train option, but not sample's
    assert not unknown_flags("`ganforge train ring8 --steps 3` then `ganforge sample RUN --label 3`")


def _strings(path: Path) -> list[str]:
    """Every string literal in a module, f-string parts included."""
    tree = ast.parse(path.read_text())
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_the_monitor_advice_names_only_options_of_ganforge_train():
    train = OPTIONS[("train",)] | OPTIONS[("resume",)]
    named = {f for p in (ROOT / "src/ganforge/monitor").glob("*.py") for s in _strings(p) for f in FLAG.findall(s)}
    assert named, "the advice names options"
    assert sorted(named - train) == []


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_links_resolve(page):
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and dest.suffix == ".md":
            slugs = {_slug(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(), re.M)}
            assert anchor in slugs, f"{page.name} links to {target}: no such heading"


def result_tables(text: str) -> list[tuple[str | None, list[str]]]:
    """(cited results file, table rows) for each table of the README's Results section; the
    file is the last benchmarks/results/*.md link before the table."""
    section = text.split("\n## Results", 1)[1].split("\n## ", 1)[0]
    tables, source, rows = [], None, []
    for line in section.splitlines() + [""]:
        if line.startswith("|"):
            rows.append(line)
            continue
        if rows:
            tables.append((source, rows[2:]))  # header and rule rows carry no measurements
            rows = []
        found = re.findall(r"\((benchmarks/results/[\w./-]+\.md)\)", line)
        if found:
            source = found[-1]
    return tables


def numbers_not_in_source(text: str) -> list[str]:
    missing = []
    for source, rows in result_tables(text):
        body = " ".join(rows)
        nums = NUMBER.findall(body)
        if not nums:
            continue
        if source is None:
            missing.append(f"a results table cites no benchmarks/results file: {rows[0][:80]}")
            continue
        src = (ROOT / source).read_text()
        missing += [f"{n} (in {source}?)" for n in nums if n not in src]
    return missing


def test_every_number_in_the_readme_results_comes_from_the_file_it_cites():
    assert numbers_not_in_source(README.read_text()) == []


def test_the_number_check_catches_a_number_with_no_source():
    fake = ("# x\n\n## Results\n\nSource: [m](benchmarks/results/mixtures.md)\n\n| a | b |\n|---|---|\n"
            "| ring8 | 97.3% |\n\n## Next\n")
    assert numbers_not_in_source(fake) == ["97.3% (in benchmarks/results/mixtures.md?)"]
    assert numbers_not_in_source(fake.replace("Source: [m](benchmarks/results/mixtures.md)", ""))


def test_docs_options_page_is_generated_from_the_registries():
    spec = importlib.util.spec_from_file_location("options_doc", ROOT / "scripts" / "options_doc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    page = ROOT / "docs" / "options.md"
    assert page.read_text() == mod.render(), "docs/options.md is out of date: run `python scripts/options_doc.py`"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_no_development_history_in_the_user_docs(page):
    hits = re.findall(r".{0,40}\b(?:sessions?|earlier runs of this project)\b.{0,40}", page.read_text(), re.I)
    assert hits == []


def test_the_readme_stays_a_manual():
    lines = README.read_text().count("\n")
    # one short section per kind of work (images, tables, image to image, text, series and audio,
    # anomalies, watching and sweeps): details live in docs/
    assert lines <= 420, f"README.md has {lines} lines: move reference material to docs/"


def test_every_option_on_the_options_page_says_what_it_does():
    rows = [line for line in (ROOT / "docs" / "options.md").read_text().splitlines()
            if line.startswith("| `") and line.count("|") >= 5]
    assert len(rows) > 100, "the page lists the options"
    blank = [r.split("|")[1].strip() for r in rows if not r.rstrip("| ").split("|")[-1].strip()
             or r.rstrip().endswith("|  |")]
    assert not blank, f"options without a description (write a comment on the field's line): {blank}"
