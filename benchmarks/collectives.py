"""Collectives per optimizer step with ``clock="tokens"`` under DDP (2 CPU processes, gloo).

Runs ``tests/token_ddp_run.py`` (a 2-process fit of 6 optimizer steps, accumulating 2 batches a
step, the two ranks holding different token counts) with a function ``count`` and with an int
``count``, and prints the torch.distributed collectives the package made during the training batches
(rank 0; Lightning's own, such as its SIGTERM broadcast each batch, are not counted).
Run: ``python benchmarks/collectives.py`` (about half a minute).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tests" / "token_ddp_run.py"


def main() -> None:
    print(f"{'count':10} {'optimizer steps':>16} {'all-reduces':>12} {'other collectives':>18} {'per step':>9}")
    for mode in ("function", "int"):
        with tempfile.TemporaryDirectory() as folder:
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            subprocess.run([sys.executable, str(SCRIPT), folder, mode], check=True, capture_output=True, env=env)
            rank0 = json.loads(Path(folder, "rank0.json").read_text())
        steps, calls = rank0["steps"], rank0["reduces"]
        reduces = calls.get("all_reduce", 0)
        others = sum(calls.values()) - reduces
        print(f"{mode:10} {steps:16d} {reduces:12d} {others:18d} {sum(calls.values()) / steps:9.2f}")


if __name__ == "__main__":
    main()
