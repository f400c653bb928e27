"""BatchSizeRamp: every optimizer step accumulates the scheduled micro-batches, in real fits.

The ground truth is a probe at Lightning's ``on_before_optimizer_step`` (after the window's last
backward, before the update): it counts the micro-batches trained since the previous step and
compares the gradient the optimizer is about to use with the sum of the window's per-batch
gradients computed independently (a stale gradient, left by a zero_grad that did not happen,
would show there). The expected counts are closed forms written out below from Lightning's rule:
a window of ``A`` batches starts at a batch index (within the epoch) that is a multiple of ``A``,
and the epoch's last window steps at the epoch's end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _helpers import ScriptedModule, TinyModule, make_trainer
from hypothesis import given, settings
from hypothesis import strategies as st
from lightning.pytorch.callbacks import GradientAccumulationScheduler, ModelCheckpoint
from torch import nn

import lightning_schedulers as ls
from lightning_schedulers.callbacks.ramp import BatchSizeRamp, RampPlan, ramp_of
from lightning_schedulers.schedules import Linear

SCRIPT = Path(__file__).with_name("ramp_ddp_run.py")


class WindowProbe(pl.Callback):
    """Per optimizer step: micro-batches accumulated, ``accumulate_grad_batches``, epoch, gradient error.

    Put after the ramp in ``callbacks`` (its batch-start hook reads the accumulation the ramp set).
    """

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.accumulate: list[int] = []
        self.epochs: list[int] = []
        self.steps: list[int] = []
        self.grad_error = 0.0
        self._window = 0
        self._expected: list[torch.Tensor] | None = None
        self.plan: RampPlan | ValueError | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        ramp = ramp_of(trainer)
        assert ramp is not None
        try:  # what fit lengths would count for this fit (the lengths of fractions of training)
            self.plan = ramp.trainer_plan(trainer)
        except ValueError as error:
            self.plan = error

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._window += 1
        x, y = batch
        params = list(pl_module.parameters())
        # Lightning divides each micro-batch's loss by accumulate_grad_batches before backward.
        loss = nn.functional.mse_loss(pl_module(x), y) / trainer.accumulate_grad_batches
        grads = torch.autograd.grad(loss, params)
        self._expected = (
            list(grads) if self._expected is None else [a + g for a, g in zip(self._expected, grads, strict=True)]
        )

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
        assert self._expected is not None
        for p, expected in zip(pl_module.parameters(), self._expected, strict=True):
            assert p.grad is not None
            error = float((p.grad - expected).abs().max() / expected.abs().max().clamp_min(1e-12))
            self.grad_error = max(self.grad_error, error)
        self.batches.append(self._window)
        self.accumulate.append(int(trainer.accumulate_grad_batches))
        self.epochs.append(trainer.current_epoch)
        self.steps.append(trainer.global_step)
        self._window, self._expected = 0, None


def fit(
    ramp: BatchSizeRamp,
    *extra: pl.Callback,
    batches: int = 12,
    ckpt_path: str | None = None,
    **trainer_kwargs: Any,
) -> WindowProbe:
    probe = WindowProbe()
    trainer_kwargs.setdefault("max_epochs", 3)
    trainer = make_trainer([ramp, probe, *extra], **trainer_kwargs)
    trainer.fit(TinyModule(n_samples=4 * batches, batch_size=4), ckpt_path=ckpt_path)
    assert trainer.accumulate_grad_batches == 1  # left as found for a later fit of the same Trainer
    return probe


def scheduled(scheduling: dict[int, int], clock_value: int) -> int:
    """The closed form of a ramp with no waits: the entry with the largest key <= clock_value."""
    return scheduling[max(k for k in scheduling if k <= clock_value)]


def deferral_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "the ramp asks for" in str(w.message)]


# ---------------------------------------------------------------------------------- the optimizer clock


def test_every_step_accumulates_the_scheduled_batches() -> None:
    scheduling = {0: 1, 4: 2, 8: 4}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe = fit(BatchSizeRamp(scheduling), batches=12, max_epochs=3)
    # Every change lands on a window boundary (steps 4 and 8 start at batches 4 and 0 of their
    # epochs), so step s accumulates the scheduled value at s: 4 steps of 1 and 4 of 2 in epoch 0
    # (12 batches), then 3 steps of 4 in each of epochs 1 and 2.
    expected = [scheduled(scheduling, s) for s in range(14)]
    assert expected == [1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4]
    assert probe.batches == expected
    assert probe.accumulate == expected
    assert probe.epochs == [0] * 8 + [1] * 3 + [2] * 3
    assert probe.grad_error < 1e-5  # float32 sums in another order; a stale gradient is O(1)
    assert deferral_warnings(caught) == []
    # The plan of the same fit (fit lengths, previews) is what the fit did.
    plan = BatchSizeRamp(scheduling).plan(12, max_epochs=3)
    assert plan.batches().tolist() == expected
    assert plan.steps_per_epoch == [8, 3, 3]
    assert plan.epochs().tolist() == probe.epochs
    assert plan.total_batches == 36
    assert isinstance(probe.plan, RampPlan) and probe.plan.runs == plan.runs


def test_a_change_off_the_window_grid_waits_for_an_aligned_window_and_says_so_once() -> None:
    scheduling = {0: 1, 3: 2, 5: 4}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe = fit(BatchSizeRamp(scheduling), batches=10, max_epochs=2)
    # 10 batches an epoch. Steps 0-2: batches 0, 1, 2. Step 3 asks for 2 at batch 3 (odd): waits,
    # 1 batch. Step 4 starts at batch 4: 2 batches (4-5). Step 5 asks for 4 at batch 6: waits, 2
    # batches (6-7). Step 6 starts at batch 8: 4, cut to 2 by the epoch's end (8-9). Epoch 1:
    # 4, 4 and the last 2.
    expected_batches = [1, 1, 1, 1, 2, 2, 2, 4, 4, 2]
    expected_accumulate = [1, 1, 1, 1, 2, 2, 4, 4, 4, 4]  # step 6 is a window of 4 cut short
    assert probe.batches == expected_batches
    assert probe.accumulate == expected_accumulate
    # Switching at once instead (measured with that change) gives the same counts here, but batch 3
    # adds to step 2's gradient (no zero_grad at an odd index): a gradient error of 2.6.
    assert probe.grad_error < 1e-5
    messages = deferral_warnings(caught)
    assert len(messages) == 2, messages
    assert "optimizer step 3" in messages[0] and "accumulate_grad_batches=2" in messages[0]
    assert "batch 3 of the epoch" in messages[0] and "stays 1" in messages[0]
    assert "optimizer step 5" in messages[1] and "accumulate_grad_batches=4" in messages[1]
    assert "batch 6 of the epoch" in messages[1] and "stays 2" in messages[1]
    assert BatchSizeRamp(scheduling).plan(10, max_epochs=2).batches().tolist() == expected_batches
    assert isinstance(probe.plan, RampPlan) and probe.plan.batches().tolist() == expected_batches


# ---------------------------------------------------------------------------------- samples and tokens


@pytest.mark.parametrize(
    ("clock", "count", "per_batch"),
    [("samples", None, 4), ("tokens", lambda batch: 3 * int(batch[0].shape[0]), 12)],
)
def test_samples_and_tokens_clocks_count_what_the_batches_hold(clock: str, count: Any, per_batch: int) -> None:
    scheduling = {0: 1, 4 * per_batch: 2, 12 * per_batch: 4}
    probe = fit(BatchSizeRamp(scheduling, clock=clock, count=count), batches=10, max_epochs=2, max_steps=10)  # type: ignore[arg-type]
    # Batches of 4 samples (per_batch units). In units of one batch: steps 0-3 start at 0, 1, 2, 3
    # (1 each); 4 reached at batch 4: 2 a step for the rest of epoch 0 (4-5, 6-7, 8-9; 10 batches
    # consumed) and 10-11 of epoch 1; 12 reached at epoch 1's batch 2 (not a multiple of 4): one
    # more step of 2, then 4 from batch 4; max_steps=10 ends the fit there.
    expected = [1, 1, 1, 1, 2, 2, 2, 2, 2, 4]
    assert probe.batches == expected
    assert probe.grad_error < 1e-5
    ramp = BatchSizeRamp(scheduling, clock=clock, count=count)  # type: ignore[arg-type]
    assert ramp.plan(10, max_epochs=2, max_steps=10, units_per_batch=per_batch).batches().tolist() == expected
    # Uncut, the epoch's last window is 2 batches.
    assert ramp.plan(10, max_epochs=2, units_per_batch=per_batch).batches().tolist() == [*expected, 2]
    if count is None:  # the DataLoader's batch_size is what a batch holds
        assert isinstance(probe.plan, RampPlan) and probe.plan.batches().tolist() == expected
    else:  # a function: unknown before the fit
        assert isinstance(probe.plan, ValueError) and "count=<int>" in str(probe.plan)


# ---------------------------------------------------------------------------------- resume


def test_a_checkpoint_saved_mid_epoch_resumes_with_the_same_accumulation(tmp_path: Path) -> None:
    # Samples weighed 3 each by count (a function: the count lives in the ramp's state), 12 a
    # batch, so in batches {0: 1, 3: 2, 7: 4}: steps of 1, 1, 1, 1 (the change at batch 3 waits),
    # 2, 2, then 4 from batch 8 (cut to 2 by the epoch's end), and 4, 4, 2 in epoch 1.
    scheduling = {0: 1, 36: 2, 84: 4}

    def ramp() -> BatchSizeRamp:
        return BatchSizeRamp(scheduling, clock="samples", count=lambda batch: 3 * int(batch[0].shape[0]))

    saver = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=-1, filename="{step}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        whole = fit(ramp(), saver, batches=10, max_epochs=2, enable_checkpointing=True)
    assert len(deferral_warnings(caught)) == 1
    assert whole.batches == [1, 1, 1, 1, 2, 2, 2, 4, 4, 2]
    # Saved after step 4, mid-epoch: 6 batches (72 units) consumed, accumulating 2.
    checkpoint = tmp_path / "step=5.ckpt"
    state = torch.load(checkpoint, weights_only=True)["callbacks"]["BatchSizeRamp"]  # plain values
    assert state["accumulation"] == 2 and state["units"] == 72 and whole.epochs[5] == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = fit(ramp(), batches=10, max_epochs=2, ckpt_path=str(checkpoint))
    assert resumed.batches == whole.batches[5:]
    assert resumed.accumulate == whole.accumulate[5:]
    assert resumed.steps == whole.steps[5:]
    assert resumed.grad_error < 1e-5
    assert deferral_warnings(caught) == []  # said once, before the checkpoint

    # Without the ramp's state, the samples consumed by a function count are unknown: a clear error.
    stripped = torch.load(checkpoint, weights_only=False)
    del stripped["callbacks"]["BatchSizeRamp"]
    torch.save(stripped, tmp_path / "stripped.ckpt")
    with pytest.raises(ValueError, match="holds no state for the ramp"):
        fit(ramp(), batches=10, max_epochs=2, ckpt_path=str(tmp_path / "stripped.ckpt"))


# ---------------------------------------------------------------------------------- lr scaling


@pytest.mark.parametrize("lr_scaling", ["sqrt", "linear"])
def test_lr_scaling_multiplies_the_scheduled_lr_by_the_batch_size_ratio(lr_scaling: str) -> None:
    scheduling = {0: 2, 4: 4, 6: 8}
    schedule = Linear(0.1, 0.01, 20)

    class LRProbe(pl.Callback):
        def __init__(self) -> None:
            self.rows: list[tuple[int, float]] = []

        def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
            self.rows.append((trainer.global_step, float(optimizer.param_groups[0]["lr"])))

    lr_probe = LRProbe()
    ramp = BatchSizeRamp(scheduling, lr_scaling=lr_scaling)  # type: ignore[arg-type]
    probe = fit(ramp, ls.ScheduleCallback(schedule), lr_probe, batches=16, max_epochs=2)
    # 16 batches: steps 0-3 of 2 (8 batches), 4-5 of 4 (8 batches); epoch 1: 8s.
    assert probe.batches == [2, 2, 2, 2, 4, 4, 8, 8]
    power = 0.5 if lr_scaling == "sqrt" else 1.0
    for step, lr in lr_probe.rows:
        accumulation = scheduled(scheduling, step)
        expected = (0.1 + (0.01 - 0.1) * step / 20) * (accumulation / 2) ** power
        assert lr == pytest.approx(expected, rel=1e-12), (step, lr, expected)


# ---------------------------------------------------------------------------------- setup and arguments


class Manual(TinyModule):
    def __init__(self) -> None:
        super().__init__(n_samples=8)
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        pass


@pytest.mark.parametrize(
    ("extra", "trainer_kwargs", "module", "match"),
    [
        ([GradientAccumulationScheduler({1: 2})], {}, TinyModule, "keep one of them"),
        ([], {"accumulate_grad_batches": 2}, TinyModule, "Trainer was given accumulate_grad_batches=2"),
        ([], {}, Manual, "manual optimization"),
    ],
)
def test_a_fit_that_cannot_ramp_is_refused(
    extra: list[Any], trainer_kwargs: dict[str, Any], module: Any, match: str
) -> None:
    trainer = make_trainer([BatchSizeRamp({0: 1, 2: 2}), *extra], max_epochs=1, **trainer_kwargs)
    with pytest.raises(ValueError, match=match):
        trainer.fit(module())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scheduling": [(0, 2)]}, TypeError, r"`scheduling` must be a dict.*\[\(0, 2\)\]"),
        ({"scheduling": {}}, ValueError, "`scheduling` needs at least one"),
        ({"scheduling": {0: 0}}, ValueError, r"`scheduling` values must be in \[1, 2\*\*53\], got 0"),
        ({"scheduling": {-1: 2}}, ValueError, r"`scheduling` keys must be in \[0, 2\*\*53\], got -1"),
        ({"scheduling": {0.5: 2}}, TypeError, "`scheduling` keys must be ints, got 0.5"),
        ({"scheduling": {0: True}}, TypeError, "`scheduling` values must be ints, got True"),
        ({"scheduling": {0: 2}, "clock": "epoch"}, ValueError, "`clock` must be one of .*'epoch'"),
        ({"scheduling": {0: 2}, "count": 4}, ValueError, r"`count`=4 counts samples or tokens"),
        ({"scheduling": {0: 2}, "clock": "tokens"}, ValueError, "clock='tokens' needs `count`.*count=None"),
        ({"scheduling": {0: 2}, "clock": "samples", "count": -1}, ValueError, "`count` must be a non-negative"),
        ({"scheduling": {0: 2}, "lr_scaling": "cubic"}, ValueError, "`lr_scaling` must be one of .*'cubic'"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        BatchSizeRamp(**kwargs)


def lightning_walk(scheduling: dict[int, int], batches: int, epochs: int, max_steps: int, per_batch: int) -> list[int]:
    """Lightning's loop batch by batch, with the ramp's rule at each window's first batch.

    A window starts where ``index % A == 0`` (Lightning zeroes the gradients there); it steps after
    the batch where ``(index + 1) % A == 0`` or at the epoch's last batch. At a window's start the
    scheduled value for the clock (steps taken, or ``per_batch`` units per batch consumed) takes
    over if the index is a multiple of it. Returns the micro-batches of every optimizer step.
    """
    steps: list[int] = []
    clock_value, accumulation = 0, scheduled(scheduling, 0)
    for _ in range(epochs):
        window = 0
        for index in range(batches):
            if index % accumulation == 0:
                target = scheduled(scheduling, clock_value)
                if index % target == 0:
                    accumulation = target
            window += 1
            if (index + 1) % accumulation == 0 or index == batches - 1:
                steps.append(window)
                clock_value += 1 if per_batch == 0 else window * per_batch
                window = 0
                if len(steps) == max_steps:
                    return steps
    return steps


@settings(max_examples=300, deadline=None)
@given(
    entries=st.dictionaries(st.integers(0, 80), st.integers(1, 8), min_size=1, max_size=4),
    batches=st.integers(1, 30),
    epochs=st.integers(1, 4),
    max_steps=st.one_of(st.just(-1), st.integers(1, 90)),
    per_batch=st.integers(0, 6),
)
def test_plan_jumps_agree_with_a_batch_by_batch_walk(
    entries: dict[int, int], batches: int, epochs: int, max_steps: int, per_batch: int
) -> None:
    ramp = BatchSizeRamp(entries, clock="samples" if per_batch else "optimizer")
    plan = ramp.plan(batches, epochs, max_steps, units_per_batch=per_batch or None)
    expected = lightning_walk(ramp.scheduling, batches, epochs, max_steps, per_batch)
    assert plan.batches().tolist() == expected
    assert plan.total_batches == sum(expected)


def test_plan_arguments_and_lr_factor() -> None:
    ramp = BatchSizeRamp({10: 4}, lr_scaling="sqrt")
    assert ramp.scheduling == {0: 1, 10: 4}  # as GradientAccumulationScheduler: 1 before the first key
    assert ramp.lr_factor(4) == 2.0 and BatchSizeRamp({0: 2}).lr_factor(8) == 1.0
    with pytest.raises(ValueError, match="the fit has no end"):
        ramp.plan(10)
    with pytest.raises(ValueError, match="give `units_per_batch`"):
        BatchSizeRamp({0: 1}, clock="samples").plan(10, max_epochs=1)
    # A count given as an int plans without units_per_batch, on every process together.
    two = BatchSizeRamp({0: 1, 16: 2}, clock="samples", count=4)
    assert two.plan(4, max_epochs=2, world_size=2).batches().tolist() == [1, 1, 2, 2, 2]
    # Long fits are planned by jumps, not step by step: 10**9 steps in runs.
    long = BatchSizeRamp({0: 1, 10**6: 2, 10**8: 8}).plan(10**9, max_epochs=1)
    assert long.total_steps == 10**6 + (10**8 - 10**6) + (10**9 - 10**6 - 2 * (10**8 - 10**6)) // 8
    assert len(long.runs) == 3


def test_state_from_elsewhere_is_refused() -> None:
    ramp = BatchSizeRamp({0: 1})
    with pytest.raises(ValueError, match=r"not one it wrote.*accumulation 0"):
        ramp.load_state_dict(
            {"version": 1, "scheduling": [[0, 1]], "clock": "optimizer", "accumulation": 0, "warned": []}
        )


# ---------------------------------------------------------------------------------- DDP


@pytest.mark.slow
def test_ddp_ranks_decide_alike_with_one_collective_per_step_only_for_a_function_count(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # 8 batches per rank and epoch, 6 units per micro-batch on both ranks together (rank 0 counts
    # 2 a batch, rank 1 counts 4; or count=3 on each). {0: 1, 12: 2, 36: 4}: 1, 1 (12 reached at
    # batch 2), 2, 2, 2 (36 reached at batch 6, not a multiple of 4: one more of 2), then 4, 4.
    expected = [1, 1, 2, 2, 2, 4, 4]
    for name, collectives in (("function", len(expected)), ("int", 0)):
        rank0 = json.loads((tmp_path / f"{name}_rank0.json").read_text())
        rank1 = json.loads((tmp_path / f"{name}_rank1.json").read_text())
        assert rank0["world_size"] == 2
        assert rank0["batches"] == rank1["batches"] == expected, name
        assert rank0["accumulate"] == rank1["accumulate"]
        assert rank0["collectives"] == rank1["collectives"] == collectives, name


class LRAtStep(pl.Callback):
    """The lr each optimizer step uses, and the accumulation it was taken with."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, float]] = []

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
        lr = float(optimizer.param_groups[0]["lr"])
        self.rows.append((trainer.global_step, int(trainer.accumulate_grad_batches), lr))


