"""timm's ``PlateauLRScheduler``: the callback against timm's own class in real Lightning fits.

The reference is timm's scheduler returned from ``configure_optimizers`` and driven as Lightning's
documentation drives a timm scheduler: ``"interval": "epoch"``, a ``"monitor"`` (with
``"reduce_on_plateau": True``, without which Lightning passes no metric to a scheduler that is not
torch's ``ReduceLROnPlateau``) and ``lr_scheduler_step`` overridden to call
``scheduler.step(epoch=..., metric=metric)``. The epoch passed is ``self.current_epoch + 1``, as
timm's ``train.py`` calls ``step(epoch + 1, metric)`` after epoch ``epoch``; the documentation's
literal ``self.current_epoch`` lags one epoch behind timm's own loop (see docs/coming-from.md).
timm's module is loaded without importing ``timm`` (see ``_references.py``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import Crash, Probe, TinyModule, assert_parity, group_values, make_trainer
from _references import timm_scheduler
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from lightning_schedulers.families import timm as lt

pytestmark = pytest.mark.numeric

LRS = [0.1, 0.4]
BATCHES = 2  # training batches an epoch
# val_acc (mode "max") of each epoch. The warmup's epochs log high values: counted, they would be
# the best for good and every later epoch a bad one. After the warmup: improvements, plateaus with
# patience 1 and a cooldown of 1, until both groups reach lr_min.
SCRIPT = [0.9, 0.95, 0.99, 0.3, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.6]
EPOCHS = len(SCRIPT)
RULE: dict[str, Any] = {
    "decay_rate": 0.5,
    "patience_t": 1,
    "cooldown_t": 1,
    "threshold": 0.01,
    "lr_min": 0.03,
    "mode": "max",
}
CASES: dict[str, dict[str, Any]] = {
    "warmup, no noise": {**RULE, "warmup_t": 3, "warmup_lr_init": 0.001},
    # The range starts inside the warmup, whose epochs timm leaves without noise.
    "warmup, normal noise": {
        **RULE,
        "warmup_t": 3,
        "warmup_lr_init": 0.001,
        "noise_range_t": (2, 15),
        "noise_pct": 0.3,
        "noise_std": 0.5,
        "noise_seed": 7,
    },
    "no warmup, uniform noise": {**RULE, "noise_range_t": 1, "noise_type": "uniform", "noise_pct": 0.2},
}


def timm_plateau() -> Any:
    return timm_scheduler("plateau_lr").PlateauLRScheduler


def make_timm(optimizer: torch.optim.Optimizer, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # timm deprecates the class
        return timm_plateau()(optimizer, **kwargs)


class Scripted(TinyModule):
    """Two param groups, BATCHES batches an epoch, one validation an epoch logging SCRIPT[epoch]."""

    def __init__(self) -> None:
        super().__init__(groups=2, lr=LRS, n_samples=4 * BATCHES, batch_size=4)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x[:4], self.y[:4]), batch_size=4)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_acc", torch.tensor(SCRIPT[self.current_epoch], dtype=torch.float64))


class TimmInLightning(Scripted):
    """timm's PlateauLRScheduler from configure_optimizers, stepped by Lightning (the reference)."""

    def __init__(self, timm_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.timm_kwargs = timm_kwargs

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        scheduler = make_timm(optimizer, **self.timm_kwargs)
        config = {"scheduler": scheduler, "interval": "epoch", "monitor": "val_acc", "reduce_on_plateau": True}
        return {"optimizer": optimizer, "lr_scheduler": config}

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        scheduler.step(epoch=self.current_epoch + 1, metric=metric)


def fit_rows(module: Scripted, callbacks: list[Any], **kwargs: Any) -> list[tuple[int, int, list[float]]]:
    probe = Probe(group_values())
    kwargs.setdefault("max_epochs", EPOCHS)
    make_trainer([*callbacks, probe], **kwargs).fit(module)
    return probe.rows


def timm_epochs(kwargs: dict[str, Any], script: list[float] = SCRIPT) -> np.ndarray:
    """timm driven directly as its train.py does: the constructor's lrs, then step(e + 1, metric of e)."""
    optimizer = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in LRS])
    scheduler = make_timm(optimizer, **kwargs)
    rows = [[g["lr"] for g in optimizer.param_groups]]
    for epoch, metric in enumerate(script[:-1]):
        scheduler.step(epoch + 1, metric)
        rows.append([g["lr"] for g in optimizer.param_groups])
    return np.array(rows)


def ours(kwargs: dict[str, Any]) -> lt.PlateauLRScheduler:
    return lt.PlateauLRScheduler("val_acc", **kwargs)


_REFERENCE: dict[str, list[tuple[int, int, list[float]]]] = {}


def reference_rows(case: str) -> list[tuple[int, int, list[float]]]:
    if case not in _REFERENCE:
        _REFERENCE[case] = fit_rows(TimmInLightning(CASES[case]), [])
    return _REFERENCE[case]


