"""Plateau reduction: torch's decision rule, composition with schedules, resume, DDP."""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _helpers import AfterValidation, Crash, Probe, RankRecorder, ScriptedModule, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

import lightning_schedulers as ls
from lightning_schedulers.plateau import PlateauState, apply_reduction, reduced_multiplier

LRS = [0.1, 0.05, 0.3]


def torch_lrs(metrics: list[float], lrs: list[float], **kwargs: Any) -> np.ndarray:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    rows = []
    for m in metrics:
        sched.step(m)
        rows.append([g["lr"] for g in opt.param_groups])
    return np.array(rows)


def our_lrs(metrics: list[float], lrs: list[float], **kwargs: Any) -> np.ndarray:
    """The callback's arithmetic on a constant schedule: decide, then reduce the multipliers."""
    min_lr = kwargs.pop("min_lr", 0.0)
    floors = list(min_lr) if isinstance(min_lr, list) else [min_lr] * len(lrs)
    factor, eps = kwargs.pop("factor", 0.1), kwargs.pop("eps", 1e-8)
    state = PlateauState(**kwargs)
    mults = [1.0] * len(lrs)
    rows = []
    for m in metrics:
        if state.step(m):
            mults = [reduced_multiplier(lr, k, factor, f, eps) for lr, k, f in zip(lrs, mults, floors, strict=True)]
        rows.append([apply_reduction(lr, k, f) for lr, k, f in zip(lrs, mults, floors, strict=True)])
    return np.array(rows)