@pytest.mark.parametrize("ramp_first", [True, False])
@pytest.mark.parametrize("lr_scaling", [None, "sqrt"])
def test_fractions_resolve_against_the_ramps_steps_and_the_preview_is_the_fit(
    ramp_first: bool, lr_scaling: Any
) -> None:
    ramp = BatchSizeRamp({0: 1, 4: 2, 8: 4}, lr_scaling=lr_scaling)
    lr, probe = ls.ScheduleCallback(Linear(0.1, 0.0, 1.0)), LRAtStep()  # a linear decay over the whole fit
    trainer = make_trainer([ramp, lr, probe] if ramp_first else [lr, probe, ramp], max_epochs=3)
    plan = ls.FitPlan.from_trainer(trainer, 12)
    assert plan.total_steps == 14 and plan.batch_size_ramp is ramp
    assert plan.epoch_of_step().tolist() == [0] * 8 + [1] * 3 + [2] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(TinyModule(n_samples=48, batch_size=4))
    # 14 steps (8, 3, 3 an epoch), not estimated_stepping_batches' 36: the decay ends with the fit.
    assert [row[0] for row in probe.rows] == list(range(14))
    factors = [1.0] * 14 if lr_scaling is None else [1.0] * 4 + [2**0.5] * 4 + [2.0] * 6
    for (step, _, value), factor in zip(probe.rows, factors, strict=True):
        assert value == pytest.approx(0.1 * (1 - step / 14) * factor, rel=1e-12)
    shown = ls.preview([ls.ScheduleCallback(Linear(0.1, 0.0, 1.0))], plan, initial=0.1)
    np.testing.assert_allclose(next(iter(shown.values.values())), [row[2] for row in probe.rows], rtol=1e-12)


