"""Parity of the ignite-family callbacks with pytorch-ignite itself."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import Probe, TinyModule, assert_parity, make_trainer
from ignite import handlers as ih

import lightning_schedulers as ls

warnings.filterwarnings("ignore", ".*lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`.*")


def sgd(lrs: list[float], **kwargs: Any) -> torch.optim.SGD:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)], **kwargs)


def ignite_values(cls: Any, n: int, **kwargs: Any) -> np.ndarray:
    return np.array([v for _, v in cls.simulate_values(n, optimizer=sgd([0.1], momentum=0.9), **kwargs)])


def drive(scheduler: Any, optimizer: torch.optim.Optimizer, n: int, key: str = "lr") -> np.ndarray:
    """Call an ignite optimizer scheduler once per event and read every group."""
    rows = []
    for _ in range(n):
        scheduler(None)
        rows.append([float(g[key]) for g in optimizer.param_groups])
    return np.array(rows)


CYCLICAL = [
    {"start_value": 1.0, "end_value": 0.1, "cycle_size": 10},
    {"start_value": 0.1, "end_value": 1.0, "cycle_size": 7, "cycle_mult": 2.0},
    {"start_value": 1.0, "end_value": 0.0, "cycle_size": 10, "cycle_mult": 1.5, "start_value_mult": 0.9},
    {"start_value": 1.0, "end_value": 0.2, "cycle_size": 9, "cycle_mult": 1.3, "end_value_mult": 1.1},
    {
        "start_value": 1.0,
        "end_value": 0.1,
        "cycle_size": 12,
        "cycle_mult": 1.25,
        "warmup_duration": 5,
        "start_value_mult": 0.8,
        "end_value_mult": 0.5,
    },
    {"start_value": 0.5, "end_value": 0.05, "cycle_size": 3, "cycle_mult": 1.1},  # truncation keeps it at 3
]


@pytest.mark.parametrize("kwargs", CYCLICAL)
def test_cosine_annealing_scheduler_equals_ignite(kwargs: dict[str, Any]) -> None:
    ours = ls.CosineAnnealingScheduler("lr", **kwargs).simulate(20_000)
    assert_parity(ours, ignite_values(ih.CosineAnnealingScheduler, 20_000, param_name="lr", **kwargs))


@pytest.mark.parametrize("monotonic", [False, True])
@pytest.mark.parametrize("kwargs", CYCLICAL)
def test_linear_cyclical_scheduler_equals_ignite(kwargs: dict[str, Any], monotonic: bool) -> None:
    if kwargs.get("warmup_duration") and not monotonic:
        with pytest.raises(ValueError, match="`warmup_duration` > 0 needs `monotonic=True`"):
            ls.LinearCyclicalScheduler("lr", **kwargs)
        return
    ours = ls.LinearCyclicalScheduler("lr", monotonic=monotonic, **kwargs).simulate(20_000)
    ref = ignite_values(ih.LinearCyclicalScheduler, 20_000, param_name="lr", monotonic=monotonic, **kwargs)
    assert_parity(ours, ref)


def test_jump_to_a_far_event_costs_a_few_table_rows() -> None:
    cb = ls.CosineAnnealingScheduler("lr", 1.0, 0.0, cycle_size=10, cycle_mult=2.0)
    schedule = cb._bindings()[0].schedules[0]
    schedule.value(10**12)
    assert len(schedule._table["begins"]) < 45  # cycles double: about log2(1e11) rows


@pytest.mark.parametrize(
    "milestones_values",
    [[(0, 0.0), (10, 1.0), (30, 0.1)], [(5, 0.3), (8, 0.9)], [(0, 1.0), (4, 1.0), (4, 0.1), (9, 0.0)], [(3, 0.5)]],
)
def test_piecewise_linear_equals_ignite(milestones_values: list[tuple[int, float]]) -> None:
    ours = ls.PiecewiseLinear("momentum", milestones_values).simulate(50)
    ref = ignite_values(ih.PiecewiseLinear, 50, param_name="momentum", milestones_values=milestones_values)
    np.testing.assert_array_equal(ours, ref)


def test_concat_scheduler_equals_ignite() -> None:
    a = dict(start_value=0.1, end_value=0.5, cycle_size=30)
    b = dict(start_value=0.5, end_value=0.01, cycle_size=40, cycle_mult=1.5)
    ours = ls.ConcatScheduler(
        [ls.LinearCyclicalScheduler("lr", **a), ls.CosineAnnealingScheduler("lr", **b)], durations=[15]
    ).simulate(500)
    opt = sgd([0.1])
    ref = ih.ConcatScheduler.simulate_values(
        500,
        schedulers=[ih.LinearCyclicalScheduler(opt, "lr", **a), ih.CosineAnnealingScheduler(opt, "lr", **b)],
        durations=[15],
    )
    assert_parity(ours, [v for _, v in ref])


# ignite computes the warmup length from the last param group only (a loop variable that leaks out
# of its per-group loop); with one group, or groups that share their lr, that is well defined.
@pytest.mark.parametrize("lrs", [[0.1], [0.3], [0.1, 0.1, 0.1]])
@pytest.mark.parametrize("end", [None, 0.2, 0.1])
@pytest.mark.parametrize("duration", [2, 3, 10])
def test_warmup_helper_equals_ignite_around_an_ignite_scheduler(
    end: float | None, duration: int, lrs: list[float]
) -> None:
    ours = ls.create_lr_scheduler_with_warmup(
        ls.CosineAnnealingScheduler("lr", 0.1, 0.0, cycle_size=20), 0.0, duration, warmup_end_value=end
    ).simulate(60, initial=lrs)
    opt = sgd(lrs)
    theirs = ih.create_lr_scheduler_with_warmup(
        ih.CosineAnnealingScheduler(opt, "lr", 0.1, 0.0, cycle_size=20), 0.0, duration, warmup_end_value=end
    )
    assert_parity(ours.reshape(60, -1), drive(theirs, opt, 60))


# With several groups and an end value off the lr, ignite's wrapper loses the torch scheduler after the
# first group (the same leaked loop variable); one group, or the default end value, is well defined.
@pytest.mark.parametrize(("end", "lrs"), [(None, [0.1]), (None, [0.1, 0.2]), (0.2, [0.1])])
def test_warmup_helper_equals_ignite_around_a_torch_scheduler(end: float | None, lrs: list[float]) -> None:
    ours = ls.create_lr_scheduler_with_warmup(ls.ExponentialLR(0.9), 0.01, 5, warmup_end_value=end).simulate(
        40, initial=lrs
    )
    opt = sgd(lrs)
    theirs = ih.create_lr_scheduler_with_warmup(
        torch.optim.lr_scheduler.ExponentialLR(opt, 0.9), 0.01, 5, warmup_end_value=end
    )
    np.testing.assert_allclose(ours.reshape(40, -1), drive(theirs, opt, 40), rtol=1e-12, atol=0)


def test_warmup_helper_warms_each_group_up_to_its_own_lr() -> None:
    lrs = [0.1, 0.05, 0.3]
    after = ls.CosineAnnealingScheduler("lr", 0.1, 0.0, cycle_size=20)
    got = ls.create_lr_scheduler_with_warmup(after, 0.0, 5).simulate(30, initial=lrs)
    cosine = after.simulate(30)
    # Group 0 starts at the wrapped scheduler's first value: its warmup stops one event short.
    np.testing.assert_allclose(got[:4, 0], [0.0, 0.025, 0.05, 0.075], rtol=1e-15)
    np.testing.assert_array_equal(got[4:, 0], cosine[:26])
    # The other groups warm up to their own lr in 5 events, then follow the wrapped scheduler.
    for j in (1, 2):
        np.testing.assert_allclose(got[:5, j], np.linspace(0.0, lrs[j], 5), rtol=1e-15)
        np.testing.assert_array_equal(got[5:, j], cosine[:25])


def test_param_group_index_restricts_to_one_group() -> None:
    cb = ls.CosineAnnealingScheduler("lr", 1.0, 0.0, cycle_size=10, param_group_index=1)
    probe = Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
    make_trainer([cb, probe], max_epochs=2).fit(TinyModule(groups=3, lr=[0.1, 0.2, 0.3]))
    ref = ignite_values(ih.CosineAnnealingScheduler, 32, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=10)
    for step, _, values in probe.rows:
        assert values == [0.1, ref[step], 0.3]


def test_cyclical_momentum_inside_a_fit_equals_ignite() -> None:
    kwargs = dict(start_value=0.95, end_value=0.85, cycle_size=6, cycle_mult=2.0)
    cb = ls.LinearCyclicalScheduler("momentum", **kwargs)
    probe = Probe(lambda trainer, m: [float(g["momentum"]) for g in trainer.optimizers[0].param_groups])
    make_trainer([cb, probe], max_epochs=2, accumulate_grad_batches=2).fit(
        TinyModule(groups=2, optimizer_kwargs={"momentum": 0.9})
    )
    ref = ignite_values(ih.LinearCyclicalScheduler, 16, param_name="momentum", **kwargs)
    for step, _, values in probe.rows:
        assert values == [ref[step], ref[step]]


# ------------------------------------------------------------------ state schedulers
def ignite_state(cls: Any, n: int, **kwargs: Any) -> np.ndarray:
    """ignite's state values after 1..n calls (its first call already advances to event 1)."""
    return np.array([v for _, v in cls.simulate_values(n, param_name="x", **kwargs)])