# ------------------------------------------------------------------ the scenario
def test_the_scenario_exercises_warmup_reductions_cooldown_and_the_floor() -> None:
    """What the fits below compare goes through every part of timm's scheduler (checked on timm itself)."""
    trace = timm_epochs(CASES["warmup, no noise"])
    warm = trace[:4, 0]
    assert warm[0] == 0.001 and (np.diff(warm) > 0).all() and warm[3] == pytest.approx(0.1, rel=1e-12)
    levels = [sorted(set(trace[3:, j].tolist()), reverse=True) for j in range(2)]
    assert np.allclose(levels[0], [0.1, 0.05, 0.03]) and np.allclose(levels[1], [0.4, 0.2, 0.1, 0.05, 0.03])
    # Both groups end floored at lr_min (their last reductions, to 0.025, are lifted to 0.03).
    assert trace[-1].tolist() == [0.03, 0.03]
    # The warmup's metrics, counted, would change the reductions; so would no cooldown.
    counted = torch.optim.lr_scheduler.ReduceLROnPlateau(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1),
        mode="max",
        factor=0.5,
        patience=1,
        threshold=0.01,
        cooldown=1,
        min_lr=0.03,
    )
    lrs = []
    for metric in SCRIPT[:-1]:
        counted.step(metric)
        lrs.append(counted.optimizer.param_groups[0]["lr"])
    assert lrs[3:] != trace[4:, 0].tolist()
    assert not np.array_equal(timm_epochs({**CASES["warmup, no noise"], "cooldown_t": 0}), trace)
    # The noise is on inside its range after the warmup only.
    noisy = timm_epochs(CASES["warmup, normal noise"])
    assert noisy[:4].tolist() == trace[:4].tolist() and not np.allclose(noisy[4:15], trace[4:15])


def test_lightnings_literal_recipe_lags_and_without_a_warmup_trains_at_lr_zero() -> None:
    """docs/coming-from.md on Lightning's literal ``scheduler.step(epoch=self.current_epoch, metric=metric)``."""

    def literal(kwargs: dict[str, Any]) -> np.ndarray:
        optimizer = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in LRS])
        scheduler = make_timm(optimizer, **kwargs)
        rows = [[g["lr"] for g in optimizer.param_groups]]
        for epoch, metric in enumerate(SCRIPT[:-1]):
            scheduler.step(epoch, metric)
            rows.append([g["lr"] for g in optimizer.param_groups])
        return np.array(rows)

    warm = CASES["warmup, no noise"]
    lagging, script = literal(warm), timm_epochs(warm)
    assert lagging[1:5].tolist() == script[:4].tolist()  # epochs 0 and 1 alike, then one epoch late
    assert (literal(CASES["no warmup, uniform noise"])[1:] == 0.0).all()
    assert (timm_epochs(CASES["no warmup, uniform noise"]) > 0.0).all()


# ------------------------------------------------------------------ (1) fits: the callback equals timm in Lightning
@pytest.mark.parametrize("case", list(CASES))
def test_every_batch_of_a_fit_equals_timm_stepped_by_lightning(case: str) -> None:
    kwargs = CASES[case]
    reference = reference_rows(case)
    # The reference fit is timm's scheduler as its own train.py drives it, epoch by epoch.
    direct = timm_epochs(kwargs)
    assert [values for _, epoch, values in reference] == [direct[epoch].tolist() for _, epoch, _ in reference]

    cb = ours(kwargs)
    rows = fit_rows(Scripted(), [cb])
    assert [(step, epoch) for step, epoch, _ in rows] == [(step, epoch) for step, epoch, _ in reference]
    assert len(rows) == EPOCHS * BATCHES
    assert_parity([values for _, _, values in rows], [values for _, _, values in reference], rtol=1e-12)
    # Until the first reduction a fit applies what simulate shows (the reductions depend on metrics).
    preview = cb.simulate(EPOCHS, initial=LRS)
    # The first reduction is decided at the end of epoch 6 with the warmup (its metrics ignored),
    # at the end of epoch 4 without (0.99 stays the best).
    unreduced = 7 if kwargs.get("warmup_t") else 5
    assert all(values == preview[epoch].tolist() for _, epoch, values in rows if epoch < unreduced)
    assert cb.state.decisions == EPOCHS - kwargs.get("warmup_t", 0)


def test_one_param_group_and_the_min_mode() -> None:
    kwargs = {**CASES["warmup, normal noise"], "mode": "min"}

    class Negated(TimmInLightning):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_acc", -torch.tensor(SCRIPT[self.current_epoch], dtype=torch.float64))

    class NegatedOurs(Scripted):
        validation_step = Negated.validation_step

    reference = fit_rows(Negated(kwargs), [], max_epochs=12)
    rows = fit_rows(NegatedOurs(), [lt.PlateauLRScheduler("val_acc", param_group_index=1, **kwargs)], max_epochs=12)
    # Group 0 is left alone at its lr; group 1 follows timm's.
    assert all(values[0] == LRS[0] for _, _, values in rows)
    assert_parity([values[1] for _, _, values in rows], [values[1] for _, _, values in reference])


