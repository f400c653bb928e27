"""DeepSpeed's schedulers: the callbacks against DeepSpeed's own ``lr_schedules.py`` (the ``deepspeed`` test extra).

The reference is driven as DeepSpeed's engine drives it: built once (its constructor writes the
first step's values), then ``scheduler.step()`` after every optimizer step. ``lr_schedules.py``
is loaded from the installed DeepSpeed with a stub logger (``_references.py``), without
DeepSpeed's package import and accelerator detection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import Probe, TinyModule, assert_parity, make_trainer
from _references import deepspeed_lr_schedules

import lightning_schedulers as ls
from lightning_schedulers.families import deepspeed as lds

pytestmark = pytest.mark.numeric

LRS = [0.1, 0.4]
logging.getLogger("deepspeed-reference").setLevel(logging.ERROR)


def make_optimizer(lrs: list[float], cls: type[torch.optim.Optimizer] = torch.optim.Adam) -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return cls([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)], lr=lrs[0])


def ds_trace(make: Callable[[Any, torch.optim.Optimizer], Any], n: int, lrs: list[float] = LRS) -> np.ndarray:
    """Each step's lr (and betas) as DeepSpeed's engine leaves them: the constructor's, then one step() per step."""
    opt = make_optimizer(lrs)
    sched = make(deepspeed_lr_schedules(), opt)
    rows = []
    for _ in range(n):
        groups = opt.param_groups
        rows.append([g["lr"] for g in groups] + [g["betas"][0] for g in groups] + [g["betas"][1] for g in groups])
        sched.step()
    return np.array(rows)


def lr_columns(trace: np.ndarray, groups: int = len(LRS)) -> np.ndarray:
    return trace[:, :groups]


@pytest.mark.parametrize("warmup_type", ["log", "linear"])
@pytest.mark.parametrize("warmup", [1, 2, 7])
def test_warmup_schedules_equal_deepspeed(warmup_type: str, warmup: int) -> None:
    n = 30
    cases: list[tuple[Any, Callable[[Any, Any], Any]]] = [
        (
            lds.WarmupLR(
                warmup_min_lr=0.01, warmup_max_lr=[0.2, 0.3], warmup_num_steps=warmup, warmup_type=warmup_type
            ),
            lambda ds, o: ds.WarmupLR(o, 0.01, [0.2, 0.3], warmup, warmup_type),
        ),
        (
            lds.WarmupLR(warmup_num_steps=warmup, warmup_type=warmup_type),  # up to each group's lr
            lambda ds, o: ds.WarmupLR(o, warmup_num_steps=warmup, warmup_type=warmup_type),
        ),
        (
            lds.WarmupDecayLR(20, warmup_min_lr=[0.0, 0.01], warmup_num_steps=warmup, warmup_type=warmup_type),
            lambda ds, o: ds.WarmupDecayLR(o, 20, [0.0, 0.01], warmup_num_steps=warmup, warmup_type=warmup_type),
        ),
        (
            lds.WarmupDecayLR(5, warmup_max_lr=None, warmup_num_steps=warmup, warmup_type=warmup_type),
            lambda ds, o: ds.WarmupDecayLR(o, 5, warmup_max_lr=None, warmup_num_steps=warmup, warmup_type=warmup_type),
        ),
        (
            lds.WarmupCosineLR(24, warmup_min_ratio=0.1, warmup_num_steps=warmup, warmup_type=warmup_type),
            lambda ds, o: ds.WarmupCosineLR(o, 24, 0.1, warmup, warmup_type=warmup_type),
        ),
        (
            lds.WarmupCosineLR(3, cos_min_ratio=0.0, warmup_num_steps=warmup, warmup_type=warmup_type),
            lambda ds, o: ds.WarmupCosineLR(o, 3, warmup_num_steps=warmup, cos_min_ratio=0.0, warmup_type=warmup_type),
        ),
    ]
    for cb, make in cases:
        assert_parity(cb.simulate(n, initial=LRS), lr_columns(ds_trace(make, n)))


