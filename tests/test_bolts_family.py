"""lightning-bolts' schedulers against bolts' own code (``_bolts_reference.py``, a copy of its module).

lightning-bolts pins pytorch-lightning < 2 and cannot be installed next to this package; its
``lr_scheduler.py`` is reproduced in ``_bolts_reference.py``. The tests of bolts'
``tests/optimizers/test_lr_scheduler.py`` are translated in ``test_upstream_*``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from _bolts_reference import LinearWarmupCosineAnnealingLR as BoltsLWCA
from _bolts_reference import linear_warmup_decay as bolts_linear_warmup_decay
from _helpers import Probe, TinyModule, assert_parity, group_values, make_trainer

from lightning_schedulers.families import bolts as lb

pytestmark = pytest.mark.numeric

warnings.filterwarnings("ignore", ".*lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`.*")
warnings.filterwarnings("ignore", ".*EPOCH_DEPRECATION.*|.*epoch parameter in `scheduler.step\\(\\)`.*")


def make_optimizer(lrs: list[float]) -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)])


def bolts_trace(n: int, lrs: list[float], *args: Any) -> np.ndarray:
    """What a fit applies with bolts' scheduler stepped once per event (its recursive ``get_lr``)."""
    opt = make_optimizer(lrs)
    sched = BoltsLWCA(opt, *args)
    rows = []
    for _ in range(n):
        rows.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return np.array(rows)


def bolts_closed_form(n: int, lrs: list[float], *args: Any) -> np.ndarray:
    """bolts' ``_get_closed_form_lr`` (``step(epoch)``)."""
    opt = make_optimizer(lrs)
    sched = BoltsLWCA(opt, *args)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in range(n):
            sched.step(epoch)
            rows.append([g["lr"] for g in opt.param_groups])
    return np.array(rows)


CASES = [
    # warmup_epochs, max_epochs, warmup_start_lr, eta_min
    (6, 15, 0.0, 0.0),
    (9, 28, 0.2, 0.0),
    (15, 47, 0.0, 0.0001),
    (15, 115, 0.009, 0.003),
    (1, 5, 0.01, 0.0),
    (0, 7, 0.05, 0.001),  # no warmup: bolts anneals from warmup_start_lr up to max_epochs
    (5, 6, 0.0, 1e-3),
]


@pytest.mark.parametrize(("warmup", "total", "start", "floor"), CASES)
def test_equals_bolts_recursive_form_including_past_max_epochs(
    warmup: int, total: int, start: float, floor: float
) -> None:
    lrs = [0.1, 0.7]
    n = 3 * total + 5
    cb = lb.LinearWarmupCosineAnnealingLR(warmup, total, warmup_start_lr=start, eta_min=floor)
    assert_parity(cb.simulate(n, initial=lrs), bolts_trace(n, lrs, warmup, total, start, floor))


@pytest.mark.parametrize(("warmup", "total", "start", "floor"), [c for c in CASES if c[0] >= 2])
def test_equals_bolts_closed_form_up_to_max_epochs(warmup: int, total: int, start: float, floor: float) -> None:
    lrs = [0.1, 0.7]
    cb = lb.LinearWarmupCosineAnnealingLR(warmup, total, warmup_start_lr=start, eta_min=floor)
    assert_parity(cb.simulate(total + 1, initial=lrs), bolts_closed_form(total + 1, lrs, warmup, total, start, floor))


def test_where_the_recursive_form_departs_from_bolts_closed_form() -> None:
    # warmup_epochs=0: the recursion anneals from warmup_start_lr, the closed form from the base lr.
    recursive = bolts_trace(8, [0.1], 0, 7, 0.05, 0.0)[:, 0]
    closed = bolts_closed_form(8, [0.1], 0, 7, 0.05, 0.0)[:, 0]
    ours = lb.LinearWarmupCosineAnnealingLR(0, 7, warmup_start_lr=0.05).simulate(8, initial=0.1)
    assert closed[0] == 0.1 and recursive[0] == 0.05
    assert_parity(ours, recursive)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((5, 20), {}),
        ((5, 20), {"cosine": False, "linear": True}),
        ((5, 20), {"cosine": False}),
        ((0, 1), {}),
        ((7, 7), {}),
        ((12, 4), {}),
    ],
)
def test_linear_warmup_decay_equals_bolts_lambda(args: tuple[int, int], kwargs: dict[str, Any]) -> None:
    lrs = [0.1, 0.3]
    n = args[1] + 1 if kwargs.get("linear") else 3 * max(args) + 5  # linear turns negative past total_steps
    opt = make_optimizer(lrs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, bolts_linear_warmup_decay(*args, **kwargs))
    rows = []
    for _ in range(n):
        rows.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    assert_parity(lb.linear_warmup_decay(*args, **kwargs).simulate(n, initial=lrs), rows)


