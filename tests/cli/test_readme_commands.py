"""The README as a newcomer reads it: every command block names files that exist and flags the
tools accept, and the cheap commands run as written (in the venv, with the data root set)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.load import patient

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Commands cheap enough to run here (seconds each); the others are checked, not run.
CHEAP = (
    "stvlm data list",
    "stvlm data info sz-taxi",
    "mkdir -p runs && stvlm evaluate --dataset los-loop --model ridge --protocol tgcn --json runs/ridge-tgcn.json",
    "stvlm evaluate --dataset nycbike-drop --model seasonal-naive --few-shot 0.1",
    "stvlm evaluate --dataset nycbike-drop --model ridge --few-shot 0.1",
)


def readme_commands() -> list[str]:
    """Every command of the README's ``bash`` blocks (continuations joined, comments cut)."""
    text = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].split("  #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(" ".join(line.split()))
    return commands


def test_the_readme_lists_the_cheap_commands_run_here() -> None:
    commands = readme_commands()
    assert len(commands) > 20
    missing = [c for c in CHEAP if c not in commands]
    assert not missing, f"README changed: update CHEAP ({missing})"


def test_every_file_a_readme_command_names_exists() -> None:
    for command in readme_commands():
        for word in shlex.split(command.replace("$PWD/", "")):
            if re.fullmatch(r"[\w./-]+\.(py|toml)", word) and not word.startswith("runs/"):
                assert (REPO / word).is_file(), f"{word} (in: {command})"


def test_every_stvlm_and_study_command_parses(tmp_path: Path) -> None:
    """``--help`` of each verb and script: every flag the README uses is one the tool accepts."""
    helps: dict[str, str] = {}
    for command in readme_commands():
        for part in command.split("&&"):
            words = shlex.split(part.strip().replace("$PWD/", ""))
            if not words:
                continue
            if words[0] == "stvlm":
                tool = ("stvlm", words[1], words[2]) if words[1] == "data" else ("stvlm", words[1])
            elif words[0] in ("python", "python3") and words[1].startswith("studies/"):
                tool = ("python", words[1])
            else:
                continue
            key = " ".join(tool)
            if key not in helps:
                exe = [str(BIN / "stvlm"), *tool[1:]] if tool[0] == "stvlm" else [sys.executable, tool[1]]
                proc = subprocess.run([*exe, "--help"], cwd=REPO, capture_output=True, text=True,
                                      timeout=patient(120))
                assert proc.returncode == 0, (key, proc.stderr)
                helps[key] = proc.stdout
            for flag in (w.split("=")[0] for w in words if w.startswith("--")):
                assert flag in helps[key], f"{flag} is not a flag of `{key}` (in: {command})"


@pytest.mark.parametrize("command", CHEAP)
def test_cheap_readme_commands_run_as_written(command: str, data_root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "STVLM_DATA": str(data_root), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=patient(300))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
