"""Cooldown: a decay branched off any callback's values, exact against its closed form, on a branch and on resume.

The closed form is written here: with ``v`` the value the base applied at ``start`` and
``x = min((t - start) / length, 1)``, the value at ``t >= start`` is ``v * (to + (1 - to) * f(x))``,
``f`` = ``1 - x``, ``(1 + cos(pi x)) / 2``, ``1 - sqrt(x)`` or ``1 - x**2``. A probe reads the lr
the optimizer holds at every batch of real fits.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from _helpers import Probe, ScriptedModule, TinyModule, assert_parity, group_values, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

import lightning_schedulers as ls
from lightning_schedulers.callbacks.cooldown import Cooldown
from lightning_schedulers.schedules import Constant, Linear, sequence
from lightning_schedulers.schedules.cooldown import Cooldown as CooledSchedule

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

from cli import Regression, Synthetic  # noqa: E402

SHAPES = ("linear", "cosine", "1-sqrt", "square")
PEAK = 0.1  # the stable lr; TinyModule: 16 batches (steps) an epoch
K = 20  # where branches start (mid-epoch)


def f(shape: str, x: float) -> float:
    return {
        "linear": 1.0 - x,
        "cosine": (1.0 + math.cos(math.pi * x)) / 2.0,
        "1-sqrt": 1.0 - math.sqrt(x),
        "square": 1.0 - x**2,
    }[shape]


def cooled(v: float, t: int, start: int, length: int, shape: str, to: float) -> float:
    """The closed form at ``t >= start``."""
    x = min((t - start) / length, 1.0)
    return v * (to + (1.0 - to) * f(shape, x))


def stable_value(t: int) -> float:
    """The stable run: a 4-step linear warmup to PEAK, then PEAK."""
    return PEAK * t / 4 if t < 4 else PEAK


def stable() -> ls.ScheduleCallback:
    return ls.ScheduleCallback(sequence([Linear(0.0, PEAK, 4), Constant(PEAK)], [4]))


def lrs(probe: Probe) -> dict[int, float]:
    """The lr each step trained with (the last batch of a step counts, as for accumulation)."""
    return {step: values[0] for step, _, values in probe.rows}


def fit(callbacks: list[Any], steps: int, ckpt: str | Path | None = None, **kwargs: Any) -> dict[int, float]:
    probe = Probe(group_values())
    module = kwargs.pop("module", None) or TinyModule()
    make_trainer([*callbacks, probe], max_steps=steps, max_epochs=-1, **kwargs).fit(module, ckpt_path=ckpt)
    return lrs(probe)


@pytest.fixture(scope="module")
def stable_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stable run of 40 steps, checkpointed at step K (mid-epoch) by the base alone."""
    folder = tmp_path_factory.mktemp("stable")
    checkpoint = ModelCheckpoint(dirpath=folder, every_n_train_steps=K, save_top_k=-1)
    fit([stable(), checkpoint], 40, enable_checkpointing=True)
    return next(folder.glob(f"*step={K}.ckpt"))


# ------------------------------------------------------------------ the pure layer
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("to", [0.0, 0.1, 1.0])
def test_the_pure_cooldown_is_the_closed_form(shape: str, to: float) -> None:
    inner = Linear(0.0, 2.0, 10)  # still rising at start: v is its value there
    s = CooledSchedule(inner, start=7, length=9, shape=shape, to=to)  # type: ignore[arg-type]
    ts = np.arange(30)
    values = s.values(ts)
    assert values[:7].tolist() == inner.values(ts[:7]).tolist()  # before start: unchanged, bit for bit
    v = inner.value(7)
    assert values[7] == v  # the factor is exactly 1 at start
    assert_parity(values[7:17], [cooled(v, t, 7, 9, shape, to) for t in range(7, 17)])
    assert values[16:].tolist() == [to * v] * 14  # from the end on, exactly to * v
    assert [s.value(int(t)) for t in ts] == values.tolist()  # one formula: value(t) is values' element


