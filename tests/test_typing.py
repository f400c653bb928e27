"""The typed public API as a user's type checker sees it: ``mypy --strict`` on a user's file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

USER_CODE = """
import functools
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
# The common keyword arguments, typed through **kwargs for every family:
common: list[ls.SchedulerCallback] = [
    ls.StepLR(2, interval="step", optimizer="Adam", param_group_index=0, name="lr", on_resume="rescale"),
    ls.get_scheduler("cosine", num_warmup_steps=10, optimizer=1, clock="batch"),
    ls.LinearCyclicalScheduler("lr", 0.1, 0.0, 10, monotonic=True, create_new=False, interval="epoch"),
    ls.LinearCyclicalStateScheduler(0.0, 1.0, 10, "kl", monotonic=True, logging_enabled=False),
    ls.ExpStateScheduler(1.0, 0.9, "kl", param_group_index=None, name="kl"),
    ls.ConcatScheduler([ls.StepLR(2), ls.StepLR(3)], durations=[4], interval="step", clock="optimizer"),
    ls.create_lr_scheduler_with_warmup(ls.StepLR(2), 0.0, 5, name="warm"),
    ls.OptimizerPolicy([phase], save_history=True, on_resume="restart"),
    ls.TorchScheduler(functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2), name="t", clock="batch"),
]
"""

# Mistakes a type checker now reports at the line, as the callbacks do at run time.
MISTAKES = """
import lightning_schedulers as ls

ls.CosineAnnealingLR(T_max=100, intervall="epoch")
ls.StepLR(2, optimizer=[0])
ls.LinearCyclicalScheduler("lr", 0.1, 0.0, 10, monotonic=1, create_neww=True)
ls.ExpStateScheduler(1.0, 0.9, "kl", save_histroy=True)
ls.get_scheduler("cosine", name="x")
ls.StepLR(2, interval="steps")
ls.WarmupCosineLR(0.1, on_resume="rescal", clock="batches")
ls.ScheduleCallback(ls.schedules.Linear(0.0, 1.0, 10), interval="epochs")
"""
EXPECTED_MISTAKES = [
    (4, 'Unexpected keyword argument "intervall" for "CosineAnnealingLR"; did you mean "interval"?'),
    (5, 'Argument "optimizer" to "StepLR" has incompatible type "list[int]"; expected "int | str"'),
    (6, 'Argument "monotonic" to "LinearCyclicalScheduler" has incompatible type "int"; expected "bool"'),
    (6, 'Unexpected keyword argument "create_neww" for "LinearCyclicalScheduler"; did you mean "create_new"?'),
    (7, 'Unexpected keyword argument "save_histroy" for "ExpStateScheduler"; did you mean "save_history"?'),
    (8, '"get_scheduler" gets multiple values for keyword argument "name"'),
    (9, 'Argument "interval" to "StepLR" has incompatible type "Literal[\'steps\']"'),
    (10, 'Argument "on_resume" to "WarmupCosineLR" has incompatible type "Literal[\'rescal\']"'),
    (10, 'Argument "clock" to "WarmupCosineLR" has incompatible type "Literal[\'batches\']"'),
    (11, 'Argument "interval" to "ScheduleCallback" has incompatible type "Literal[\'epochs\']"'),
]


@pytest.mark.slow
def test_fractions_keys_and_common_arguments_type_check_in_user_code(tmp_path: Path) -> None:
    user, mistakes = tmp_path / "user.py", tmp_path / "mistakes.py"
    user.write_text(USER_CODE)
    mistakes.write_text(MISTAKES)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(user),
            str(mistakes),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert not [e for e in errors if e.startswith(str(user))], result.stdout + result.stderr
    found = [(int(e.split(":")[1]), e.split(": error: ")[1]) for e in errors if e.startswith(str(mistakes))]
    for line, text in EXPECTED_MISTAKES:
        assert any(at == line and message.startswith(text) for at, message in found), (line, text, found)
    assert len(found) == len(EXPECTED_MISTAKES), found


def test_the_literal_all_lists_every_lazy_name() -> None:
    import lightning_schedulers as ls

    lazy = {*ls._WHERE, *ls._SUBMODULES, "__version__"}
    assert sorted(ls.__all__) == sorted(lazy) and len(ls.__all__) == len(set(ls.__all__))
