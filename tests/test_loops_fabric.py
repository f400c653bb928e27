"""Fabric with two CPU processes: a bound schedule applies the same values on every rank and resumes exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lightning_schedulers as ls

SCRIPT = Path(__file__).with_name("fabric_run.py")


@pytest.mark.slow
def test_fabric_ranks_apply_identical_values_and_resume_exactly(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    assert rank0["world_size"] == 2
    # Rank zero's metric decides on both ranks (rank 1 alone would never reduce).
    assert rank0["full"] == rank1["full"]
    # fabric.save at step 10, fabric.load into fresh objects: the rest of the run is the same.
    assert rank0["tail"] == rank0["full"][10:]
    assert rank1["tail"] == rank1["full"][10:]
    # Rank 0 reports 1.04, 1.00, 1.04 after steps 4, 8, 12: patience 0 reduces once the third is in,
    # so steps 0-11 train with the preview's values and step 12 with half of it.
    preview = ls.WarmupCosineLR(warmup_steps=0.25).simulate(24, initial=[0.01, 0.02])
    np.testing.assert_array_equal(rank0["full"][:12], preview[:12])
    np.testing.assert_allclose(rank0["full"][12], preview[12] * 0.1, rtol=1e-15)
