"""Exact resume: every scheduler class, checkpointed mid-epoch, resumed with fresh callbacks."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import Crash, Probe, TinyModule, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint

import lightning_schedulers as ls
from lightning_schedulers import presets
from lightning_schedulers.schedules import Cosine, Linear, sequence


def decay(epoch: int) -> float:
    return 0.95**epoch


def wobble(epoch: int) -> float:
    return 1.0 + 0.01 * math.sin(epoch)


class ResumeModule(TinyModule):
    def __init__(self) -> None:
        super().__init__(groups=2, lr=[0.1, 0.2], optimizer_kwargs={"momentum": 0.9, "weight_decay": 0.01})
        self.kl_weight = 1.0
        self.register_buffer("tau", torch.tensor(1.0, dtype=torch.float64))


def read_all(trainer: Any, module: Any) -> list[float]:
    groups = trainer.optimizers[0].param_groups
    return [float(g[k]) for g in groups for k in ("lr", "momentum", "weight_decay")] + [
        float(module.kl_weight),
        float(module.tau),
    ]


# Every scheduler class, stepping per optimizer step so that a mid-epoch checkpoint matters.
FACTORIES: dict[str, Callable[[], Any]] = {
    "ScheduleCallback": lambda: ls.ScheduleCallback(sequence([Linear(0.0, 0.1, 5), Cosine(0.1, 0.001, 20)], [5])),
    "LambdaLR": lambda: ls.LambdaLR([decay, wobble], interval="step"),
    "MultiplicativeLR": lambda: ls.MultiplicativeLR(wobble, interval="step"),
    "StepLR": lambda: ls.StepLR(3, 0.5, interval="step"),
    "MultiStepLR": lambda: ls.MultiStepLR([4, 9, 9, 15], 0.5, interval="step"),
    "ConstantLR": lambda: ls.ConstantLR(0.3, 13, interval="step"),
    "LinearLR": lambda: ls.LinearLR(0.1, 1.0, 17, interval="step"),
    "ExponentialLR": lambda: ls.ExponentialLR(0.93, interval="step"),
    "PolynomialLR": lambda: ls.PolynomialLR(20, 2.0, interval="step"),
    "CosineAnnealingLR": lambda: ls.CosineAnnealingLR(7, 0.001, interval="step"),
    "CosineAnnealingWarmRestarts": lambda: ls.CosineAnnealingWarmRestarts(3, 2, 0.001, interval="step"),
    "CyclicLR": lambda: ls.CyclicLR(0.01, 0.1, step_size_up=3, step_size_down=5, mode="triangular2"),
    "OneCycleLR": lambda: ls.OneCycleLR([0.5, 1.0], three_phase=True),
    "SequentialLR": lambda: ls.SequentialLR(
        [ls.LinearLR(0.1, total_iters=4), ls.MultiplicativeLR(wobble), ls.ExponentialLR(0.9)],
        milestones=[4, 12],
        interval="step",
    ),
    "ChainedScheduler": lambda: ls.ChainedScheduler([ls.ConstantLR(0.5, 6), ls.StepLR(4, 0.7)], interval="step"),
    "CosineAnnealingScheduler": lambda: ls.CosineAnnealingScheduler("momentum", 0.95, 0.8, 6, cycle_mult=1.5),
    "LinearCyclicalScheduler": lambda: ls.LinearCyclicalScheduler("lr", 0.01, 0.1, 5, start_value_mult=0.9),
    "PiecewiseLinear": lambda: ls.PiecewiseLinear("weight_decay", [(0, 0.0), (10, 0.1), (10, 0.05), (20, 0.0)]),
    "ConcatScheduler": lambda: ls.ConcatScheduler(
        [ls.PiecewiseLinear("lr", [(0, 0.0), (6, 0.1)]), ls.CosineAnnealingScheduler("lr", 0.1, 0.0, 8)], [6]
    ),
    "create_lr_scheduler_with_warmup": lambda: ls.create_lr_scheduler_with_warmup(
        ls.CosineAnnealingLR(10), warmup_start_value=0.0, warmup_duration=5
    ),
    "ExpStateScheduler": lambda: ls.ExpStateScheduler(1.0, 0.9, "kl_weight"),
    "StepStateScheduler": lambda: ls.StepStateScheduler(1.0, 0.5, 4, "tau"),
    "MultiStepStateScheduler": lambda: ls.MultiStepStateScheduler(1.0, 0.5, [3, 12], "kl_weight"),
    "LambdaStateScheduler": lambda: ls.LambdaStateScheduler(decay, "tau"),
    "PiecewiseLinearStateScheduler": lambda: ls.PiecewiseLinearStateScheduler([(0, 0.0), (20, 1.0)], "kl_weight"),
    "CosineAnnealingStateScheduler": lambda: ls.CosineAnnealingStateScheduler(1.0, 0.1, 7, "tau", cycle_mult=2.0),
    "LinearCyclicalStateScheduler": lambda: ls.LinearCyclicalStateScheduler(0.0, 1.0, 5, "kl_weight"),
    "ExponentialDecayLR": lambda: ls.ExponentialDecayLR(decay_steps=4, decay_rate=0.5, transition_begin=3),
    "OptimizerPolicy": lambda: ls.OptimizerPolicy(presets.one_cycle_phases(22)),
    "WarmupCosineLR": lambda: ls.WarmupCosineLR(warmup_steps=4, min_factor=0.05),
    "WarmupStableDecayLR": lambda: ls.WarmupStableDecayLR(4, decay_steps=6, decay="cosine"),
    "InverseSqrtLR": lambda: ls.InverseSqrtLR(5),
    "PolynomialDecayLR": lambda: ls.PolynomialDecayLR(power=0.5, warmup_steps=3),
    "CosineCyclesLR": lambda: ls.CosineCyclesLR(5, cycle_mult=1.5, cycle_decay=0.8, cycle_limit=4, k_decay=2.0),
    "StepLR-epoch": lambda: ls.StepLR(1, 0.5),
    "LambdaStateScheduler-epoch": lambda: ls.LambdaStateScheduler(decay, "tau", interval="epoch"),
    "ChainedScheduler-stepped": lambda: ls.ChainedScheduler(
        [ls.CosineAnnealingLR(9, 0.001), ls.ExponentialLR(0.97)], interval="step"
    ),
    "SWALR": lambda: ls.SWALR([0.02, 0.05], anneal_epochs=15, interval="step"),
    "TransformersLR": lambda: ls.get_scheduler(
        "cosine_with_restarts", warmup_steps=3, scheduler_specific_kwargs={"num_cycles": 2}
    ),
    "TorchScheduler": lambda: ls.TorchScheduler(
        functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=[0.5, 1.0], total_steps=40)
    ),
}


def run_with_resume(
    tmp_path: Path, make: Callable[[], list[Any]], crash_at: int = 11, **trainer_kwargs: Any
) -> tuple[list[Any], list[Any], list[Any]]:
    """(uninterrupted rows, resumed rows, the resumed run's callbacks)."""
    kwargs: dict[str, Any] = {"max_epochs": 3, "accumulate_grad_batches": 2, **trainer_kwargs}
    full = Probe(read_all)
    make_trainer([*make(), full], **kwargs).fit(ResumeModule())
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=crash_at, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer([*make(), ckpt, Crash(crash_at)], enable_checkpointing=True, **kwargs).fit(ResumeModule())
    path = next(tmp_path.glob("*.ckpt"))
    torch.load(path, weights_only=True)  # plain values only
    resumed = Probe(read_all)
    callbacks = make()
    make_trainer([*callbacks, resumed], **kwargs).fit(ResumeModule(), ckpt_path=path)
    return full.rows, resumed.rows, callbacks


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_class_resumes_bit_for_bit(tmp_path: Path, name: str) -> None:
    full, resumed, _ = run_with_resume(tmp_path, lambda: [FACTORIES[name]()])
    assert resumed[0][0] == 11
    assert len(resumed) > 20
    assert resumed == [row for row in full if row[0] >= 11]
    assert len({tuple(row[2]) for row in full}) > 1  # something was scheduled


def test_several_callbacks_at_once_resume_bit_for_bit(tmp_path: Path) -> None:
    def make() -> list[Any]:
        return [
            ls.OneCycleLR(max_lr=[0.5, 1.0]),  # lr and momentum
            ls.ScheduleCallback(Linear(0.0, 0.05, 12), target="weight_decay"),
            ls.ExpStateScheduler(1.0, 0.9, "kl_weight"),
            ls.CosineAnnealingStateScheduler(1.0, 0.1, 5, "tau"),
        ]

    full, resumed, _ = run_with_resume(tmp_path, make, crash_at=7)
    assert resumed == [row for row in full if row[0] >= 7]


def test_restart_policy_starts_the_schedule_again_at_the_resume(tmp_path: Path) -> None:
    def make(policy: str) -> Callable[[], list[Any]]:
        return lambda: [ls.StepLR(3, 0.5, interval="step", on_resume=policy)]

    _, resumed, callbacks = run_with_resume(tmp_path, make("restart"))
    for step, _, values in resumed:
        local = step - 11
        assert values[0] == 0.1 * 0.5 ** (local // 3)
    assert callbacks[0].state_dict()["offset"] == 11


def test_rescale_policy_takes_the_new_length_and_continue_keeps_the_old(tmp_path: Path) -> None:
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=11, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer([ls.WarmupCosineLR(4), ckpt, Crash(11)], max_epochs=3, enable_checkpointing=True).fit(TinyModule())
    path = next(tmp_path.glob("*.ckpt"))
    kept, rescaled = ls.WarmupCosineLR(4, on_resume="continue"), ls.WarmupCosineLR(4, on_resume="rescale")
    make_trainer([kept], max_epochs=5).fit(TinyModule(), ckpt_path=path)
    make_trainer([rescaled], max_epochs=5).fit(TinyModule(), ckpt_path=path)
    assert kept._total == 48  # the length the run started with (3 epochs of 16 steps)
    assert rescaled._total == 80  # the new fit's length


def test_unknown_policy_is_an_error() -> None:
    with pytest.raises(
        ValueError, match=r"`on_resume` must be one of \('replan', 'continue', 'restart', 'rescale'\), got 'again'"
    ):
        ls.StepLR(3, on_resume="again")


# ------------------------------------------------------------------ a checkpoint without this callback's state
class LightningScheduled(TinyModule):
    """Lightning's own path: a torch scheduler returned by configure_optimizers (torch sets initial_lr)."""

    def __init__(self, scheduled: bool = True) -> None:
        super().__init__(groups=2, lr=[0.1, 0.2])
        self.scheduled = scheduled

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        if not self.scheduled:
            return optimizer
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=40, eta_min=0.001)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def lightning_checkpoint(tmp_path: Path, module: TinyModule, callbacks: list[Any], at: int = 11) -> tuple[Any, Path]:
    full = Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=at, save_top_k=-1)
    make_trainer([*callbacks, ckpt, full], max_epochs=3, enable_checkpointing=True).fit(module)
    return full.rows, next(tmp_path.glob(f"*step={at}.ckpt"))


