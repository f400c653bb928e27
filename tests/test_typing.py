"""The typed public API as a user's type checker sees it: ``mypy --strict`` on a user's file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

USER_CODE = """
import torch
import lightning_schedulers as ls
from lightning_schedulers import schedules

callbacks: list[ls.SchedulerCallback] = [
    ls.WarmupCosineLR(warmup_steps=0.05),
    ls.WarmupCosineLR(warmup_steps=ls.fraction(0.05), total_steps=1000),
    ls.StepLR(step_size=0.25, gamma=0.5),
    ls.MultiStepLR(milestones=[0.5, ls.fraction(0.75)]),
    ls.OneCycleLR(max_lr=0.1, total_steps=0.9),
    ls.CosineAnnealingLR(T_max=0.5, eta_min=torch.tensor(0.001).item()),
    ls.ReduceLROnPlateau("val_loss", base=ls.WarmupCosineLR(warmup_steps=0.1)),
    ls.CosineAnnealingScheduler("lr", 0.1, 0.001, cycle_size=0.5),
    ls.PiecewiseLinear("momentum", [(0, 0.85), (0.5, 0.95)]),
    ls.ScheduleCallback({"betas[1]": schedules.Linear(0.99, 0.999, 0.5)}),
]
phase = ls.Phase(0.5, lr=schedules.Constant(0.1))
warmup: ls.Duration = 0.1
"""


@pytest.mark.slow
def test_fractions_and_keys_type_check_in_user_code(tmp_path: Path) -> None:
    user = tmp_path / "user.py"
    user.write_text(USER_CODE)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(user),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_literal_all_lists_every_lazy_name() -> None:
    import lightning_schedulers as ls

    lazy = {*ls._WHERE, *ls._SUBMODULES, "__version__"}
    assert sorted(ls.__all__) == sorted(lazy) and len(ls.__all__) == len(set(ls.__all__))
