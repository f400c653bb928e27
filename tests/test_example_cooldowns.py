"""The cooldown example runs end to end: two branches from one checkpoint, one checked against an uninterrupted fit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "branch_cooldowns.py"


def test_branch_cooldowns_example_runs_and_the_branch_equals_an_uninterrupted_fit(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--out", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    branches = [line for line in lines if line.startswith("cooldown ")]
    assert len(branches) == 2
    for line, shape in zip(branches, ("linear", "1-sqrt"), strict=True):
        # each branch starts at the stable lr and ends near 0 (the last step is one short of the end)
        found = re.search(
            rf"cooldown '{shape}' branched at step (\d+): (\d+) steps, lr ([\d.e+-]+) -> ([\d.e+-]+)", line
        )
        assert found is not None, line
        assert float(found[3]) == 3e-2 and 0.0 < float(found[4]) < 1e-3
    assert any(line.endswith("applies: True (and reached the same val_loss: True)") for line in lines), result.stdout
    assert (tmp_path / "branch_cooldowns.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