def scripted(seed: int, n: int = 120, negative: bool = False, nan: bool = False) -> list[float]:
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, 1, n)) + np.repeat(rng.normal(0, 3, n // 10), 10)
    values = (walk - 50 if negative else np.abs(walk) + 1).tolist()
    for i in range(0, n, 17):
        values[i : i + 3] = [values[i]] * 3  # flat stretches: plateaus
    if nan:
        for i in range(5, n, 13):
            values[i] = math.nan
    return values


GRID = list(
    itertools.product(
        ["min", "max"], ["rel", "abs"], [1e-4, 0.5], [0, 2], [0, 3], [0.0, [0.001, 0.01, 0.05]], [1e-8, 1e-3]
    )
)


@pytest.mark.parametrize("sequence", [dict(seed=1), dict(seed=2, negative=True), dict(seed=3, nan=True)])
def test_decisions_equal_torch_over_the_whole_grid(sequence: dict[str, Any]) -> None:
    metrics = scripted(**sequence)
    reductions = 0
    for mode, threshold_mode, threshold, cooldown, patience, min_lr, eps in GRID:
        kwargs = dict(
            mode=mode,
            threshold_mode=threshold_mode,
            threshold=threshold,
            cooldown=cooldown,
            patience=patience,
            min_lr=min_lr,
            eps=eps,
            factor=0.5,
        )
        ref = torch_lrs(metrics, LRS, **kwargs)
        got = our_lrs(metrics, LRS, **dict(kwargs))
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0, err_msg=str(kwargs))
        reductions += int((ref[-1] < LRS).any())
    assert reductions > len(GRID) // 2  # the sequences do trigger reductions


def test_nan_and_inf_never_become_best() -> None:
    state = PlateauState(mode="min", patience=100)
    for v in (1.0, math.nan, -math.inf, math.inf, 0.5):
        state.step(v)
    assert state.best == 0.5
    assert state.num_bad_epochs == 0
    state = PlateauState(mode="max", patience=1)
    assert [state.step(v) for v in (1.0, math.inf, math.nan)] == [False, False, True]
    assert state.best == 1.0


# ------------------------------------------------------------------ inside Trainer.fit
def test_fit_with_several_validations_an_epoch_equals_torch() -> None:
    script = scripted(seed=4, n=40, nan=True)
    kwargs = dict(factor=0.5, patience=1, cooldown=1, min_lr=[0.001, 0.01, 0.05], threshold=0.01)
    cb = ls.ReduceLROnPlateau("val_loss", **kwargs)
    after = AfterValidation()
    module = ScriptedModule(script, per_validation=4, groups=3, lr=LRS)
    make_trainer([cb, after], max_epochs=10, val_check_interval=0.25, num_sanity_val_steps=2).fit(module)
    assert len(after.rows) == 40  # four decisions an epoch, none from the sanity check
    ref = torch_lrs(script, LRS, **kwargs)
    got = np.array([values for _, values in after.rows])
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    assert (ref[-1] < LRS).all()


def test_missing_metric_strict_names_the_monitor_and_what_exists() -> None:
    module = ScriptedModule([1.0] * 8, per_validation=16)
    with pytest.raises(
        KeyError, match=r"monitor 'val_los' is not among the logged metrics \['val_loss'\]; did you mean 'val_loss'"
    ):
        make_trainer([ls.ReduceLROnPlateau("val_los")], max_epochs=1).fit(module)


def test_missing_metric_not_strict_warns_once_and_changes_nothing() -> None:
    module = ScriptedModule([1.0] * 8, per_validation=4)
    cb = ls.ReduceLROnPlateau("val_acc", patience=0, strict=False)
    after = AfterValidation()
    with pytest.warns(UserWarning, match="strict=False") as record:
        make_trainer([cb, after], max_epochs=1, val_check_interval=0.25).fit(module)
    assert sum("val_acc" in str(w.message) for w in record) == 1
    assert [values for _, values in after.rows] == [[0.1]] * 4


def test_warmup_then_plateau_is_one_configuration() -> None:
    # Worse every validation: a reduction every second validation (patience=1).
    script = [float(i) for i in range(40)]
    warmup = ls.LinearLR(start_factor=0.1, total_iters=10, interval="step")
    cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=1, base=warmup, save_history=True)
    module = ScriptedModule(script, per_validation=4, groups=2, lr=[0.1, 0.2])
    make_trainer([cb], max_epochs=3, val_check_interval=0.25).fit(module)
    history = [h for h in cb.history]
    by_step: dict[int, dict[str, float]] = {}
    for h in history:
        by_step[int(h["step"])] = h  # the last write for a step is what trained
    ramp = warmup.simulate(48, initial=[0.1, 0.2])
    # Validations every 4 steps, worse each time: with patience 1, a reduction at every second
    # validation from the third on, which takes effect from the step it happened at.
    reductions = (12, 20, 28, 36, 44)
    for step in range(48):
        k = sum(r <= step for r in reductions)
        expected = ramp[step] * 0.5**k
        got = [by_step[step]["lr-SGD/pg1"], by_step[step]["lr-SGD/pg2"]]
        np.testing.assert_allclose(got, expected, rtol=1e-14)
    # The warmup ran to its end: from step 10 on the ramp is flat at the groups' lr.
    assert ramp[10].tolist() == [0.1, 0.2]


def test_cosine_scaled_down_on_plateau_respects_min_lr() -> None:
    script = [1.0] * 40  # never improves after the first validation
    cosine = ls.CosineAnnealingLR(T_max=30, eta_min=0.0, interval="step")
    cb = ls.ReduceLROnPlateau("val_loss", factor=0.1, patience=0, min_lr=0.004, base=cosine, save_history=True)
    module = ScriptedModule(script, per_validation=8)
    make_trainer([cb], max_epochs=2, val_check_interval=0.5).fit(module)
    last = {int(h["step"]): h["lr-SGD"] for h in cb.history}
    curve = cosine.simulate(32, initial=0.1)
    # Validations at steps 8, 16, 24, 32: the first sets best, the next two reduce (x0.1 each).
    for step in range(32):
        k = 0 if step < 16 else (1 if step < 24 else 2)
        assert last[step] == pytest.approx(apply_reduction(curve[step], 0.1**k, 0.004), rel=1e-14)
    assert min(last.values()) >= min(0.004, curve.min())  # the floor binds the reduction only