def test_near_the_end_of_a_cooldown_to_zero_the_value_keeps_its_relative_precision() -> None:
    # 1 - x**2 and 1 - sqrt(x) cancel near x = 1; the exact values at x = 1 - 1/L are known.
    length = 10**6
    t = length - 1
    x = t / length
    exact = {"linear": 1e-6, "square": (1 - x) * (1 + x), "1-sqrt": (1 - x) / (1 + math.sqrt(x))}
    for shape, value in exact.items():
        got = CooledSchedule(Constant(1.0), 0, length, shape).value(t)  # type: ignore[arg-type]
        assert got == pytest.approx(value, rel=1e-15)
    got = CooledSchedule(Constant(1.0), 0, length, "cosine").value(t)
    assert got == pytest.approx(math.sin(math.pi / (2 * length)) ** 2, rel=1e-14)


def test_fractions_and_length_none_resolve_against_the_fit() -> None:
    s = CooledSchedule(Constant(1.0), start=ls.fraction(0.5))
    assert not s.is_resolved
    with pytest.raises(ValueError, match="resolve"):
        s.value(3)
    resolved = s.resolve(20)
    assert (resolved.start, resolved.length) == (10, 10)  # type: ignore[attr-defined]
    assert resolved.value(15) == 0.5


# ------------------------------------------------------------------ real fits against the closed form
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_in_a_fit_is_the_closed_form_and_equals_simulate(shape: str) -> None:
    callback = Cooldown(stable(), start=12, length=10, shape=shape, to=0.1)  # type: ignore[arg-type]
    got = fit([callback], 26)
    assert sorted(got) == list(range(26))
    expected = [stable_value(t) if t < 12 else cooled(PEAK, t, 12, 10, shape, 0.1) for t in range(26)]
    assert_parity([got[t] for t in range(26)], expected)
    assert [got[t] for t in range(26)] == callback.simulate(26).tolist()  # what the preview shows, bit for bit


def test_fraction_start_and_length_to_the_end_of_the_fit() -> None:
    callback = Cooldown(stable(), start=0.5, shape="square")
    got = fit([callback], 32)
    expected = [stable_value(t) if t < 16 else cooled(PEAK, t, 16, 16, "square", 0.0) for t in range(32)]
    assert_parity([got[t] for t in range(32)], expected)
    assert got[31] > 0.0  # the last step trains just before the end
    plan = ls.preview([callback], {"max_steps": 32, "batches_per_epoch": 16})
    assert plan.values["Cooldown:lr-optimizer0"].tolist() == [got[t] for t in range(32)]


