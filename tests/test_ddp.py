"""DDP on CPU with two processes (gloo): identical values on every rank, logging on rank zero only."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lightning_schedulers as ls

SCRIPT = Path(__file__).with_name("ddp_run.py")


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "ddp_spawn"])
def test_ddp_ranks_apply_identical_values_and_only_rank_zero_logs(tmp_path: Path, strategy: str) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), strategy], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    assert rank0["world_size"] == 2
    assert rank0["rows"] == rank1["rows"]
    assert len(rank0["rows"]) == 24  # 3 epochs x 8 batches per rank
    # What was applied is the preview: OneCycleLR over the fit's 24 steps, the attribute's decay.
    steps = [row[0] for row in rank0["rows"]]
    lrs = ls.OneCycleLR(max_lr=[0.5, 1.0]).simulate(24, initial=[0.1, 0.1])
    kl = ls.ExpStateScheduler(1.0, 0.9, "kl_weight").simulate(24)
    np.testing.assert_array_equal([row[1] for row in rank0["rows"]], lrs[steps, :2])
    np.testing.assert_array_equal([row[2] for row in rank0["rows"]], lrs[steps, 2:])
    np.testing.assert_array_equal([row[4] for row in rank0["rows"]], kl[steps])
    # Rank 1 logged an always-improving val_loss (no sync_dist): alone it would never reduce. Both
    # ranks reduced (rank zero's decisions): the last weight decay is below the unreduced cosine.
    cosine = ls.CosineAnnealingScheduler("weight_decay", 0.01, 0.001, 6).simulate(24)
    assert rank0["rows"][-1][3][0] < cosine[steps[-1]]
    assert rank0["log_calls"], "rank zero logs"
    assert rank1["log_calls"] == []


def test_every_callback_pickles() -> None:
    from test_resume import FACTORIES

    for name, make in FACTORIES.items():
        callback = make()
        clone = pickle.loads(pickle.dumps(callback))
        assert repr(clone) == repr(callback), name
        np.testing.assert_array_equal(clone.simulate(30, initial=[0.1, 0.2]), callback.simulate(30, initial=[0.1, 0.2]))
