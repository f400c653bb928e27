"""Unit tests of the pure schedule layer against closed forms written out independently here."""

from __future__ import annotations

import math
import pickle
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightning_schedulers.schedules import (
    Clamp,
    Constant,
    Cosine,
    Exponential,
    Join,
    Linear,
    MultiStep,
    Phase,
    PiecewiseLinear,
    Polynomial,
    Product,
    Scale,
    Schedule,
    Space,
    Step,
    cosinespace,
    join,
    join_phases,
    linspace,
    sequence,
)

EDGE_TS = [0, 1, 2, 5, 9, 10, 11, 99, 100, 101, 1000, 10**6, 10**9]

CATALOGUE: list[Schedule] = [
    Constant(0.3),
    Linear(0.0, 1.0, 10),
    Linear(2.0, -1.0, 7),
    Linear(1.0, 5.0, 0),
    Cosine(1.0, 0.0, 100),
    Cosine(0.1, 1e-4, 37),
    Cosine(1.0, 0.2, 10, periodic=True),
    Exponential(1.0, 0.96, steps=10),
    Exponential(2.0, 0.5, steps=3, staircase=True, begin=5, end=0.01),
    Exponential(1e-3, 1.5, steps=7, end=0.1),
    Step(0.5, 0.1, 30),
    MultiStep(1.0, 0.5, (3, 3, 10)),
    Polynomial(1.0, 0.0, 100, power=2.0),
    Polynomial(0.5, 0.1, 11, power=0.5),
    PiecewiseLinear([(0, 0.0), (10, 1.0), (100, 0.25)]),
    PiecewiseLinear([(5, 2.0)]),
    PiecewiseLinear([(0, 0.0), (4, 1.0), (4, 3.0), (8, 1.0), (8, 1.0)]),
    join([Linear(0.0, 1.0, 10), Cosine(1.0, 0.01, 90)], boundaries=[10]),
    sequence([Constant(1.0), Step(1.0, 0.5, 3), Linear(0.1, 0.0, 50)], durations=[4, 20]),
    Product((Cosine(1.0, 0.0, 100), Linear(0.0, 1.0, 10))),
    Scale(Step(1.0, 0.9, 1), 3.0),
    Clamp(Linear(-1.0, 2.0, 30), lower=0.0, upper=1.0),
    2.0 * Linear(0.0, 1.0, 4) * Constant(0.5),
]


# ---------------------------------------------------------------- golden values at edge steps
def test_constant_is_constant_everywhere() -> None:
    assert [Constant(0.3).value(t) for t in EDGE_TS] == [0.3] * len(EDGE_TS)