def odd_lambda(t: int) -> float:
    return 1.0 / (1.0 + t) + (0.1 if t % 2 else 0.0)


STATE = [
    (lambda: ls.ExpStateScheduler(1.5, 0.97, "x"), ih.ExpStateScheduler, {"initial_value": 1.5, "gamma": 0.97}),
    (
        lambda: ls.StepStateScheduler(2.0, 0.5, 3, "x"),
        ih.StepStateScheduler,
        {"initial_value": 2.0, "gamma": 0.5, "step_size": 3},
    ),
    (
        lambda: ls.StepStateScheduler(0.1, 1.5, 4, "x"),
        ih.StepStateScheduler,
        {"initial_value": 0.1, "gamma": 1.5, "step_size": 4},
    ),
    (
        lambda: ls.MultiStepStateScheduler(1.0, 0.1, [3, 3, 10], "x"),
        ih.MultiStepStateScheduler,
        {"initial_value": 1.0, "gamma": 0.1, "milestones": [3, 3, 10]},
    ),
    (lambda: ls.LambdaStateScheduler(odd_lambda, "x"), ih.LambdaStateScheduler, {"lambda_obj": odd_lambda}),
    (
        lambda: ls.PiecewiseLinearStateScheduler([(0, 0.0), (5, 1.0), (5, 0.5), (20, 0.0)], "x"),
        ih.PiecewiseLinearStateScheduler,
        {"milestones_values": [(0, 0.0), (5, 1.0), (5, 0.5), (20, 0.0)]},
    ),
]