def test_attribute_plateau_with_a_floor() -> None:
    class TF(ScriptedModule):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.teacher_forcing = 1.0

    script = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    cb = ls.ReduceAttributeOnPlateau("val_loss", "teacher_forcing", factor=0.5, patience=0, floor=0.2)
    seen: list[float] = []

    class Read(pl.Callback):
        def on_validation_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
            seen.append(pl_module.teacher_forcing)

    make_trainer([cb, Read()], max_epochs=2, val_check_interval=0.25).fit(TF(script, per_validation=4))
    assert seen == [1.0, 1.0, 0.5, 0.25, 0.2, 0.2, 0.2, 0.2]


def test_reductions_are_logged_at_their_step(tmp_path: Path) -> None:
    cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0)
    logger = CSVLogger(tmp_path, name="run", version=0)
    make_trainer([cb], max_epochs=2, val_check_interval=0.25, logger=logger, log_every_n_steps=1000).fit(
        ScriptedModule([1.0] * 8, per_validation=4)
    )
    with open(tmp_path / "run" / "version_0" / "metrics.csv", newline="") as handle:
        rows = {(int(r["step"]), float(r["lr-SGD"])) for r in csv.DictReader(handle) if r.get("lr-SGD")}
    # The start, then each reduction (validations 2 to 8, every 4 steps) at the step where it happened.
    expected = {(0, 0.1)} | {(4 * (k + 2), 0.1 * 0.5 ** (k + 1)) for k in range(7)}
    assert {(s, round(v, 15)) for s, v in rows} == {(s, round(v, 15)) for s, v in expected}


def test_verbose_reports_once_on_rank_zero(caplog: pytest.LogCaptureFixture) -> None:
    cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0, verbose=True)
    with caplog.at_level("INFO"):
        make_trainer([cb], max_epochs=1, val_check_interval=0.5).fit(ScriptedModule([1.0, 1.0], per_validation=8))
    messages = [r.message for r in caplog.records if "has not improved" in r.message]
    assert len(messages) == 1 and "[0.1] -> [0.05]" in messages[0]


def test_resume_across_a_reduction_makes_the_same_decisions(tmp_path: Path) -> None:
    script = [3.0, 2.0, 2.5, 2.5, 2.5, 1.0, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5]

    def make_cb() -> ls.ReduceLROnPlateau:
        base = ls.ExponentialLR(0.99, interval="step")
        return ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0, cooldown=1, base=base)

    def trains() -> Probe:
        return Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])

    full, full_steps = AfterValidation(), trains()
    make_trainer([make_cb(), full, full_steps], max_epochs=6, val_check_interval=0.5).fit(
        ScriptedModule(script, per_validation=8)
    )
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=28, save_top_k=-1)
    first = make_cb()
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer([first, ckpt, Crash(28)], max_epochs=6, val_check_interval=0.5, enable_checkpointing=True).fit(
            ScriptedModule(script, per_validation=8)
        )
    path = next(tmp_path.glob("*.ckpt"))
    state = torch.load(path, weights_only=True)["callbacks"][first.state_key]
    assert state["extra"]["multipliers"] == [0.5]  # one reduction before the checkpoint
    assert state["extra"]["plateau"]["cooldown_counter"] == 1
    resumed, resumed_steps = AfterValidation(), trains()
    make_trainer([make_cb(), resumed, resumed_steps], max_epochs=6, val_check_interval=0.5).fit(
        ScriptedModule(script, per_validation=8), ckpt_path=path
    )
    assert resumed.rows == [row for row in full.rows if row[0] > 28]
    assert len(resumed.rows) == 9
    assert resumed_steps.rows == [row for row in full_steps.rows if row[0] >= 28]


