"""The installed ``strikeflow`` command works from any directory: everything it imports
(including the compiled matching core) comes from the installed project, not from the
current directory being the project root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_installed_command_runs_outside_the_project(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "strikeflow"
    done = subprocess.run([str(command), "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "worker" in done.stdout
    engine = subprocess.run(
        [sys.executable, "-c", "import streams.matching.engine as e; print(e.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert engine.returncode == 0, engine.stderr[-2000:]