@pytest.mark.parametrize(("ours", "cls", "kwargs"), STATE, ids=[s[1].__name__ + str(i) for i, s in enumerate(STATE)])
def test_state_schedulers_equal_ignite(ours: Any, cls: Any, kwargs: dict[str, Any]) -> None:
    got = ours().simulate(301)
    assert_parity(got[1:], ignite_state(cls, 300, **kwargs))


class StateModule(TinyModule):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kl_weight = 1.0
        self.loss_fn = torch.nn.Module()
        self.loss_fn.temperature = 1.0  # type: ignore[assignment]
        self.register_buffer("tau", torch.tensor(1.0, dtype=torch.float64))


class EpochEnd(Probe):
    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.rows.append((trainer.global_step, trainer.current_epoch, self.read(trainer, pl_module)))

    def on_train_batch_start(self, *args: Any) -> None:
        pass


def test_exp_state_scheduler_reproduces_the_ignite_documentation_example() -> None:
    module = StateModule()
    cb = ls.ExpStateScheduler(initial_value=1, gamma=0.9, param_name="kl_weight", interval="epoch")
    start = Probe(lambda trainer, m: [m.kl_weight])
    end = EpochEnd(lambda trainer, m: [m.kl_weight])
    make_trainer([cb, start, end], max_epochs=4).fit(module)
    assert start.rows[0][2] == [1.0]
    read_at_epoch_end = [row[2][0] for row in end.rows]
    np.testing.assert_allclose(read_at_epoch_end, [0.9, 0.81, 0.729, 0.6561], rtol=1e-15)
    ref = ignite_state(ih.ExpStateScheduler, 4, initial_value=1, gamma=0.9)
    assert_parity(read_at_epoch_end, list(ref))


def test_state_schedulers_on_a_nested_attribute_and_a_buffer() -> None:
    module = StateModule()
    tau = module.tau
    cbs = [
        ls.StepStateScheduler(1.0, 0.5, 4, "loss_fn.temperature"),
        ls.CosineAnnealingStateScheduler(1.0, 0.1, 8, "tau"),
        ls.LinearCyclicalStateScheduler(0.0, 1.0, 6, "beta", monotonic=True, create_new=True),
    ]
    probe = Probe(lambda trainer, m: [m.loss_fn.temperature, float(m.tau), m.beta])
    make_trainer([*cbs, probe], max_epochs=1).fit(module)
    sims = [cb.simulate(16) for cb in cbs]
    for step, _, values in probe.rows:
        assert values == [sims[0][step], sims[1][step], sims[2][step]]
    assert module.tau is tau
    cos = ignite_values(ih.CosineAnnealingScheduler, 16, param_name="lr", start_value=1.0, end_value=0.1, cycle_size=8)
    assert_parity(sims[1], cos)