def test_base_registered_with_the_trainer_is_a_conflict() -> None:
    base = ls.StepLR(2)
    with pytest.raises(
        ValueError, match=r"StepLR\(.*\) is the base of ReduceLROnPlateau\(.*\), which drives it; remove it"
    ):
        make_trainer([base, ls.ReduceLROnPlateau("val_loss", base=base)], max_epochs=1).fit(
            ScriptedModule([1.0], per_validation=16)
        )


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ls.ReduceLROnPlateau("v", factor=1.0), ValueError, r"`factor` must be in \(0, 1\), got 1.0"),
        (lambda: ls.ReduceLROnPlateau("v", factor=0.0), ValueError, r"`factor` must be in \(0, 1\), got 0.0"),
        (lambda: ls.ReduceLROnPlateau("v", mode="minimum"), ValueError, r"`mode` must be one of .* got 'minimum'"),
        (lambda: ls.ReduceLROnPlateau("v", threshold_mode="pct"), ValueError, r"`threshold_mode` must be one of"),
        (lambda: ls.ReduceLROnPlateau("v", patience=-1), ValueError, r"`patience` must be >= 0, got -1"),
        (lambda: ls.ReduceLROnPlateau("v", cooldown=-2), ValueError, r"`cooldown` must be >= 0, got -2"),
        (lambda: ls.ReduceLROnPlateau("v", eps=-1e-8), ValueError, r"`eps` must be >= 0, got -1e-08"),
        (lambda: ls.ReduceLROnPlateau("v", min_lr=[0.1, "a"]), TypeError, r"`min_lr\[1\]` must be a real number"),
        (lambda: ls.ReduceLROnPlateau(""), TypeError, r"`monitor` must be a non-empty str"),
        (lambda: ls.ReduceLROnPlateau("v", base=3), TypeError, r"`base` must be a scheduler callback"),
        (
            lambda: ls.ReduceLROnPlateau("v", base=ls.ReduceLROnPlateau("w")),
            TypeError,
            r"`base` cannot itself be a plateau callback",
        ),
        (lambda: ls.ReduceAttributeOnPlateau("v", "a..b"), ValueError, r"`param_name` has an empty segment"),
    ],
)
def test_bad_arguments(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_min_lr_list_of_the_wrong_length_fails_at_setup() -> None:
    with pytest.raises(ValueError, match=r"`min_lr` has 2 values but lr@optimizer0 has 3 param group\(s\)"):
        make_trainer([ls.ReduceLROnPlateau("val_loss", min_lr=[0.1, 0.2])], max_epochs=1).fit(
            ScriptedModule([1.0], per_validation=16, groups=3)
        )


# ------------------------------------------------------------------ DDP
@pytest.mark.slow
@pytest.mark.parametrize("at_epoch_end", [False, True])
def test_ddp_ranks_with_different_metrics_apply_identical_values(tmp_path: Path, at_epoch_end: bool) -> None:
    script = [5.0, 4.0, 4.5, 4.4, 4.6, 3.0, 3.5, 3.6, 3.7, 3.8]
    module = ScriptedModule(script, per_validation=4, rank_offset=-10.0, groups=2, lr=[0.1, 0.2])
    patience = 0 if at_epoch_end else 1  # reductions within the rows recorded, either way
    cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=patience, check_on_train_epoch_end=at_epoch_end)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        max_epochs=5,
        val_check_interval=0.5,
        callbacks=[cb, RankRecorder(str(tmp_path))],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module)
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    assert len(rank0) == 10
    assert rank0 == rank1
    # Rank 1 logged an always-improving trend (no sync_dist); the decisions follow rank zero. At
    # epoch ends: on each epoch's second validation, seen by both validations of the next epoch.
    decided = script[1::2] if at_epoch_end else script
    expected = torch_lrs(decided, [0.1, 0.2], factor=0.5, patience=patience)
    if at_epoch_end:
        expected = np.repeat(np.vstack([[0.1, 0.2], expected[:-1]]), 2, axis=0)
    assert expected[-1][0] < 0.1
    np.testing.assert_allclose(rank0, expected, rtol=1e-12)


def test_the_decision_rules_settings_are_readable_on_the_callback_as_on_torchs() -> None:
    params = [torch.nn.Parameter(torch.zeros(1))]
    kwargs = dict(mode="max", patience=3, threshold=0.01, threshold_mode="abs", cooldown=2)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch.optim.SGD(params, lr=0.1), **kwargs)
    for ours in (
        ls.ReduceLROnPlateau("v", **kwargs),
        ls.ReduceAttributeOnPlateau("v", "w", **kwargs),
        ls.get_scheduler("reduce_lr_on_plateau", scheduler_specific_kwargs={"monitor": "v", **kwargs}),
    ):
        for name in kwargs:
            assert getattr(ours, name) == getattr(theirs, name), name