def test_an_epoch_interval_base_cools_down_by_epochs() -> None:
    base = ls.StepLR(step_size=1, gamma=0.5)  # epochs; each group's initial lr 0.1
    callback = Cooldown(base, start=2, length=2, shape="linear", to=0.0)
    assert callback.interval == "epoch"
    got = fit([callback], 80)  # 5 epochs of 16 steps
    epochs = [0.1, 0.05, 0.025, 0.0125, 0.0]  # v = 0.025 at epoch 2, half of it at epoch 3, 0 from epoch 4
    assert_parity([got[t] for t in range(80)], [epochs[t // 16] for t in range(80)])


# ------------------------------------------------------------------ branches from one checkpoint
@pytest.mark.parametrize(("shape", "length"), [("linear", 12), ("1-sqrt", None)])
def test_branches_from_one_checkpoint_equal_uninterrupted_fits_bit_for_bit(
    stable_checkpoint: Path, shape: str, length: int | None
) -> None:
    end = K + 16
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        branch = Cooldown(stable(), start="resume", length=length, shape=shape)  # type: ignore[arg-type]
        branched = fit([branch], end, ckpt=stable_checkpoint)
    assert not [w for w in caught if "configuration" in str(w.message) or "Cooldown" in str(w.message)]
    straight = fit([Cooldown(stable(), start=K, length=length, shape=shape)], end)  # type: ignore[arg-type]
    assert sorted(branched) == list(range(K, end))
    assert branched == {t: v for t, v in straight.items() if t >= K}  # bit for bit
    steps = 16 if length is None else length
    assert_parity([branched[t] for t in range(K, end)], [cooled(PEAK, t, K, steps, shape, 0.0) for t in range(K, end)])
    # the preview of the branch, given the step it resumes at
    assert branch.simulate(end, resume_at=K)[K:].tolist() == [branched[t] for t in range(K, end)]
    record = branch.state_dict()
    assert record["extra"]["cooldown"]["start"] == K and record["extra"]["cooldown"]["length"] == steps


def test_a_branch_of_a_base_planned_for_the_fit_equals_the_uninterrupted_fit(tmp_path: Path) -> None:
    # A WSD whose decay is a fraction of the fit: the stable run is planned for 100 steps, the branch
    # ends at 40. The base is planned again for the branch's length (on_resume="replan"), and the
    # cooldown replaces it from the resume: the same values as one fit of 40 steps with start=K.
    def wsd() -> ls.WarmupStableDecayLR:
        return ls.WarmupStableDecayLR(warmup_steps=4, decay_steps=ls.fraction(0.2))

    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=K, save_top_k=-1)
    fit([wsd(), checkpoint], 100, enable_checkpointing=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        branched = fit([Cooldown(wsd(), start="resume")], 40, ckpt=next(tmp_path.glob(f"*step={K}.ckpt")))
    assert not [w for w in caught if "WarmupStableDecayLR" in str(w.message) or "Cooldown" in str(w.message)]
    straight = fit([Cooldown(wsd(), start=K)], 40)
    assert branched == {t: v for t, v in straight.items() if t >= K}  # bit for bit
    assert_parity([branched[t] for t in range(K, 40)], [cooled(0.1, t, K, 40 - K, "linear", 0.0) for t in range(K, 40)])


def test_the_cooldown_takes_the_base_state_key_and_the_base_checkpoint(stable_checkpoint: Path) -> None:
    base = stable()
    assert Cooldown(base, start="resume").state_key == base.state_key
    saved = torch.load(stable_checkpoint, weights_only=True)["callbacks"]
    assert base.state_key in saved  # written by the base alone, read by the cooldown


def test_a_resume_in_the_middle_of_a_cooldown_is_exact(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=26, save_top_k=-1)
    full = fit([Cooldown(stable(), start=K, length=12, shape="cosine"), checkpoint], 36, enable_checkpointing=True)
    path = next(tmp_path.glob("*step=26.ckpt"))
    resumed = fit([Cooldown(stable(), start=K, length=12, shape="cosine")], 36, ckpt=path)
    assert resumed == {t: v for t, v in full.items() if t >= 26}


def test_start_resume_resumed_again_continues_the_same_branch(stable_checkpoint: Path, tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=28, save_top_k=-1)
    branch = fit(
        [Cooldown(stable(), start="resume", shape="cosine"), checkpoint],
        K + 16,
        ckpt=stable_checkpoint,
        enable_checkpointing=True,
    )
    path = next(tmp_path.glob("*step=28.ckpt"))
    assert torch.load(path, weights_only=True)["callbacks"][stable().state_key]["extra"]["cooldown"]["start"] == K
    # resumed at 28 into a longer fit: the branch from K goes on with the length it was resolved to
    again = fit([Cooldown(stable(), start="resume", shape="cosine")], K + 24, ckpt=path)
    assert {t: v for t, v in again.items() if t < K + 16} == {t: v for t, v in branch.items() if t >= 28}
    assert [again[t] for t in range(K + 16, K + 24)] == [0.0] * 8


# ------------------------------------------------------------------ a plateau base
def plateau(min_lr: float = 0.0) -> ls.ReduceLROnPlateau:
    return ls.ReduceLROnPlateau(
        "val_loss", factor=0.5, patience=0, min_lr=min_lr, base=ls.ScheduleCallback(Constant(PEAK))
    )


WORSE = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # one validation an epoch (16 steps), worse each time from the second


@pytest.mark.parametrize("min_lr", [0.0, 0.06])
def test_a_plateau_base_is_frozen_at_start_with_its_reductions(min_lr: float) -> None:
    callback = Cooldown(plateau(min_lr), start=40, length=16, shape="linear", to=0.1)
    got = fit([callback], 64, module=ScriptedModule(WORSE, per_validation=16))
    # A reduction after the validation at step 32 (x0.5, not below min_lr); the one due at 48 is not taken.
    v = max(0.05, min_lr)
    expected = [PEAK if t < 32 else v if t < 40 else cooled(v, t, 40, 16, "linear", 0.1) for t in range(64)]
    assert_parity([got[t] for t in range(64)], expected)
    assert got[63] == pytest.approx(0.1 * v, rel=1e-12)  # below min_lr: the cooldown ends at to * v
    frozen = callback.state_dict()["extra"]["cooldown"]["frozen"]
    assert frozen == pytest.approx([v / PEAK], rel=1e-15)


def test_a_branch_of_a_plateau_run_equals_the_uninterrupted_fit(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_epochs=1, save_top_k=-1)  # after each validation
    fit([plateau(), checkpoint], 64, module=ScriptedModule(WORSE, per_validation=16), enable_checkpointing=True)
    path = next(tmp_path.glob("*step=48.ckpt"))  # after the second reduction (validation at step 48)
    module = ScriptedModule(WORSE, per_validation=16)
    branched = fit([Cooldown(plateau(), start="resume", length=16)], 64, ckpt=path, module=module)
    straight = fit([Cooldown(plateau(), start=48, length=16)], 64, module=ScriptedModule(WORSE, per_validation=16))
    assert branched == {t: v for t, v in straight.items() if t >= 48}
    assert_parity(
        [branched[t] for t in range(48, 64)], [cooled(0.025, t, 48, 16, "linear", 0.0) for t in range(48, 64)]
    )


# ------------------------------------------------------------------ LightningCLI: added on a resume
COOLDOWN_YAML = """
trainer:
  max_steps: 30
  logger: false
  enable_checkpointing: false
  enable_progress_bar: false
  enable_model_summary: false
  callbacks:
    - class_path: lightning_schedulers.callbacks.cooldown.Cooldown
      init_args:
        start: resume
        length: 6
        shape: 1-sqrt
        to: 0.1
        base:
          class_path: lightning_schedulers.ScheduleCallback
          init_args:
            schedule: {class_path: lightning_schedulers.schedules.Constant, init_args: {level: 0.05}}
"""


def test_lightning_cli_adds_a_cooldown_to_a_resumed_fit(tmp_path: Path) -> None:
    # The stable run (12 steps an epoch), checkpointed after epoch 2 by the base alone.
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_epochs=1, save_top_k=-1)
    base = ls.ScheduleCallback(Constant(0.05))
    make_trainer([base, checkpoint], max_epochs=2, enable_checkpointing=True).fit(Regression(), Synthetic())
    path = next(tmp_path.glob("epoch=1-step=24.ckpt"))
    config = tmp_path / "cooldown.yaml"
    config.write_text(COOLDOWN_YAML)
    args = ["--config", str(config), f"--trainer.default_root_dir={tmp_path}"]
    cli = LightningCLI(Regression, Synthetic, run=False, args=args, save_config_callback=None)
    (callback,) = (cb for cb in cli.trainer.callbacks if isinstance(cb, ls.SchedulerCallback))
    assert isinstance(callback, Cooldown) and isinstance(callback.base, ls.ScheduleCallback)
    assert callback.state_key == base.state_key
    probe = Probe(group_values())
    cli.trainer.callbacks.append(probe)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=path)
    got = lrs(probe)
    assert_parity([got[t] for t in range(24, 30)], [cooled(0.05, t, 24, 6, "1-sqrt", 0.1) for t in range(24, 30)])


def test_lightning_cli_flags_append_a_cooldown_with_its_base() -> None:
    args = [
        "--trainer.logger=false",
        "--trainer.callbacks+=lightning_schedulers.callbacks.cooldown.Cooldown",
        "--trainer.callbacks.base=lightning_schedulers.StepLR",
        "--trainer.callbacks.base.step_size=3",
        "--trainer.callbacks.start=resume",
        "--trainer.callbacks.shape=cosine",
    ]
    cli = LightningCLI(Regression, Synthetic, run=False, args=args, save_config_callback=None)
    (callback,) = (cb for cb in cli.trainer.callbacks if isinstance(cb, ls.SchedulerCallback))
    assert isinstance(callback, Cooldown) and callback.start == "resume" and callback.shape == "cosine"
    assert isinstance(callback.base, ls.StepLR) and callback.base.step_size == 3
    assert yaml.safe_load(yaml.safe_dump({"start": callback.start}))["start"] == "resume"


# ------------------------------------------------------------------ errors
def test_the_base_and_its_cooldown_together_are_refused_when_the_trainer_is_built() -> None:
    base = stable()
    with pytest.raises(RuntimeError, match="state_key"):
        make_trainer([base, Cooldown(base, start=5)])


BAD: list[tuple[str, Any, type[Exception]]] = [
    ("base", None, TypeError),
    ("base", "StepLR", TypeError),
    ("start", "resum", ValueError),
    ("start", -1, ValueError),
    ("start", True, TypeError),
    ("start", 1.5, ValueError),
    ("start", None, TypeError),
    ("length", 0, ValueError),
    ("length", "x", TypeError),
    ("length", 2.0, ValueError),
    ("shape", "exp", ValueError),
    ("to", 1.5, ValueError),
    ("to", -0.1, ValueError),
    ("to", math.nan, ValueError),
]


@pytest.mark.parametrize(("argument", "value", "error"), BAD)
def test_bad_arguments_are_named(argument: str, value: Any, error: type[Exception]) -> None:
    kwargs: dict[str, Any] = {"base": stable(), "start": 10, "length": 5, "shape": "linear", "to": 0.0}
    kwargs[argument] = value
    with pytest.raises(error, match=f"`?{argument}`?") as raised:
        Cooldown(**kwargs)
    assert repr(value) in str(raised.value) or str(value) in str(raised.value)


def test_a_cooldown_of_a_cooldown_is_refused() -> None:
    with pytest.raises(TypeError, match="already a Cooldown"):
        Cooldown(Cooldown(stable(), start=3), start=5)


def test_start_resume_needs_a_resumed_fit_and_a_step_to_preview() -> None:
    callback = Cooldown(stable(), start="resume")
    with pytest.raises(ValueError, match="resume_at"):
        callback.simulate(10)
    with pytest.raises(ValueError, match="resume_at"):
        ls.preview([callback], {"max_steps": 10})
    with pytest.raises(ValueError, match="`resume_at` must be >= 0"):
        callback.simulate(10, resume_at=-1)
    assert callback.labels() == ["lr-optimizer0"]
    with pytest.raises(ValueError, match="does not resume from a checkpoint; pass ckpt_path"):
        fit([callback], 4)


def test_a_hand_written_loop_applies_what_simulate_shows() -> None:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    callback = Cooldown(stable(), start=6, length=5, shape="cosine", to=0.2)
    bound = callback.bind(optimizer, total_steps=14)
    seen: list[float] = []
    for _ in range(14):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        bound.step()
    assert seen == callback.simulate(14).tolist()
    read: Callable[[int], float] = lambda t: stable_value(t) if t < 6 else cooled(PEAK, t, 6, 5, "cosine", 0.2)  # noqa: E731
    assert_parity(seen, [read(t) for t in range(14)])


def test_a_plateau_without_a_base_cools_down_by_steps_in_a_hand_written_loop() -> None:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.1)
    callback = Cooldown(ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0, min_lr=0.04), start=6, length=4)
    assert callback.interval == "step"  # the plateau alone holds a constant: the cooldown counts steps
    bound = callback.bind(optimizer, total_steps=12)
    seen: list[float] = []
    for t in range(12):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        bound.step(metrics={"val_loss": float(t)})  # worse after every step from the second
    # reductions after steps 1 and 2 (the second held at min_lr), then from step 6 the cooldown of 0.04
    # to 0: below min_lr, and no decision any more
    expected = [0.1, 0.1, 0.05, 0.04, 0.04, 0.04] + [cooled(0.04, t, 6, 4, "linear", 0.0) for t in range(6, 12)]
    assert_parity(seen, expected)
    assert bound.state_dict()["extra"]["cooldown"]["frozen"] == pytest.approx([0.4], rel=1e-15)