def test_state_scheduler_create_new_semantics() -> None:
    with pytest.raises(AttributeError, match=r"`create_new=True` but attribute 'kl_weight' already exists"):
        make_trainer([ls.ExpStateScheduler(1.0, 0.9, "kl_weight", create_new=True)], max_epochs=1).fit(StateModule())
    with pytest.raises(AttributeError, match=r"'kl_wieght' does not resolve"):
        make_trainer([ls.ExpStateScheduler(1.0, 0.9, "kl_wieght")], max_epochs=1).fit(StateModule())


BAD = [
    (
        lambda: ls.CosineAnnealingScheduler("lr", 1.0, 0.0, cycle_size=1),
        ValueError,
        r"`cycle_size` must be >= 2, got 1",
    ),
    (lambda: ls.CosineAnnealingScheduler("lr", 1.0, 0.0, 10, cycle_mult=0.5), ValueError, r"`cycle_mult` must be >= 1"),
    (lambda: ls.CosineAnnealingScheduler("", 1.0, 0.0, 10), TypeError, r"`param_name` must be a non-empty str"),
    (lambda: ls.CosineAnnealingScheduler("lr", "a", 0.0, 10), TypeError, r"`start_value` must be a real number"),
    (lambda: ls.CosineAnnealingScheduler("lr", 1.0, 0.0, 10, warmup_duration=-1), ValueError, r"`warmup_duration`"),
    (lambda: ls.PiecewiseLinear("lr", []), ValueError, r"`milestones_values` must not be empty"),
    (
        lambda: ls.PiecewiseLinear("lr", [(3, 1.0), (1, 0.0)]),
        ValueError,
        r"milestones must be increasing, got 1 after 3",
    ),
    (lambda: ls.PiecewiseLinear("lr", [(1, 0.0, 3)]), ValueError, r"`milestones_values\[0\]` must be a \(milestone"),
    (lambda: ls.ConcatScheduler([ls.PiecewiseLinear("lr", [(0, 1.0)])], []), ValueError, r"at least 2 schedulers"),
    (
        lambda: ls.ConcatScheduler(
            [ls.PiecewiseLinear("lr", [(0, 1.0)]), ls.PiecewiseLinear("momentum", [(0, 1.0)])], [3]
        ),
        ValueError,
        r"must drive the same",
    ),
    (
        lambda: ls.ConcatScheduler([ls.PiecewiseLinear("lr", [(0, 1.0)]), ls.ExpStateScheduler(1.0, 0.9, "x")], [3]),
        TypeError,
        r"`schedulers\[1\]` must be an optimizer scheduler",
    ),
    (
        lambda: ls.create_lr_scheduler_with_warmup(ls.StepLR(3), 0.0, warmup_duration=1),
        ValueError,
        r"`warmup_duration` must be >= 2, got 1",
    ),
    (lambda: ls.ExpStateScheduler(1.0, 0.0, "x"), ValueError, r"`gamma` must be > 0, got 0.0"),
    (lambda: ls.ExpStateScheduler(-1.0, 1.5, "x"), ValueError, r"negative `start` diverges"),
    (lambda: ls.StepStateScheduler(1.0, 0.5, 0, "x"), ValueError, r"`step_size` must be >= 1, got 0"),
    (lambda: ls.MultiStepStateScheduler(1.0, 0.5, [5, 2], "x"), ValueError, r"`milestones` must be non-decreasing"),
    (lambda: ls.LambdaStateScheduler(3, "x"), TypeError, r"`lambda_obj` must be callable, got 3"),
    (lambda: ls.ExpStateScheduler(1.0, 0.9, "a..b"), ValueError, r"`param_name` has an empty segment: 'a..b'"),
    (
        lambda: ls.CosineAnnealingStateScheduler(1.0, 0.0, 4, "x", monotonic=True),
        TypeError,
        r"CosineAnnealingStateScheduler\(\): got an unexpected keyword argument .monotonic.",
    ),
]


@pytest.mark.parametrize(("make", "error", "match"), BAD)
def test_bad_arguments(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_ignite_callbacks_pickle() -> None:
    import pickle

    for cb in (
        ls.CosineAnnealingScheduler("lr", 1.0, 0.0, 10, cycle_mult=2.0),
        ls.ConcatScheduler([ls.PiecewiseLinear("lr", [(0, 1.0)]), ls.StepLR(3)], [4]),
        ls.create_lr_scheduler_with_warmup(ls.CosineAnnealingLR(10), 0.0, 5),
        ls.LambdaStateScheduler(odd_lambda, "x"),
    ):
        cb.simulate(100, initial=[0.1])
        clone = pickle.loads(pickle.dumps(cb))
        np.testing.assert_array_equal(clone.simulate(100, initial=[0.1]), cb.simulate(100, initial=[0.1]))