def test_the_batch_clocks_length_under_a_ramp() -> None:
    ramp, lr = BatchSizeRamp({0: 1, 4: 2, 8: 4}), ls.ScheduleCallback(Linear(0.1, 0.0, 1.0), clock="batch")
    seen: dict[str, int] = {}

    class Length(pl.Callback):
        def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
            assert lr._run is not None
            seen["total"] = lr._run.total()

    make_trainer([ramp, lr, Length()], max_epochs=3, max_steps=10).fit(TinyModule(n_samples=48, batch_size=4))
    assert seen["total"] == 12 + 2 * 4  # steps 0-7 take epoch 0's 12 batches, steps 8 and 9 take 4 each


@pytest.mark.parametrize("base", [False, True])
def test_lr_scaling_multiplies_a_plateau_callbacks_values(base: bool) -> None:
    def run(lr_scaling: Any) -> LRAtStep:
        probe = LRAtStep()
        plateau = ls.ReduceLROnPlateau(
            "val_loss", factor=0.5, patience=0, base=ls.ScheduleCallback(Linear(0.1, 0.01, 40)) if base else None
        )
        ramp = BatchSizeRamp({0: 1, 4: 2, 8: 4}, lr_scaling=lr_scaling)
        module = ScriptedModule([5.0, 4.0, 4.5, 4.6, 4.7, 4.8, 4.9, 5.0], per_validation=4, n_samples=48)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make_trainer([ramp, plateau, probe], max_epochs=3, val_check_interval=4).fit(module)
        return probe

    # The same steps, validations and (scripted) metrics: the same reductions. Scaled, each lr is
    # the unscaled one times the accumulation it trains with (linear, from a start of 1).
    plain, scaled = run(None), run("linear")
    assert [row[:2] for row in plain.rows] == [row[:2] for row in scaled.rows]
    assert len({row[2] for row in plain.rows}) > 3  # reductions (and the base's decay) happened
    for (step, accumulation, lr), (_, _, lr_scaled) in zip(plain.rows, scaled.rows, strict=True):
        assert lr_scaled == pytest.approx(lr * accumulation, rel=1e-12), step