ONE_CYCLE_CASES: list[dict[str, Any]] = [
    {"cycle_first_step_size": 4},
    {
        "cycle_first_step_size": 4,
        "cycle_second_step_size": 6,
        "decay_step_size": 3,
        "decay_lr_rate": 0.5,
        "decay_mom_rate": 0.1,
    },
    {
        "cycle_first_step_size": 7,
        "cycle_second_step_size": 5,
        "cycle_first_stair_count": 3,
        "decay_step_size": 2,
        "decay_lr_rate": 0.2,
    },
    {
        "cycle_first_step_size": 8,
        "cycle_second_step_size": 0,
        "cycle_first_stair_count": 3,
        "cycle_second_stair_count": 2,
    },
    {
        "cycle_first_step_size": 5,
        "cycle_second_step_size": 9,
        "cycle_first_stair_count": 2,
        "cycle_second_stair_count": 4,
        "decay_step_size": 4,
        "decay_lr_rate": 1.0,
        "cycle_min_mom": [0.7, 0.75],
        "cycle_max_mom": 0.95,
    },
]


@pytest.mark.parametrize("kwargs", ONE_CYCLE_CASES)
def test_one_cycle_equals_deepspeed_lr_and_betas(kwargs: dict[str, Any]) -> None:
    n = 45
    cb = lds.OneCycle(0.01, [0.5, 1.0], **kwargs)
    trace = ds_trace(lambda ds, o: ds.OneCycle(o, 0.01, [0.5, 1.0], **kwargs), n)
    assert_parity(cb.simulate(n, initial=LRS), trace)  # lr, betas[0], betas[1] (0.99) of each group
    assert (trace[:, 4:] == 0.99).all()
    lr_only = lds.OneCycle(0.01, [0.5, 1.0], cycle_momentum=False, **kwargs)
    assert_parity(lr_only.simulate(n, initial=LRS), lr_columns(trace))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lr_range_test_step_size": 3, "lr_range_test_step_rate": 0.5, "lr_range_test_staircase": True},
        {"lr_range_test_step_size": 7, "lr_range_test_step_rate": 2.0},
    ],
)
def test_lr_range_test_equals_deepspeed(kwargs: dict[str, Any]) -> None:
    cb = lds.LRRangeTest([0.01, 0.02], **kwargs)
    trace = ds_trace(lambda ds, o: ds.LRRangeTest(o, [0.01, 0.02], **kwargs), 40)
    assert_parity(cb.simulate(40, initial=LRS), lr_columns(trace))


def test_the_first_steps_train_with_what_the_engine_leaves() -> None:
    # log warmup: steps 0 and 1 at the floor; WarmupCosineLR: step 0 at lr 0; OneCycle: momentum min then ~max.
    assert lds.WarmupLR(warmup_min_lr=0.1, warmup_max_lr=1.0, warmup_num_steps=10).simulate(2).tolist() == [0.1, 0.1]
    assert lds.WarmupCosineLR(100, warmup_min_ratio=0.5).simulate(2, initial=1.0).tolist() == [0.0, 0.5]
    momentum = lds.OneCycle(0.1, 1.0, cycle_first_step_size=10).simulate(2)[:, 1].tolist()
    assert (
        momentum == ds_trace(lambda ds, o: ds.OneCycle(o, 0.1, 1.0, cycle_first_step_size=10), 2, [0.1])[:, 1].tolist()
    )


def test_fit_applies_what_simulate_shows_and_deepspeed_computes() -> None:
    cb = lds.OneCycle(
        [0.01, 0.02],
        0.5,
        cycle_first_step_size=6,
        cycle_second_step_size=10,
        decay_step_size=2,
        decay_lr_rate=0.3,
        decay_mom_rate=0.01,
    )

    def read(trainer: Any, module: Any) -> list[float]:
        groups = trainer.optimizers[0].param_groups
        return [g["lr"] for g in groups] + [g["betas"][0] for g in groups] + [g["betas"][1] for g in groups]

    probe = Probe(read)
    make_trainer([cb, probe], max_epochs=2).fit(TinyModule(optimizer="Adam", groups=2, lr=LRS))
    expected = cb.simulate(32, initial=LRS)
    reference = ds_trace(
        lambda ds, o: ds.OneCycle(
            o,
            [0.01, 0.02],
            0.5,
            cycle_first_step_size=6,
            cycle_second_step_size=10,
            decay_step_size=2,
            decay_lr_rate=0.3,
            decay_mom_rate=0.01,
        ),
        32,
    )
    assert [step for step, _, _ in probe.rows] == list(range(32))
    for step, _, values in probe.rows:
        assert values == expected[step].tolist()
        assert_parity(values, reference[step])
    # The training length from the fit: WarmupCosineLR(total_num_steps=None) over the 32 steps.
    cosine = lds.WarmupCosineLR(warmup_num_steps=5, warmup_type="linear")
    probe = Probe(lambda trainer, module: [g["lr"] for g in trainer.optimizers[0].param_groups])
    make_trainer([cosine, probe], max_epochs=2).fit(TinyModule(groups=2, lr=LRS))
    reference = ds_trace(lambda ds, o: ds.WarmupCosineLR(o, 32, warmup_num_steps=5, warmup_type="linear"), 32)
    for step, _, values in probe.rows:
        assert_parity(values, reference[step, :2])