def lrs_after_resume(path: Path, callback: Any) -> list[Any]:
    resumed = Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
    make_trainer([callback, resumed], max_epochs=3).fit(LightningScheduled(scheduled=False), ckpt_path=path)
    return resumed.rows


MIGRATIONS: dict[str, Callable[[], Any]] = {
    "CosineAnnealingLR": lambda: ls.CosineAnnealingLR(40, 0.001, interval="step"),
    "TorchScheduler": lambda: ls.TorchScheduler(
        functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=40, eta_min=0.001)
    ),
}


@pytest.mark.parametrize("name", sorted(MIGRATIONS))
def test_moving_from_configure_optimizers_continues_from_initial_lr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    # Trained with Lightning's scheduler path, resumed with the callback: it starts from torch's
    # initial_lr, not from the lr the checkpoint holds (already annealed), so nothing applies twice.
    full, path = lightning_checkpoint(tmp_path, LightningScheduled(), [])
    with caplog.at_level("INFO"):
        resumed = lrs_after_resume(path, MIGRATIONS[name]())
    assert any("initial_lr [0.1, 0.2]" in r.message for r in caplog.records)
    later = [row for row in full if row[0] >= 11]
    assert [row[0] for row in resumed] == [row[0] for row in later]
    np.testing.assert_allclose([row[2] for row in resumed], [row[2] for row in later], rtol=1e-12, atol=0)


