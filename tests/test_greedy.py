"""transformers' GreedyLR (``get_scheduler("greedy")``): the state machine and the callback, against transformers."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import Crash, Probe, ScriptedModule, group_values, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from transformers import optimization as hf

import lightning_schedulers as ls
from lightning_schedulers.callbacks.greedy import GreedyLR
from lightning_schedulers.greedy import GreedyState

LRS = [0.1, 0.05, 0.3]


def hf_lrs(metrics: list[float], lrs: list[float], **kwargs: Any) -> np.ndarray:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)])
    sched = hf.GreedyLR(opt, **kwargs)
    rows = []
    for m in metrics:
        sched.step(m)
        rows.append([g["lr"] for g in opt.param_groups])
    return np.array(rows)


def state_lrs(metrics: list[float], lrs: list[float], **kwargs: Any) -> np.ndarray:
    state = GreedyState(**kwargs)
    state.start(lrs)
    rows = []
    for m in metrics:
        state.step(m)
        rows.append(list(state.lrs))
    return np.array(rows)


def walk(seed: int, n: int = 300, trend: float = 0.0) -> list[float]:
    rng = np.random.default_rng(seed)
    values = np.cumsum(rng.normal(trend, 1, n)) + 500
    out = values.tolist()
    for i in range(0, n, 23):
        out[i : i + 4] = [out[i]] * 4  # flat stretches: plateaus
    return out


GRID = list(
    itertools.product(
        ["min", "max"],
        [("abs", 1e-6), ("rel", 1e-3)],
        [0, 2],  # patience
        [0, 2],  # cooldown
        [0, 1],  # warmup
        [1e-3, [0.01, 0.02, 0.05]],  # min_lr
        [1.0, [0.2, 0.1, 0.5]],  # max_lr
        [(False, 50), (True, 3)],  # smooth, window_size
        [500, 2],  # reset_start
    )
)


@pytest.mark.parametrize("seed", [1, 2])
def test_state_equals_transformers_over_the_grid(seed: int) -> None:
    metrics = walk(seed)
    changed = resets = 0
    for mode, (threshold_mode, threshold), patience, cooldown, warmup, min_lr, max_lr, smooth, reset in GRID:
        kwargs = dict(
            mode=mode,
            factor=0.7,
            threshold_mode=threshold_mode,
            threshold=threshold,
            patience=patience,
            cooldown=cooldown,
            warmup=warmup,
            min_lr=min_lr,
            max_lr=max_lr,
            smooth=smooth[0],
            window_size=smooth[1],
            reset_start=reset,
        )
        ref = hf_lrs(metrics, LRS, **kwargs)
        got = state_lrs(metrics, LRS, **kwargs)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0, err_msg=str(kwargs))
        changed += int((ref != LRS).any())
        resets += int(any((ref[i] == LRS).all() and (ref[i - 1] != LRS).any() for i in range(1, len(ref))))
    assert changed == len(GRID)
    assert resets > 0  # the reset after reset_start reductions at min_lr is exercised


def test_state_checkpoint_round_trip_continues_identically() -> None:
    metrics = walk(3, n=120)
    kwargs = dict(factor=0.5, patience=1, smooth=True, window_size=4, min_lr=0.01, reset_start=3, cooldown=1)
    ref = state_lrs(metrics, LRS, **kwargs)
    state = GreedyState(**kwargs)  # type: ignore[arg-type]
    state.start(LRS)
    for m in metrics[:60]:
        state.step(m)
    resumed = GreedyState(**kwargs)  # type: ignore[arg-type]
    resumed.load_state_dict(state.state_dict())
    rows = []
    for m in metrics[60:]:
        resumed.step(m)
        rows.append(list(resumed.lrs))
    np.testing.assert_array_equal(np.array(rows), ref[60:])


def test_nan_and_inf_never_become_best() -> None:
    state = GreedyState(patience=100)
    state.start([0.1])
    for v in (1.0, math.nan, -math.inf, 0.5):
        state.step(v)
    assert state.best == 0.5


def test_hand_written_loop_equals_transformers() -> None:
    metrics = walk(7, n=80)
    kwargs: dict[str, Any] = dict(GREEDY_LOOP)
    ref = hf_lrs(metrics, LRS, **kwargs)
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in LRS]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, LRS, strict=True)])
    bound = GreedyLR("val_loss", **kwargs).bind(opt)
    rows = []
    for m in metrics:
        bound.step(metrics={"val_loss": m})
        rows.append([g["lr"] for g in opt.param_groups])
    np.testing.assert_allclose(np.array(rows), ref, rtol=1e-12, atol=0)
    assert (ref != LRS).any()


GREEDY_LOOP = dict(factor=0.6, patience=1, min_lr=0.01, max_lr=0.5, reset_start=3)


# ------------------------------------------------------------------ inside Trainer.fit
class HFGreedyModule(ScriptedModule):
    """Lightning's own path: transformers' GreedyLR returned from configure_optimizers with a monitor."""

    def __init__(self, greedy: dict[str, Any], config: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.greedy, self.config = greedy, config

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        scheduler = hf.get_scheduler("greedy", optimizer, scheduler_specific_kwargs=self.greedy)
        config = {"scheduler": scheduler, "monitor": "val_loss", "reduce_on_plateau": True, **self.config}
        return {"optimizer": optimizer, "lr_scheduler": config}

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        scheduler.step(metric)


GREEDY = dict(factor=0.5, patience=1, cooldown=1, warmup=1, min_lr=[0.001, 0.01, 0.05], max_lr=[1.0, 0.2, 2.0])


def fit_lrs(callbacks: list[Any], module: Any, epochs: int) -> np.ndarray:
    probe = Probe(group_values())
    make_trainer([*callbacks, probe], max_epochs=epochs).fit(module)
    return np.array([values for _, _, values in probe.rows])


@pytest.mark.parametrize(
    ("ours", "lightning"),
    [({}, {}), ({"interval": "epoch"}, {}), ({"interval": "epoch", "frequency": 2}, {"frequency": 2})],
)
def test_fit_equals_lightnings_path_with_transformers_scheduler(
    ours: dict[str, Any], lightning: dict[str, Any]
) -> None:
    script = walk(5, n=30, trend=-0.3)
    common = dict(per_validation=16, groups=3, lr=LRS)  # one validation at each epoch's end (16 batches)
    ref = fit_lrs([], HFGreedyModule(dict(GREEDY), lightning, script=script, **common), epochs=30)
    cb = ls.get_scheduler("greedy", scheduler_specific_kwargs={"monitor": "val_loss", **GREEDY, **ours})
    assert isinstance(cb, GreedyLR)
    got = fit_lrs([cb], ScriptedModule(script, **common), epochs=30)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    assert (ref > LRS).any() and ((ref < LRS).any() or bool(lightning))  # raised and lowered


def test_fit_with_step_interval_equals_lightnings_path() -> None:
    script = walk(6, n=300, trend=-0.2)

    class Logged(ScriptedModule):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.log("train_metric", torch.tensor(script[self.global_step], dtype=torch.float64))
            return super().training_step(batch, batch_idx)

    class HFLogged(HFGreedyModule):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.log("train_metric", torch.tensor(script[self.global_step], dtype=torch.float64))
            return super().training_step(batch, batch_idx)

    common = dict(per_validation=16, groups=3, lr=LRS)
    config = {"interval": "step", "frequency": 3, "monitor": "train_metric"}
    module = HFLogged(dict(GREEDY), config, script=script, **common)
    ref = fit_lrs([], module, epochs=4)
    cb = GreedyLR("train_metric", **GREEDY, interval="step", frequency=3)  # type: ignore[arg-type]
    got = fit_lrs([cb], Logged(script, **common), epochs=4)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    assert (ref != LRS).any()


def test_resume_across_an_increase_makes_the_same_decisions(tmp_path: Path) -> None:
    script = [5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]

    def make_cb() -> GreedyLR:
        return GreedyLR("val_loss", factor=0.5, patience=1, cooldown=1, min_lr=0.01, smooth=True, window_size=2)

    def lrs() -> Probe:
        return Probe(group_values())

    full = lrs()
    make_trainer([make_cb(), full], max_epochs=6, val_check_interval=0.5).fit(ScriptedModule(script, per_validation=8))
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=28, save_top_k=-1)
    first = make_cb()
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer([first, ckpt, Crash(28)], max_epochs=6, val_check_interval=0.5, enable_checkpointing=True).fit(
            ScriptedModule(script, per_validation=8)
        )
    path = next(tmp_path.glob("*.ckpt"))
    state = torch.load(path, weights_only=True)["callbacks"][first.state_key]
    assert state["extra"]["multipliers"][0] > 1  # raised before the checkpoint
    resumed = lrs()
    make_trainer([make_cb(), resumed], max_epochs=6, val_check_interval=0.5).fit(
        ScriptedModule(script, per_validation=8), ckpt_path=path
    )
    assert resumed.rows == [row for row in full.rows if row[0] >= 28]
    assert len({tuple(values) for _, _, values in full.rows}) > 2


# ------------------------------------------------------------------ construction
def test_get_scheduler_greedy_needs_a_monitor_and_no_steps() -> None:
    with pytest.raises(ValueError, match="monitor"):
        ls.get_scheduler("greedy")
    with pytest.raises(ValueError, match="warmup_steps"):
        ls.get_scheduler("greedy", warmup_steps=3, scheduler_specific_kwargs={"monitor": "val_loss"})
    with pytest.raises(TypeError, match="nope"):
        ls.get_scheduler("greedy", scheduler_specific_kwargs={"monitor": "val_loss", "nope": 1})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"factor": 1.0}, ValueError, "`factor`"),
        ({"warmup": -1}, ValueError, "`warmup`"),
        ({"max_lr": "x"}, TypeError, "`max_lr`"),
        ({"max_lr": [0.1, math.nan]}, ValueError, r"`max_lr\[1\]`"),
        ({"window_size": 0}, ValueError, "`window_size`"),
        ({"reset_start": 1.5}, TypeError, "`reset_start`"),
        ({"smooth": 1}, TypeError, "`smooth`"),
        ({"mode": "up"}, ValueError, "`mode`"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        GreedyLR("val_loss", **kwargs)


def test_settings_readable_as_on_transformers() -> None:
    cb = GreedyLR("val_loss", patience=3, cooldown=2, warmup=1, threshold=0.1, mode="max", max_lr=[1.0, 2.0])
    assert (cb.patience, cb.cooldown, cb.warmup, cb.threshold, cb.mode) == (3, 2, 1, 0.1, "max")
    assert cb.max_lr == (1.0, 2.0) and cb.min_lr == 1e-3 and cb.threshold_mode == "abs"
    assert "GreedyLR(monitor='val_loss'" in repr(cb)


def test_the_state_machine_imports_without_torch_or_lightning() -> None:
    code = (
        "import sys, lightning_schedulers.greedy\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning', 'pytorch_lightning')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