def test_one_cycle_needs_betas_to_cycle_momentum() -> None:
    cb = lds.OneCycle(0.01, 0.1, cycle_first_step_size=4)
    with pytest.raises(ValueError, match=r"cycles `betas`, which SGD does not have .*pass cycle_momentum=False"):
        make_trainer([cb], max_steps=2).fit(TinyModule(optimizer="SGD", optimizer_kwargs={"momentum": 0.9}))


def test_deepspeeds_warmup_cosine_is_not_the_packages() -> None:
    assert lds.WarmupCosineLR is not ls.WarmupCosineLR


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "match"),
    [
        (lds.WarmupLR, {"warmup_num_steps": 0}, ValueError, r"`warmup_num_steps` must be a positive integer, got 0"),
        (
            lds.WarmupLR,
            {"warmup_num_steps": 2.5},
            ValueError,
            r"`warmup_num_steps` must be a positive integer, got 2.5",
        ),
        (lds.WarmupLR, {"warmup_type": "cosine"}, ValueError, r"`warmup_type` must be one of \('log', 'linear'\), got"),
        (lds.WarmupLR, {"warmup_min_lr": -1.0}, ValueError, r"`warmup_min_lr` must be >= 0, got -1.0"),
        (lds.WarmupLR, {"warmup_max_lr": [0.1, "a"]}, TypeError, r"`warmup_max_lr\[1\]` must be a real number"),
        (lds.WarmupDecayLR, {"total_num_steps": 0}, ValueError, r"`total_num_steps` must be >= 1, got 0"),
        (lds.WarmupCosineLR, {"total_num_steps": -3}, ValueError, r"`total_num_steps` must be >= 1, got -3"),
        (lds.WarmupCosineLR, {"cos_min_ratio": -0.1}, ValueError, r"`cos_min_ratio` must be >= 0, got -0.1"),
        (
            lds.OneCycle,
            {"cycle_min_lr": 0.1, "cycle_max_lr": 1.0, "cycle_first_step_size": 0},
            ValueError,
            r"`cycle_first_step_size` must be >= 1, got 0",
        ),
        (
            lds.OneCycle,
            {"cycle_min_lr": 0.1, "cycle_max_lr": 1.0, "cycle_second_step_size": -1},
            ValueError,
            r"`cycle_second_step_size` must be >= 0, got -1",
        ),
        (
            lds.OneCycle,
            {"cycle_min_lr": 0.1, "cycle_max_lr": 1.0, "decay_lr_rate": -0.5},
            ValueError,
            r"`decay_lr_rate` must be >= 0, got -0.5",
        ),
        (
            lds.OneCycle,
            {"cycle_min_lr": [0.1, 0.2], "cycle_max_lr": [1.0, 2.0, 3.0]},
            ValueError,
            r"different lengths \[2, 3\]",
        ),
        (
            lds.OneCycle,
            {"cycle_min_lr": 0.1, "cycle_max_lr": 1.0, "cycle_momentum": "yes"},
            TypeError,
            r"`cycle_momentum` must be a bool",
        ),
        (lds.LRRangeTest, {"lr_range_test_step_size": 0}, ValueError, r"`lr_range_test_step_size` must be >= 1, got 0"),
        (
            lds.LRRangeTest,
            {"lr_range_test_step_size": 2.0},
            ValueError,
            r"`lr_range_test_step_size` must be a positive integer, got 2.0",
        ),
        (lds.LRRangeTest, {"lr_range_test_staircase": 1}, TypeError, r"`lr_range_test_staircase` must be a bool"),
    ],
)
def test_bad_arguments(cls: type, kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        cls(**kwargs)
