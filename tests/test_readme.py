"""The README runs as written.

Every fenced block of README.md runs here, in README order, in one scratch folder, the way a
reader would paste them:

- ```bash: each line is a `ganforge` command (run in-process, so each costs no interpreter
  start); it must exit 0;
- ```python: executed as a script;
- ```yaml file=NAME (or json): written to NAME, for the commands after it to use;
- ```console: each `$ ganforge ...` line is run and its output (stdout and stderr) must be the
  lines that follow; `...` inside a line matches anything;
- a block whose info string says `notest` (installation, `make`) is not run.

GANFORGE_MAX_STEPS (a testing aid: ganforge.families.options caps every run's steps with it)
keeps the training commands to a few steps each. The scratch folder holds the inputs the
README's commands name (USER_FILES).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_STEPS = "8"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass
class Block:
    lang: str
    flags: list[str]
    code: str
    line: int

    @property
    def runs(self) -> bool:
        return "notest" not in self.flags and (self.lang in ("bash", "python", "console") or self.file)

    @property
    def file(self) -> str | None:
        return next((f.split("=", 1)[1] for f in self.flags if f.startswith("file=")), None)


def blocks(path: Path = README) -> list[Block]:
    text = path.read_text()
    out = []
    for m in FENCE.finditer(text):
        info = m.group(1).split()
        out.append(Block(info[0] if info else "", info[1:], m.group(2), text.count("\n", 0, m.start()) + 1))
    return out


def commands(code: str) -> list[list[str]]:
    """The shell lines of a block: continuations joined, comments dropped, split like sh."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        if argv:
            out.append(argv)
    return out


def user_files(root: Path) -> None:
    """What the README's commands expect a reader to have: a folder of images in two class
    sub-folders, and a couple of photos."""
    from ganforge.data.photos import builtin_photo
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cats", "dogs")):
        (root / "my_photos" / name).mkdir(parents=True)
        for i in range(40):
            a = rng.integers(0, 60, (40, 40, 3), dtype=np.uint8)
            a[8 + i % 8:24 + c * 8, 10:30, c] = 230
            Image.fromarray(a).save(root / "my_photos" / name / f"{i}.png")
    photo = builtin_photo("chelsea")
    Image.fromarray(photo[:96, :96]).convert("L").save(root / "old_photo.jpg")
    Image.fromarray(photo[100:148, 100:148]).save(root / "small.jpg")


def run_ganforge(argv: list[str], capsys) -> tuple[int, str]:
    from ganforge.cli import main
    assert argv[0] == "ganforge", f"README bash blocks run ganforge commands only (mark others `notest`): {argv}"
    try:
        main(argv[1:])
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out + out.err


def check_console(code: str, capsys) -> None:
    lines = code.rstrip("\n").splitlines()
    i = 0
    while i < len(lines):
        assert lines[i].startswith("$ "), f"console blocks alternate `$ command` and its output: {lines[i]!r}"
        expected = []
        j = i + 1
        while j < len(lines) and not lines[j].startswith("$ "):
            expected.append(lines[j])
            j += 1
        _, got = run_ganforge(shlex.split(lines[i][2:]), capsys)
        got_lines = [x for x in got.rstrip("\n").splitlines() if x.strip()]
        assert len(got_lines) == len(expected), f"{lines[i]}\nexpected:\n" + "\n".join(expected) + f"\ngot:\n{got}"
        for e, g in zip(expected, got_lines):
            pattern = ".*".join(re.escape(part) for part in e.split("..."))
            assert re.fullmatch(pattern, g), f"{lines[i]}\nexpected: {e}\ngot:      {g}"
        i = j


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    user_files(root)
    return root


RUNNABLE = [b for b in blocks() if b.runs]


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"README.md:{b.line}:{b.lang}" for b in RUNNABLE])
def test_readme_block_runs_as_written(block, scratch, monkeypatch, capsys):
    monkeypatch.chdir(scratch)
    monkeypatch.setenv("GANFORGE_MAX_STEPS", MAX_STEPS)
    if block.file:
        (scratch / block.file).write_text(block.code)
    elif block.lang == "bash":
        for argv in commands(block.code):
            code, out = run_ganforge(argv, capsys)
            assert code == 0, f"README.md line {block.line}: `{' '.join(argv)}` exited {code}:\n{out}"
    elif block.lang == "python":
        exec(compile(block.code, f"README.md:{block.line}", "exec"), {"__name__": "__main__"})
    else:
        check_console(block.code, capsys)


def test_every_code_block_of_the_readme_is_run_or_says_why_not():
    for b in blocks():
        if "notest" in b.flags:  # only what cannot run inside the test suite
            assert all(argv[0] in ("make", "pip") for argv in commands(b.code)), (b.line, b.code)
        else:
            assert b.runs, f"README.md line {b.line}: a ```{b.lang} block is neither run nor marked notest"


def test_the_step_cap_is_a_testing_aid_that_refuses_nonsense(monkeypatch):
    from ganforge.families.options import capped_steps
    from ganforge.io.errors import GanforgeError
    monkeypatch.setenv("GANFORGE_MAX_STEPS", "8")
    assert capped_steps(3000) == 8 and capped_steps(5) == 5
    monkeypatch.setenv("GANFORGE_MAX_STEPS", "eight")
    with pytest.raises(GanforgeError, match="GANFORGE_MAX_STEPS"):
        capped_steps(3000)
    monkeypatch.delenv("GANFORGE_MAX_STEPS")
    assert capped_steps(3000) == 3000
