"""`canvas-observers demo` as a new user runs it: the commands it prints at the end run as
printed, from the same folder."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from canvas_observers.cli.demo import LAST_RUN, PAST_RUNS


def test_the_commands_the_demo_prints_run_as_printed(tmp_path: Path) -> None:
    """Run the demo the way `make demo` does (the venv's script), then each command it printed
    (split as a shell would): both succeed, and name the demo's two runs."""
    script = Path(sys.executable).with_name("canvas-observers")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "canvas_observers"]
    env = {**os.environ, "COLUMNS": "200"}
    demo = subprocess.run(
        [*command, "demo"], cwd=tmp_path, capture_output=True, text=True, env=env,
        timeout=300, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    printed = {
        prefix: line.removeprefix(prefix)
        for line in demo.stdout.splitlines()
        for prefix in (PAST_RUNS, LAST_RUN)
        if line.startswith(prefix)
    }
    assert set(printed) == {PAST_RUNS, LAST_RUN}, demo.stdout
    runs = subprocess.run(
        shlex.split(printed[PAST_RUNS]), cwd=tmp_path, capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip
    assert runs.returncode == 0, runs.stderr
    assert runs.stdout.count("complete") == 2
    last = subprocess.run(
        [*shlex.split(printed[LAST_RUN]), "--json"], cwd=tmp_path, capture_output=True,
        text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert last.returncode == 0, last.stderr
    assert '"id": 2' in last.stdout