def test_a_hand_written_loop_equals_timms_train_py() -> None:
    kwargs = CASES["warmup, normal noise"]
    optimizer = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in LRS])
    bound = ours(kwargs).bind(optimizer)
    rows = [[g["lr"] for g in optimizer.param_groups]]
    for metric in SCRIPT[:-1]:
        optimizer.step()
        bound.step()
        bound.epoch_end()
        bound.report({"val_acc": metric})
        rows.append([g["lr"] for g in optimizer.param_groups])
    assert_parity(rows, timm_epochs(kwargs))


# ------------------------------------------------------------------ (2) resume
@pytest.mark.parametrize(
    ("checkpoint", "pick", "first_step"),
    [
        # the end of epoch 6, after its decision (a reduction: the cooldown is pending)
        ({"save_on_train_epoch_end": True}, "epoch=6-*.ckpt", 14),
        # the middle of epoch 7
        ({"every_n_train_steps": 15}, "*step=15.ckpt", 15),
    ],
)
def test_a_resumed_fit_equals_the_uninterrupted_one(
    tmp_path: Path, checkpoint: dict[str, Any], pick: str, first_step: int
) -> None:
    kwargs = CASES["warmup, normal noise"]
    full = fit_rows(Scripted(), [ours(kwargs)])
    saver = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, **checkpoint)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit_rows(Scripted(), [ours(kwargs), saver, Crash(at_step=17)], enable_checkpointing=True)
    path = next(tmp_path.glob(pick))
    resumed = Probe(group_values())
    cb = ours(kwargs)
    make_trainer([cb, resumed], max_epochs=EPOCHS).fit(Scripted(), ckpt_path=path)
    assert resumed.rows[0][0] == first_step
    by_step = {step: values for step, _, values in full}
    assert [values for step, _, values in resumed.rows] == [by_step[step] for step, _, _ in resumed.rows]
    assert_parity(
        [values for _, _, values in full], [values for _, _, values in reference_rows("warmup, normal noise")]
    )
    assert cb.state.decisions == EPOCHS - kwargs["warmup_t"]


# ------------------------------------------------------------------ (3) bad arguments
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"decay_rate": 1.0}, ValueError, r"`decay_rate` must be in \(0, 1\), got 1.0"),
        ({"decay_rate": 0}, ValueError, r"`decay_rate` must be in \(0, 1\), got 0"),
        ({"decay_rate": "x"}, TypeError, r"`decay_rate`"),
        ({"patience_t": -1}, ValueError, r"`patience_t` must be >= 0, got -1"),
        ({"cooldown_t": 1.5}, TypeError, r"`cooldown_t` must be an int, got 1.5"),
        ({"warmup_t": -2}, ValueError, r"`warmup_t` must be >= 0, got -2"),
        ({"warmup_lr_init": -0.1}, ValueError, r"`warmup_lr_init` must be >= 0, got -0.1"),
        ({"lr_min": -1.0}, ValueError, r"`lr_min` must be >= 0, got -1.0"),
        ({"lr_min": [0.1, 0.2]}, TypeError, r"`lr_min`"),
        ({"threshold": -0.1}, ValueError, r"`threshold` must be >= 0, got -0.1"),
        ({"mode": "maximum"}, ValueError, r"`mode` must be one of .*'maximum'"),
        ({"noise_range_t": (1, 2, 3)}, ValueError, r"`noise_range_t` must be an int or a \(start, stop\) pair"),
        ({"noise_range_t": -1}, ValueError, r"`noise_range_t` must be >= 0, got -1"),
        ({"noise_type": "gauss"}, ValueError, r"`noise_type` must be one of .*'gauss'"),
        ({"noise_range_t": 2, "noise_pct": 0.0}, ValueError, r"`noise_pct` must be > 0 for normal noise"),
        ({"noise_std": -1.0}, ValueError, r"`noise_std` must be >= 0, got -1.0"),
        ({"noise_seed": -3}, ValueError, r"`noise_seed` must be >= 0, got -3"),
        ({"verbose": "yes"}, TypeError, r"`verbose` must be a bool"),
        ({"strict": 1}, TypeError, r"`strict` must be a bool"),
        ({"t_in_epochs": False}, TypeError, r"unexpected keyword argument 't_in_epochs'"),
        ({"patience": 3}, TypeError, r"did you mean 'patience_t'"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        lt.PlateauLRScheduler("val_acc", **kwargs)


def test_a_monitor_is_required_and_the_optimizer_is_not_passed() -> None:
    with pytest.raises(TypeError, match=r"`monitor` must be a non-empty str, got ''"):
        lt.PlateauLRScheduler("")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match="takes the optimizer from the trainer"):
        lt.PlateauLRScheduler(optimizer)  # type: ignore[arg-type]


def test_a_missing_metric_is_an_error_naming_the_monitor() -> None:
    with pytest.raises(KeyError, match=r"monitor 'val_loss' is not among the logged metrics \['val_acc'\]"):
        fit_rows(Scripted(), [lt.PlateauLRScheduler("val_loss")], max_epochs=2)