def test_a_checkpoint_without_the_callbacks_state_warns_that_values_may_be_scheduled(tmp_path: Path) -> None:
    # Written by a fit with another callback (another state key): the lr it holds is a scheduled
    # one, and no initial_lr says what it started from.
    _, path = lightning_checkpoint(tmp_path, LightningScheduled(scheduled=False), [ls.StepLR(3, 0.5, interval="step")])
    held = [0.1 * 0.5 ** (11 // 3), 0.2 * 0.5 ** (11 // 3)]
    with pytest.warns(UserWarning, match=r"resumes at step 11 from a checkpoint that holds no state .*applies twice"):
        continued = lrs_after_resume(path, ls.ExponentialLR(0.9, interval="step"))
    np.testing.assert_allclose(continued[0][2], [v * 0.9**11 for v in held], rtol=1e-12)  # what it warned of
    # on_resume="restart" says it is meant: the schedule starts at the resumed step from those values.
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*holds no state.*")
        restarted = lrs_after_resume(path, ls.ExponentialLR(0.9, interval="step", on_resume="restart"))
    for step, _, values in restarted:
        np.testing.assert_allclose(values, [v * 0.9 ** (step - 11) for v in held], rtol=1e-12)
    assert len(restarted) == 48 - 11


def test_a_plateau_without_a_base_continues_from_the_value_held(tmp_path: Path, recwarn: Any) -> None:
    _, path = lightning_checkpoint(tmp_path, LightningScheduled(scheduled=False), [])
    rows = lrs_after_resume(path, ls.ReduceLROnPlateau("loss", strict=False, check_on_train_epoch_end=True))
    assert rows[0][2] == [0.1, 0.2]
    assert not [w for w in recwarn if "holds no state" in str(w.message)]


class ManualModule(TinyModule):
    def __init__(self) -> None:
        super().__init__(groups=2, lr=[0.1, 0.2])
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(super().training_step(batch, batch_idx))
        optimizer.step()


def test_manual_optimization_resumed_without_the_callbacks_state_keeps_its_position(tmp_path: Path) -> None:
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=11, save_top_k=-1)
    make_trainer([ckpt], max_epochs=3, enable_checkpointing=True).fit(ManualModule())
    probe = Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
    with pytest.warns(UserWarning, match=r"resumes at step 11 from a checkpoint that holds no state"):
        make_trainer([ls.ExponentialLR(0.9, interval="step"), probe], max_epochs=3).fit(
            ManualModule(), ckpt_path=next(tmp_path.glob("*step=11.ckpt"))
        )
    for step, _, values in probe.rows:
        np.testing.assert_allclose(values, [0.1 * 0.9**step, 0.2 * 0.9**step], rtol=1e-12)
