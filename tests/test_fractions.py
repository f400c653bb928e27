"""Durations given as a fraction of training, resolved when the fit (or simulate) knows its length."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import Crash, Probe, TinyModule, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint

import lightning_schedulers as ls
from lightning_schedulers import presets
from lightning_schedulers.durations import TrainingFraction
from lightning_schedulers.schedules import Cosine, Join, Linear, MultiStep, Phase, PiecewiseLinear, linspace


def test_fraction_resolves_to_the_nearest_event_and_at_least_one() -> None:
    assert ls.fraction(0.05).resolve(1000) == 50
    assert ls.fraction(0.001).resolve(10) == 1
    assert ls.fraction(1.0).resolve(37) == 37
    with pytest.raises(ValueError, match=r"`value` must be in \(0, 1\], got 1.5"):
        ls.fraction(1.5)
    with pytest.raises(ValueError, match=r"`fraction` must be in \(0, 1\], got 0"):
        TrainingFraction(0)


def test_pure_schedules_hold_fractions_until_resolved() -> None:
    s = Join((Linear(0.0, 1.0, 0.1), Cosine(1.0, 0.0, ls.fraction(0.9))), boundaries=(0.1,))
    assert not s.is_resolved
    with pytest.raises(ValueError, match=r"is a fraction of training and has no value until"):
        s.value(3)
    resolved = s.resolve(200)
    assert resolved == Join((Linear(0.0, 1.0, 20), Cosine(1.0, 0.0, 180)), boundaries=(20,))
    assert resolved.is_resolved and resolved.resolve(999) is resolved
    assert MultiStep(1.0, 0.5, (0.25, 0.5)).resolve(8).milestones == (2, 4)
    assert PiecewiseLinear([(0, 0.0), (0.5, 1.0)]).resolve(10).value(5) == 1.0
    phase = Phase(lr=linspace(0.0, 1.0, ls.fraction(0.5)))
    assert phase.steps == ls.fraction(0.5)


def test_presets_defer_until_the_length_is_known() -> None:
    deferred = presets.warmup_cosine(1.0, total_steps=1.0, warmup_steps=0.1, floor=0.01)
    assert not deferred.is_resolved
    assert deferred.resolve(100) == presets.warmup_cosine(1.0, total_steps=100, warmup_steps=10, floor=0.01)
    wsd = presets.warmup_stable_decay(1.0, 1.0, 0.05, 0.2, decay="1-sqrt")
    assert wsd.resolve(400) == presets.warmup_stable_decay(1.0, 400, 20, 80, decay="1-sqrt")


PAIRS: list[tuple[str, Any, Any]] = [
    ("StepLR", lambda: ls.StepLR(0.1, interval="step"), lambda: ls.StepLR(20, interval="step")),
    ("MultiStepLR", lambda: ls.MultiStepLR([0.25, 0.5]), lambda: ls.MultiStepLR([50, 100])),
    ("LinearLR", lambda: ls.LinearLR(0.1, total_iters=0.2), lambda: ls.LinearLR(0.1, total_iters=40)),
    ("CosineAnnealingLR", lambda: ls.CosineAnnealingLR(T_max=1.0), lambda: ls.CosineAnnealingLR(T_max=200)),
    (
        "WarmRestarts",
        lambda: ls.CosineAnnealingWarmRestarts(T_0=0.1, T_mult=2),
        lambda: ls.CosineAnnealingWarmRestarts(20, 2),
    ),
    (
        "CyclicLR",
        lambda: ls.CyclicLR(0.01, 0.1, 0.1, cycle_momentum=False),
        lambda: ls.CyclicLR(0.01, 0.1, 20, cycle_momentum=False),
    ),
    ("OneCycleLR", lambda: ls.OneCycleLR(1.0, total_steps=0.5), lambda: ls.OneCycleLR(1.0, total_steps=100)),
    (
        "SequentialLR",
        lambda: ls.SequentialLR([ls.LinearLR(0.1, total_iters=0.05), ls.CosineAnnealingLR(0.95)], milestones=[0.05]),
        lambda: ls.SequentialLR([ls.LinearLR(0.1, total_iters=10), ls.CosineAnnealingLR(190)], milestones=[10]),
    ),
    (
        "CosineAnnealingScheduler",
        lambda: ls.CosineAnnealingScheduler("lr", 1.0, 0.0, cycle_size=0.25, warmup_duration=0.05),
        lambda: ls.CosineAnnealingScheduler("lr", 1.0, 0.0, cycle_size=50, warmup_duration=10),
    ),
    (
        "PiecewiseLinear",
        lambda: ls.PiecewiseLinear("lr", [(0, 0.0), (0.5, 1.0)]),
        lambda: ls.PiecewiseLinear("lr", [(0, 0.0), (100, 1.0)]),
    ),
    (
        "ConcatScheduler",
        lambda: ls.ConcatScheduler([ls.PiecewiseLinear("lr", [(0, 0.0), (0.1, 1.0)]), ls.StepLR(0.1)], [0.1]),
        lambda: ls.ConcatScheduler([ls.PiecewiseLinear("lr", [(0, 0.0), (20, 1.0)]), ls.StepLR(20)], [20]),
    ),
    (
        "warmup helper",
        lambda: ls.create_lr_scheduler_with_warmup(ls.CosineAnnealingLR(0.5), 0.0, 0.1),
        lambda: ls.create_lr_scheduler_with_warmup(ls.CosineAnnealingLR(100), 0.0, 20),
    ),
    (
        "StepStateScheduler",
        lambda: ls.StepStateScheduler(1.0, 0.5, 0.1, "x"),
        lambda: ls.StepStateScheduler(1.0, 0.5, 20, "x"),
    ),
    (
        "ExponentialDecayLR",
        lambda: ls.ExponentialDecayLR(decay_steps=0.1, transition_begin=0.25),
        lambda: ls.ExponentialDecayLR(decay_steps=20, transition_begin=50),
    ),
    (
        "OptimizerPolicy",
        lambda: ls.OptimizerPolicy(
            [ls.Phase(lr=ls.linspace(0.0, 1.0, 0.3)), ls.Phase(lr=ls.cosinespace(1.0, 0.0, 0.7))]
        ),
        lambda: ls.OptimizerPolicy(
            [ls.Phase(lr=ls.linspace(0.0, 1.0, 60)), ls.Phase(lr=ls.cosinespace(1.0, 0.0, 140))]
        ),
    ),
    ("WarmupCosineLR", lambda: ls.WarmupCosineLR(warmup_steps=0.1), lambda: ls.WarmupCosineLR(20, total_steps=200)),
    (
        "WarmupStableDecayLR",
        lambda: ls.WarmupStableDecayLR(0.05, 0.2),
        lambda: ls.WarmupStableDecayLR(10, 40, total_steps=200),
    ),
    ("InverseSqrtLR", lambda: ls.InverseSqrtLR(0.1), lambda: ls.InverseSqrtLR(20)),
    (
        "PolynomialDecayLR",
        lambda: ls.PolynomialDecayLR(warmup_steps=0.1),
        lambda: ls.PolynomialDecayLR(200, warmup_steps=20),
    ),
    ("CosineCyclesLR", lambda: ls.CosineCyclesLR(0.25, cycle_limit=3), lambda: ls.CosineCyclesLR(50, cycle_limit=3)),
    (
        "ScheduleCallback",
        lambda: ls.ScheduleCallback(presets.warmup_cosine(0.1, 1.0, 0.1)),
        lambda: ls.ScheduleCallback(presets.warmup_cosine(0.1, 200, 20)),
    ),
]


@pytest.mark.parametrize(("name", "with_fraction", "with_events"), PAIRS, ids=[p[0] for p in PAIRS])
def test_a_fraction_in_simulate_is_of_the_preview(name: str, with_fraction: Any, with_events: Any) -> None:
    np.testing.assert_array_equal(with_fraction().simulate(200, initial=0.1), with_events().simulate(200, initial=0.1))


def test_fractions_resolve_against_the_fit_and_are_checkpointed(tmp_path: Path) -> None:
    # 3 epochs of 16 batches, accumulating 2: 24 optimizer steps. 0.25 of them: 6.
    cb = ls.WarmupCosineLR(warmup_steps=0.25, min_factor=0.1)
    probe = Probe(lambda trainer, m: [float(trainer.optimizers[0].param_groups[0]["lr"])])
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=10, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer(
            [cb, probe, ckpt, Crash(10)], max_epochs=3, accumulate_grad_batches=2, enable_checkpointing=True
        ).fit(TinyModule())
    expected = ls.WarmupCosineLR(6, total_steps=24, min_factor=0.1).simulate(24, initial=0.1)
    assert [v[0] for s, _, v in probe.rows] == [expected[s] for s, _, _ in probe.rows]
    state = torch.load(next(tmp_path.glob("*.ckpt")), weights_only=True)["callbacks"][cb.state_key]
    assert state["events_total"] == 24
    # Resumed into a longer fit: "continue" keeps the 24-step length, "rescale" takes the new one.
    kept, rescaled = (
        ls.WarmupCosineLR(0.25, min_factor=0.1, on_resume="continue"),
        ls.WarmupCosineLR(0.25, min_factor=0.1, on_resume="rescale"),
    )
    path = next(tmp_path.glob("*.ckpt"))
    make_trainer([kept], max_epochs=6, accumulate_grad_batches=2).fit(TinyModule(), ckpt_path=path)
    make_trainer([rescaled], max_epochs=6, accumulate_grad_batches=2).fit(TinyModule(), ckpt_path=path)
    assert (kept._total, kept.state_dict()["events_total"]) == (24, 24)
    assert (rescaled._total, rescaled.state_dict()["events_total"]) == (48, 48)


def test_epoch_interval_fractions_are_of_max_epochs() -> None:
    cb = ls.CosineAnnealingLR(T_max=0.5, save_history=True)  # 0.5 of 6 epochs: 3
    make_trainer([cb], max_epochs=6).fit(TinyModule())
    expected = ls.CosineAnnealingLR(T_max=3).simulate(6, initial=0.1)  # one row per epoch that trained
    assert [h["lr-SGD"] for h in cb.history] == expected.tolist()


def test_unknown_fit_length_is_a_clear_error() -> None:
    class Stream(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            for _ in range(8):
                yield torch.zeros(4), torch.zeros(1)

    class StreamModule(TinyModule):
        def train_dataloader(self) -> Any:
            return torch.utils.data.DataLoader(Stream(), batch_size=2)

    with pytest.raises(ValueError, match=r"StepLR: the total number of optimizer steps is unknown .*max_steps=-1"):
        make_trainer([ls.StepLR(0.1, interval="step")], max_epochs=1).fit(StreamModule())
    make_trainer([ls.StepLR(2, interval="step")], max_epochs=1).fit(StreamModule())  # no fraction: fine


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: ls.StepLR(1.5),
            r"`step_size` must be an int number of events or a fraction of training in \(0, 1\], got 1.5",
        ),
        (lambda: ls.StepLR(0.0), r"`step_size` must be an int number of events or a fraction"),
        (lambda: ls.WarmupCosineLR(float("nan")), r"`warmup_steps` must be an int number of events or a fraction"),
        (lambda: ls.SequentialLR([ls.StepLR(2), ls.StepLR(3)], milestones=[2.0]), r"`milestones\[0\]` must be an int"),
    ],
)
def test_bad_durations(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_fractions_out_of_order_fail_when_resolved() -> None:
    cb = ls.SequentialLR([ls.StepLR(2), ls.StepLR(3), ls.StepLR(4)], milestones=[0.5, 0.25])
    with pytest.raises(ValueError, match=r"`milestones` must be strictly increasing"):
        cb.simulate(100)


def test_a_fraction_of_a_fit_bounded_by_time_only_says_what_to_set() -> None:
    with pytest.raises(ValueError, match=r"number of epochs is unknown \(max_epochs=-1: .*max_time.*set max_epochs"):
        make_trainer([ls.CosineAnnealingLR(T_max=1.0)], max_epochs=None, max_time="00:00:00:05").fit(TinyModule())


def test_a_fraction_follows_a_gradient_accumulation_schedule() -> None:
    # Accumulation 4, 4, 2, 1 over four epochs of 16 batches: 4 + 4 + 8 + 16 = 32 optimizer steps;
    # estimated_stepping_batches says 64 (the accumulation the fit starts with).
    from lightning.pytorch.callbacks import GradientAccumulationScheduler

    cb = ls.CosineAnnealingLR(T_max=1.0, interval="step")
    probe = Probe(lambda trainer, module: [float(trainer.optimizers[0].param_groups[0]["lr"])])
    accumulation = GradientAccumulationScheduler({0: 4, 2: 2, 3: 1})
    make_trainer([accumulation, cb, probe], max_epochs=4).fit(TinyModule())
    assert cb.state_dict()["events_total"] == 32
    steps = sorted({step for step, _, _ in probe.rows})
    assert steps == list(range(32))
    for step, _, (lr,) in probe.rows:
        assert lr == pytest.approx(0.1 * (1 + math.cos(math.pi * step / 32)) / 2, rel=1e-12, abs=1e-15)
    capped = ls.CosineAnnealingLR(T_max=1.0, interval="step")
    make_trainer([GradientAccumulationScheduler({0: 4, 2: 2, 3: 1}), capped], max_epochs=4, max_steps=20).fit(
        TinyModule()
    )
    assert capped.state_dict()["events_total"] == 20