def test_linear_edges() -> None:
    s = Linear(0.0, 1.0, 4)
    assert [s.value(t) for t in (0, 1, 2, 3, 4, 5, 10**9)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert Linear(3.0, 7.0, 0).value(0) == 7.0  # zero-length warmup starts at the end value


def test_cosine_matches_textbook_formula() -> None:
    start, end, steps = 0.1, 1e-4, 37
    s = Cosine(start, end, steps)
    for t in range(steps + 1):
        expected = end + (start - end) * (1 + math.cos(math.pi * t / steps)) / 2
        assert s.value(t) == pytest.approx(expected, rel=1e-13, abs=1e-18)
    assert s.value(0) == start
    assert s.value(steps) == end
    assert s.value(10**9) == end


def test_cosine_keeps_relative_precision_near_the_floor() -> None:
    # Near the end of an anneal to zero the (1 + cos)/2 form cancels catastrophically.
    steps, t = 10_000, 9_999
    exact = math.sin(math.pi * (steps - t) / (2 * steps)) ** 2  # cos^2(pi t / 2T) = sin^2(pi (T - t) / 2T)
    assert Cosine(1.0, 0.0, steps).value(t) == pytest.approx(exact, rel=1e-12)


def test_periodic_cosine_continues_past_steps() -> None:
    s = Cosine(1.0, 0.0, 10, periodic=True)
    assert s.value(20) == pytest.approx(1.0, rel=1e-15)
    assert s.value(15) == pytest.approx(0.5, rel=1e-14)
    assert s.value(30) == pytest.approx(0.0, abs=1e-15)


def test_exponential_closed_form_with_begin_staircase_and_bound() -> None:
    s = Exponential(2.0, 0.5, steps=3, staircase=True, begin=5, end=0.3)
    expected = [2.0] * 6 + [2.0] * 2 + [1.0] * 3 + [0.5] * 3 + [0.3] * 3
    assert [s.value(t) for t in range(17)] == expected
    smooth = Exponential(1.0, 0.96, steps=10)
    assert smooth.value(25) == 0.96**2.5
    growth = Exponential(1e-3, 2.0, steps=1, end=0.1)
    assert [growth.value(t) for t in (0, 3, 7, 10**9)] == [1e-3, 8e-3, 0.1, 0.1]
    assert Exponential(0.0, 2.0, end=0.5).value(10**9) == 0.0  # zero never grows


def test_step_and_multistep() -> None:
    assert [Step(1.0, 0.5, 2).value(t) for t in range(6)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    ms = MultiStep(1.0, 0.5, (3, 3, 10))  # repeated milestone multiplies twice, as torch
    assert [ms.value(t) for t in (0, 2, 3, 9, 10, 10**9)] == [1.0, 1.0, 0.25, 0.25, 0.125, 0.125]


def test_polynomial() -> None:
    s = Polynomial(1.0, 0.1, 10, power=2.0)
    for t in range(11):
        assert s.value(t) == pytest.approx(0.9 * (1 - t / 10) ** 2 + 0.1, rel=1e-15)
    assert s.value(11) == 0.1


def test_piecewise_linear() -> None:
    s = PiecewiseLinear([(5, 0.0), (10, 1.0), (20, 0.5)])
    assert [s.value(t) for t in (0, 5, 6, 10, 15, 20, 10**9)] == [0.0, 0.0, 0.2, 1.0, 0.75, 0.5, 0.5]
    jump = PiecewiseLinear([(0, 0.0), (4, 1.0), (4, 3.0), (8, 1.0)])  # a repeated event is a jump
    assert [jump.value(t) for t in (2, 3, 4, 6, 8)] == [0.5, 0.75, 3.0, 2.0, 1.0]


# ---------------------------------------------------------------- composition
def test_join_runs_each_piece_in_local_time() -> None:
    s = join([Linear(0.0, 1.0, 10), Linear(1.0, 0.0, 10)], boundaries=[10])
    assert s.value(10) == 1.0  # second piece at its local t = 0
    assert s.value(15) == 0.5
    assert s.value(20) == 0.0
    seq = sequence([Constant(1.0), Constant(2.0), Constant(3.0)], durations=[2, 3])
    assert [seq.value(t) for t in range(7)] == [1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0]


def test_product_scale_clamp() -> None:
    p = Product((Constant(2.0), Linear(0.0, 1.0, 4)))
    assert p.value(2) == 1.0
    assert (3.0 * Constant(2.0)).value(0) == 6.0
    assert (Constant(2.0) * Constant(4.0)).value(0) == 8.0
    c = Clamp(Linear(-1.0, 2.0, 3), lower=0.0, upper=1.0)
    assert [c.value(t) for t in range(4)] == [0.0, 0.0, 1.0, 1.0]
    assert Linear(0.0, 10.0, 10).clamp(upper=5.0).value(8) == 5.0


def test_phases_chain_per_key() -> None:
    warm = Phase(5, lr=Linear(0.1, 1.0, 5), momentum=Linear(0.95, 0.85, 5))
    anneal = Phase(10, lr=Cosine(1.0, 0.0, 10), momentum=Linear(0.85, 0.95, 10))
    joined = join_phases([warm, anneal])
    assert set(joined) == {"lr", "momentum"}
    assert joined["lr"].value(0) == 0.1
    assert joined["lr"].value(5) == 1.0
    assert joined["momentum"].value(5) == 0.85
    assert joined["momentum"].value(15) == 0.95
    assert warm["lr"] == Linear(0.1, 1.0, 5)
    with pytest.raises(KeyError, match="'wd'"):
        warm["wd"]
    with pytest.raises(ValueError, match="same keys"):
        join_phases([warm, Phase(3, lr=Constant(1.0))])


# ---------------------------------------------------------------- value vs values, pickling, cost
@pytest.mark.parametrize("schedule", CATALOGUE, ids=lambda s: type(s).__name__)
def test_value_and_values_agree_exactly(schedule: Schedule) -> None:
    ts = np.array(list(range(0, 300)) + EDGE_TS, dtype=np.int64)
    vector = schedule.values(ts)
    scalar = np.array([schedule.value(int(t)) for t in ts])
    assert vector.dtype == np.float64
    np.testing.assert_array_equal(vector, scalar)
    assert np.isfinite(vector).all()


@pytest.mark.parametrize("schedule", CATALOGUE, ids=lambda s: type(s).__name__)
def test_schedules_pickle_compare_and_print(schedule: Schedule) -> None:
    clone = pickle.loads(pickle.dumps(schedule))
    assert clone == schedule
    assert hash(clone) == hash(schedule)
    assert [clone.value(t) for t in EDGE_TS] == [schedule.value(t) for t in EDGE_TS]
    assert type(schedule).__name__ in repr(schedule)


def test_values_accepts_lists_and_rejects_non_integer_dtypes() -> None:
    np.testing.assert_array_equal(Linear(0.0, 1.0, 4).values([0, 2]), [0.0, 0.5])
    with pytest.raises(TypeError, match="ts"):
        Linear(0.0, 1.0, 4).values(np.array(["a"]))


def test_far_future_costs_no_more_than_step_zero() -> None:
    # Closed forms: no loop over t. Count Python-level calls instead of timing.
    s = join([Linear(0.0, 1.0, 100), Cosine(1.0, 0.0, 10**6)], boundaries=[100])
    calls: list[int] = []

    def count_calls(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "call":
            calls.append(1)

    counts = []
    for t in (150, 10**9, 10**12):
        calls.clear()
        sys.setprofile(count_calls)
        s.value(t)
        sys.setprofile(None)
        counts.append(len(calls))
    assert counts[0] == counts[1] == counts[2], counts


# ---------------------------------------------------------------- bad input
BAD = [
    (lambda: Linear(0.0, 1.0, -1), ValueError, r"`steps` must be >= 0, got -1"),
    (lambda: Linear(0.0, 1.0, 2.5), ValueError, r"`steps` must be an int number of events or a fraction .*got 2.5"),
    (lambda: Linear(float("nan"), 1.0, 3), ValueError, r"`start` must be finite, got nan"),
    (lambda: Linear(0.0, float("inf"), 3), ValueError, r"`end` must be finite, got inf"),
    (lambda: Linear(0.0, 1.0, True), TypeError, r"`steps` must be an int, got True"),
    (lambda: Cosine(1.0, 0.0, 0), ValueError, r"`steps` must be >= 1, got 0"),
    (lambda: Cosine(1.0, 0.0, 5, periodic=1), TypeError, r"`periodic` must be a bool, got 1"),
    (lambda: Exponential(1.0, 0.0), ValueError, r"`rate` must be > 0, got 0.0"),
    (lambda: Exponential(1.0, 1.1), ValueError, r"`rate` > 1 .*rate=1.1"),
    (lambda: Exponential(-1.0, 2.0, end=1.0), ValueError, r"negative `start` diverges .*start=-1.0"),
    (lambda: Exponential(1.0, 0.5, steps=0), ValueError, r"`steps` must be >= 1, got 0"),
    (lambda: Exponential(1.0, 0.5, begin=-1), ValueError, r"`begin` must be >= 0, got -1"),
    (lambda: Step(1.0, 0.5, 0), ValueError, r"`step_size` must be >= 1, got 0"),
    (lambda: Step(1.0, 1.5, 2), ValueError, r"`gamma` must be in \(0, 1\], got 1.5"),
    (lambda: MultiStep(1.0, 0.5, ()), ValueError, r"`milestones` must not be empty"),
    (lambda: MultiStep(1.0, 0.5, (5, 3)), ValueError, r"`milestones` must be non-decreasing, got \(5, 3\)"),
    (lambda: MultiStep(1.0, 1e200, (1, 2)), ValueError, r"`gamma`=1e\+200 over 2 milestones overflows"),
    (lambda: MultiStep(1.0, 0.5, (-1,)), ValueError, r"`milestones\[0\]` must be >= 0, got -1"),
    (lambda: MultiStep(1.0, 0.5, "12"), TypeError, r"`milestones` must be a sequence, got '12'"),
    (lambda: Polynomial(1.0, 0.0, 10, power=0.0), ValueError, r"`power` must be > 0, got 0.0"),
    (lambda: PiecewiseLinear([]), ValueError, r"`points` must not be empty"),
    (lambda: PiecewiseLinear([(5, 1.0), (3, 2.0)]), ValueError, r"`points` must be non-decreasing"),
    (lambda: PiecewiseLinear([(0, 1.0, 3)]), ValueError, r"`points\[0\]` must be an \(event, value\) pair"),
    (lambda: Join((Constant(1.0), Constant(2.0)), ()), ValueError, r"`boundaries` must have .* 1 entries, got 0"),
    (lambda: Join((Constant(1.0), Constant(2.0)), (0,)), ValueError, r"`boundaries\[0\]` must be >= 1, got 0"),
    (lambda: Join((Constant(1.0), 2.0), (3,)), TypeError, r"`schedules\[1\]` must be a Schedule, got 2.0"),
    (lambda: sequence([Constant(1.0), Constant(2.0)], [0]), ValueError, r"`durations\[0\]` must be >= 1, got 0"),
    (lambda: Scale(Constant(1.0), float("nan")), ValueError, r"`factor` must be finite, got nan"),
    (lambda: Clamp(Constant(1.0)), ValueError, r"`lower` and `upper` are both None"),
    (lambda: Clamp(Constant(1.0), 2.0, 1.0), ValueError, r"`lower` must be <= `upper`, got lower=2.0, upper=1.0"),
    (lambda: Phase(-1, lr=Constant(1.0)), ValueError, r"`steps` must be >= 0, got -1"),
    (lambda: Phase(lr=Constant(1.0)), ValueError, r"give the Phase length `steps`: \['lr'\] are not spaces"),
    (
        lambda: Phase(lr=linspace(0.0, 1.0, 5), momentum=linspace(0.9, 0.8, 4)),
        ValueError,
        r"every space of a phase must have its 5 steps, got lengths \{'lr': 5, 'momentum': 4\}",
    ),
    (lambda: Phase(6, lr=linspace(0.0, 1.0, 5)), ValueError, r"must have its 6 steps"),
    (lambda: linspace(0.0, 1.0, -1), ValueError, r"`steps` must be >= 1, got -1"),
    (lambda: cosinespace(float("nan"), 1.0, 3), ValueError, r"`start` must be finite, got nan"),
    (lambda: Space("log", 0.0, 1.0, 3), ValueError, r"`kind` must be 'linear' or 'cosine', got 'log'"),
    (lambda: join_phases([Phase(0, lr=Constant(1.0))]), ValueError, r"every phase has zero steps"),
    (lambda: Phase(3), ValueError, r"at least one named schedule"),
    (lambda: Phase(3, lr=0.1), TypeError, r"`lr` must be a Schedule, got 0.1"),
    (lambda: Constant("0.1"), TypeError, r"`level` must be a real number, got '0.1'"),
]


@pytest.mark.parametrize(("make", "error", "match"), BAD)
def test_bad_arguments_raise_naming_argument_and_value(make, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        make()


# ---------------------------------------------------------------- properties (hypothesis)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
positive_int = st.integers(min_value=1, max_value=10**6)
times = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=20)


@st.composite
def valid_schedules(draw: st.DrawFn) -> Schedule:
    kind = draw(st.sampled_from(["const", "lin", "cos", "exp", "step", "multi", "poly", "pw", "join"]))
    if kind == "const":
        return Constant(draw(finite))
    if kind == "lin":
        return Linear(draw(finite), draw(finite), draw(st.integers(0, 10**6)))
    if kind == "cos":
        return Cosine(draw(finite), draw(finite), draw(positive_int), periodic=draw(st.booleans()))
    if kind == "exp":
        rate = draw(st.floats(min_value=1e-6, max_value=10.0))
        end = draw(finite) if rate > 1.0 else draw(st.none() | finite)
        start = draw(st.floats(0.0, 1e6)) if rate > 1.0 else draw(finite)
        return Exponential(start, rate, draw(positive_int), draw(st.booleans()), draw(st.integers(0, 10**6)), end)
    if kind == "step":
        return Step(draw(finite), draw(st.floats(min_value=1e-6, max_value=1.0)), draw(positive_int))
    if kind == "multi":
        ms = sorted(draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=5)))
        return MultiStep(draw(finite), draw(st.floats(min_value=1e-6, max_value=1.0)), ms)
    if kind == "poly":
        return Polynomial(draw(finite), draw(finite), draw(positive_int), draw(st.floats(0.01, 10.0)))
    if kind == "pw":
        events = sorted(draw(st.sets(st.integers(0, 10**6), min_size=1, max_size=5)))
        return PiecewiseLinear([(e, draw(finite)) for e in events])
    bounds = sorted(draw(st.sets(st.integers(1, 10**6), min_size=1, max_size=3)))
    return Join(tuple(Linear(draw(finite), draw(finite), draw(positive_int)) for _ in range(len(bounds) + 1)), bounds)


@settings(max_examples=300, deadline=None)
@given(valid_schedules(), times)
def test_valid_schedules_never_return_nan_or_inf(schedule: Schedule, ts: list[int]) -> None:
    scalar = [schedule.value(t) for t in ts]
    assert all(math.isfinite(v) for v in scalar)
    np.testing.assert_array_equal(schedule.values(ts), scalar)


non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
not_a_number = st.one_of(st.text(max_size=3), st.none(), st.booleans(), st.just([1.0]))
INVALID = {
    # argument: (strategy of invalid values, builder)
    "steps": (
        st.one_of(
            st.integers(max_value=0),
            st.floats(allow_nan=False).filter(lambda v: not 0.0 < v <= 1.0),  # (0, 1] is a fraction of training
            not_a_number,
        ),
        lambda v: Cosine(1.0, 0.0, v),
    ),
    "start": (st.one_of(non_finite, not_a_number), lambda v: Linear(v, 0.0, 10)),
    "gamma": (
        st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0, exclude_min=True), non_finite, not_a_number),
        lambda v: Step(1.0, v, 3),
    ),
    "rate": (st.one_of(st.floats(max_value=0.0), non_finite, not_a_number), lambda v: Exponential(1.0, v)),
}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_invalid_arguments_are_rejected_naming_argument_and_value(data: st.DataObject) -> None:
    argument = data.draw(st.sampled_from(sorted(INVALID)))
    strategy, build = INVALID[argument]
    bad = data.draw(strategy)
    with pytest.raises((TypeError, ValueError)) as info:
        build(bad)
    message = str(info.value)
    assert f"`{argument}`" in message
    assert repr(bad) in message