def test_fit_applies_what_simulate_shows_and_bolts_computes() -> None:
    per_epoch = lb.LinearWarmupCosineAnnealingLR(warmup_epochs=2, max_epochs=4, warmup_start_lr=0.01)
    probe = Probe(group_values())
    make_trainer([per_epoch, probe], max_epochs=5, limit_train_batches=2).fit(TinyModule(groups=2, lr=[0.1, 0.4]))
    reference = bolts_trace(5, [0.1, 0.4], 2, 4, 0.01, 0.0)
    expected = per_epoch.simulate(5, initial=[0.1, 0.4])
    assert sorted({e for _, e, _ in probe.rows}) == [0, 1, 2, 3, 4]
    for _, epoch, values in probe.rows:
        assert values == expected[epoch].tolist()
        assert_parity(values, reference[epoch])
    # linear_warmup_decay per step, total_steps from the fit (2 epochs of 16 steps).
    per_step = lb.linear_warmup_decay(warmup_steps=0.25)
    probe = Probe(group_values())
    make_trainer([per_step, probe], max_epochs=2).fit(TinyModule(groups=2, lr=[0.1, 0.4]))
    factor = bolts_linear_warmup_decay(8, 32)
    for step, _, values in probe.rows:
        assert_parity(values, [0.1 * factor(step), 0.4 * factor(step)])


def test_linear_decay_past_total_steps_stops_the_fit_as_a_negative_lr() -> None:
    cb = lb.linear_warmup_decay(2, 10, cosine=False, linear=True)
    assert cb.simulate(12, initial=0.1)[11] < 0  # bolts' factor, unclamped
    with pytest.raises(ValueError, match=r"gave the negative value .* at step 11"):
        make_trainer([cb], max_epochs=1, logger=False).fit(TinyModule())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: lb.LinearWarmupCosineAnnealingLR(5, 5), ValueError, r"`max_epochs`=5 must be > `warmup_epochs`=5"),
        (lambda: lb.LinearWarmupCosineAnnealingLR(-1, 5), ValueError, r"`warmup_epochs` must be >= 0, got -1"),
        (lambda: lb.LinearWarmupCosineAnnealingLR(1, 0), ValueError, r"`max_epochs` must be >= 1, got 0"),
        (
            lambda: lb.LinearWarmupCosineAnnealingLR(1, 5, warmup_start_lr=-0.1),
            ValueError,
            r"`warmup_start_lr` must be >= 0, got -0.1",
        ),
        (lambda: lb.LinearWarmupCosineAnnealingLR(1, 5, eta_min=float("nan")), ValueError, r"`eta_min` must be finite"),
        (lambda: lb.LinearWarmupCosineAnnealingLR("2", 5), TypeError, r"`warmup_epochs` must be an int, got '2'"),
        (
            lambda: lb.linear_warmup_decay(2, 10, cosine=True, linear=True),
            ValueError,
            r"`cosine` and `linear` are exclusive",
        ),
        (lambda: lb.linear_warmup_decay(2, 10, cosine=1), TypeError, r"`cosine` must be a bool, got 1"),
        (lambda: lb.linear_warmup_decay(-2, 10), ValueError, r"`warmup_steps` must be >= 0, got -2"),
        (lambda: lb.linear_warmup_decay(2, 0), ValueError, r"`total_steps` must be >= 1, got 0"),
    ],
)
def test_bad_arguments(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------ bolts' tests/optimizers/test_lr_scheduler.py
UPSTREAM = [
    # warmup_start_lr, base_lr, eta_min, warmup_epochs, max_epochs, multiplier
    (0.0, 0.4, 0.0, 6, 15, 10),
    (0.2, 0.8, 0.0, 9, 28, 10),
    (0.0, 0.04, 0.0001, 15, 47, 17),
    (0.009, 0.07, 0.003, 15, 115, 32),
]


@pytest.mark.parametrize(("start", "base", "floor", "warmup", "total", "multiplier"), UPSTREAM)
def test_upstream_warmup_is_a_linspace_to_the_base_lr_then_a_cosine(
    start: float, base: float, floor: float, warmup: int, total: int, multiplier: int
) -> None:
    lrs = [base, base * multiplier]
    ours = lb.LinearWarmupCosineAnnealingLR(warmup, total, warmup_start_lr=start, eta_min=floor).simulate(
        total, initial=lrs
    )
    for j, lr in enumerate(lrs):
        span = total - warmup
        target = np.concatenate(
            [
                np.linspace(start, lr, warmup),
                [floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * t / span)) for t in range(span)],
            ]
        )
        assert np.abs(ours[:, j] - target).max() < 1e-12  # bolts' EPSILON
    reference = bolts_trace(total, lrs, warmup, total, start, floor)
    closed = bolts_closed_form(total, lrs, warmup, total, start, floor)
    assert_parity(ours, reference)
    assert np.abs(reference - closed).max() < 1e-12
