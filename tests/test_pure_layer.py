"""The pure layer's contract: one formula per schedule, O(1) at any step, no NaN, imports without torch."""

from __future__ import annotations

import math
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from lightning_schedulers import schedules as s
from lightning_schedulers.schedules import presets

EVENTS = np.array([*range(0, 400), 10**4, 10**6 + 7, 10**9, 10**12, 2**53], dtype=np.int64)

# Every schedule class of the pure layer, in configurations that reach its branches.
EVERY_SHAPE: list[s.Schedule] = [
    s.Constant(0.3),
    s.Linear(0.0, 1.0, 10),
    s.Cosine(1.0, 1e-4, 37),
    s.Cosine(1.0, 0.2, 10, periodic=True),
    s.Exponential(1.0, 0.96, steps=10),
    s.Exponential(1e-3, 1.5, steps=7, end=0.1, staircase=True, begin=3),
    s.Step(0.5, 0.1, 30),
    s.MultiStep(1.0, 0.5, (3, 3, 10)),
    s.MultiStep(1.0, 1.7, (3, 30)),
    s.Polynomial(0.5, 0.1, 11, power=0.5),
    s.PowerRamp(1.0, 0.0, 40, power=0.5),
    s.InverseSqrt(2.0, warmup_steps=16),
    s.PiecewiseLinear([(0, 0.0), (4, 1.0), (4, 3.0), (8, 1.0)]),
    s.join([s.Linear(0.0, 1.0, 10), s.Cosine(1.0, 0.01, 90)], boundaries=[10]),
    s.Product((s.Cosine(1.0, 0.0, 100), s.Exponential(1.0, 0.99))),
    s.Scale(s.Step(1.0, 0.9, 1), 3.0),
    s.Clamp(s.Linear(-1.0, 2.0, 30), lower=0.0, upper=1.0),
    s.Shift(s.Cosine(1.0, 0.0, 50), 7),
    s.Lambda(math.sqrt),
    s.CumulativeProduct(lambda t: 0.999, start=2.0),
    s.linspace(0.95, 0.85, 37),
    s.cosinespace(1.0, 0.1, 23),
    s.CosineRestarts(1.0, 0.01, period=7, mult=1),
    s.CosineRestarts(1.0, 0.01, period=3, mult=3),
    s.Cyclic(0.1, 1.0, 5, 3, mode="triangular2"),
    s.Cyclic(0.1, 1.0, 5, 5, mode="exp_range", gamma=0.999),
    s.Cyclic(0.1, 1.0, 4, 4, scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations"),
    s.OneCycle(0.04, 1.0, 4e-6, total_steps=97, pct_start=0.3),
    s.OneCycle(0.04, 1.0, 4e-6, total_steps=97, pct_start=0.25, anneal="linear", three_phase=True),
    s.CosineCycles(1.0, 0.01, cycle_steps=10, cycle_mult=1.5, cycle_decay=0.8, cycle_limit=6, k=1.3),
    s.CosineCycles(1.0, 0.0, cycle_steps=10, cycle_decay=0.5, cycle_limit=3),
    s.CyclicalAnneal("cosine", 1.0, 0.1, cycle_size=10, start_value_mult=0.9, end_value_mult=0.95),
    s.CyclicalAnneal("linear_monotonic", 1.0, 0.1, cycle_size=12, cycle_mult=1.25, warmup_duration=5),
    s.CyclicalAnneal("linear", 0.5, 0.05, cycle_size=3, cycle_mult=1.1),  # truncation keeps cycles at 3
    presets.warmup_stable_decay(1.0, total_steps=200, warmup_steps=10, decay_steps=50, decay="1-sqrt"),
]


def _finite_events(schedule: s.Schedule) -> np.ndarray:
    if isinstance(schedule, s.CumulativeProduct):
        return EVENTS[EVENTS <= 10**4]  # a running product: a jump to t costs t calls
    return EVENTS


@pytest.mark.parametrize("schedule", EVERY_SHAPE, ids=lambda x: type(x).__name__)
def test_value_is_values_on_one_element(schedule: s.Schedule) -> None:
    # Both run the same numpy code, so they agree on every CPU (AVX2 or AVX-512 alike).
    ts = _finite_events(schedule)
    vector = schedule.values(ts)
    scalar = np.array([schedule.value(int(t)) for t in ts])
    np.testing.assert_array_equal(vector, scalar)
    assert np.isfinite(vector).all()
    # Order and block size do not matter either: a shuffled, chunked evaluation gives the same floats.
    shuffled = np.random.default_rng(0).permutation(ts)
    chunks = np.concatenate([schedule.values(chunk) for chunk in np.array_split(shuffled, 7)])
    np.testing.assert_array_equal(chunks, schedule.values(shuffled))


@pytest.mark.parametrize("schedule", [x for x in EVERY_SHAPE if not isinstance(x, s.CumulativeProduct)], ids=repr)
def test_any_step_costs_the_same_and_no_memory(schedule: s.Schedule) -> None:
    schedule.value(1)  # warm any cache a schedule keeps
    tracemalloc.start()
    for t in (10**6, 10**9, 10**12):
        schedule.value(t)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024, peak


def test_ignite_cycles_with_value_multipliers_are_closed_form_at_any_step() -> None:
    # ignite keeps multiplying the start value once per cycle; this is start * mult**cycle.
    anneal = s.CyclicalAnneal("cosine", 1.0, 0.0, cycle_size=100, start_value_mult=0.9)
    assert anneal.value(10**9) == pytest.approx(0.9 ** (10**7), abs=0.0)  # underflows to 0 like ignite
    assert anneal.value(10**4 * 100) == 0.9 ** (10**4)
    assert anneal._table == {}  # equal cycles: no table at all
    k = 17
    assert anneal.value(100 * k + 50) == pytest.approx(0.9**k * 0.5, rel=1e-13)


def test_growing_cycles_keep_ignites_truncation_in_a_table_of_one_row_per_cycle() -> None:
    anneal = s.CyclicalAnneal("linear_monotonic", 1.0, 0.0, cycle_size=7, cycle_mult=1.5, warmup_duration=3)
    # The recurrence written out: sizes and warmups multiplied and truncated after every cycle.
    begin, size, warmup, starts = 0, 7, 3, []
    while begin < 10**12:
        starts.append((begin, size, warmup))
        begin, size, warmup = begin + size + warmup, int(size * 1.5), int(warmup * 1.5)
    for b, c, _w in starts[-5:]:
        assert anneal.value(b) == 1.0 and anneal.value(b + c // 2) == pytest.approx(1.0 - (c // 2) / c)
    assert len(anneal._table["begins"]) <= len(starts) + 1 < 80


@pytest.mark.parametrize(
    ("anneal", "argument", "first_bad"),
    [
        # start * 2**k overflows at cycle k = 1024, which begins at event 1024 * 100.
        (s.CyclicalAnneal("cosine", 1.0, 0.0, cycle_size=100, start_value_mult=2.0), "start_value_mult", 102_400),
        (s.CyclicalAnneal("cosine", 1.0, 1.0, cycle_size=100, end_value_mult=1.5), "end_value_mult", None),
    ],
)
def test_value_growth_that_overflows_is_a_named_error_never_nan(
    anneal: s.CyclicalAnneal, argument: str, first_bad: int | None
) -> None:
    with pytest.raises(ValueError, match=f"`{argument}`"):
        anneal.value(10**9)
    with pytest.raises(ValueError, match=f"`{argument}`"):
        anneal.values(np.arange(0, 10**7, 997))
    if first_bad is not None:
        assert math.isfinite(anneal.value(first_bad - 1))
        with pytest.raises(ValueError, match=rf"at event {first_bad}\b"):
            anneal.value(first_bad)


def test_exponential_growth_to_infinity_raises_at_the_overflowing_event() -> None:
    grow = s.Exponential(1.0, 2.0, end=math.inf)
    assert grow.value(1023) == 2.0**1023
    with pytest.raises(ValueError, match=r"`rate`=2.0.*at event 1024|at event 1024.*`rate`=2.0"):
        grow.value(1024)
    assert s.Exponential(0.0, 2.0, end=math.inf).value(10**12) == 0.0  # zero never grows


def test_cyclic_exp_range_growth_is_named() -> None:
    with pytest.raises(ValueError, match="`gamma`"):
        s.Cyclic(0.1, 1.0, 5, 5, mode="exp_range", gamma=1.01).value(10**6)


# The top-level names of the previous release: they must all keep working.
RELEASED_NAMES = {
    "Attribute",
    "ChainedScheduler",
    "ConcatScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingScheduler",
    "CosineAnnealingStateScheduler",
    "CosineAnnealingWarmRestarts",
    "CosineCyclesLR",
    "CyclicLR",
    "ExpStateScheduler",
    "ExponentialDecayLR",
    "ExponentialLR",
    "FitPlan",
    "InverseSqrtLR",
    "LambdaLR",
    "LambdaStateScheduler",
    "LinearCyclicalScheduler",
    "LinearCyclicalStateScheduler",
    "LinearLR",
    "MultiStepLR",
    "MultiStepStateScheduler",
    "MultiplicativeLR",
    "OneCycleLR",
    "OptimizerPolicy",
    "ParamGroup",
    "Phase",
    "PiecewiseLinear",
    "PiecewiseLinearStateScheduler",
    "PolynomialDecayLR",
    "PolynomialLR",
    "Preview",
    "ReduceAttributeOnPlateau",
    "ReduceLROnPlateau",
    "Schedule",
    "ScheduleCallback",
    "SchedulerCallback",
    "SequentialLR",
    "StepLR",
    "StepStateScheduler",
    "TrainingFraction",
    "WarmupCosineLR",
    "WarmupStableDecayLR",
    "__version__",
    "cosinespace",
    "create_lr_scheduler_with_warmup",
    "fraction",
    "join_phases",
    "linspace",
    "one_cycle_phases",
    "presets",
    "preview",
    "schedules",
    "sgdr_phases",
}


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_the_pure_layer_imports_without_torch_or_lightning() -> None:
    out = _run(
        "import sys\n"
        "import lightning_schedulers.schedules, lightning_schedulers.presets, lightning_schedulers.plateau\n"
        "import lightning_schedulers.durations, lightning_schedulers.schedules.presets\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning', 'pytorch_lightning')))"
    )
    assert out.strip() == "[]"


def test_the_command_line_help_answers_without_torch() -> None:
    out = _run(
        "import sys\n"
        "from lightning_schedulers.__main__ import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    print('exit', e.code)\n"
        "print('torch' in sys.modules)"
    )
    assert out.strip().splitlines()[-2:] == ["exit 0", "False"]


def test_every_top_level_name_and_every_earlier_module_path_still_imports() -> None:
    out = _run(
        "import lightning_schedulers as ls\n"
        "assert all(getattr(ls, n) is not None for n in ls.__all__)\n"
        "from lightning_schedulers import StepLR, presets, schedules\n"
        "from lightning_schedulers.torch_family import StepLR as S2\n"
        "from lightning_schedulers.ignite_family import CosineAnnealingScheduler, ExpStateScheduler\n"
        "from lightning_schedulers.on_plateau import ReduceLROnPlateau\n"
        "from lightning_schedulers.modern import WarmupCosineLR\n"
        "from lightning_schedulers.optax_family import ExponentialDecayLR\n"
        "from lightning_schedulers.poutyne_family import OptimizerPolicy\n"
        "from lightning_schedulers.presets import warmup_cosine\n"
        "from lightning_schedulers.durations import fraction, TrainingFraction\n"
        "from lightning_schedulers.targets import ParamGroup, Attribute\n"
        "from lightning_schedulers.plateau import PlateauState\n"
        "assert S2 is StepLR and ExpStateScheduler is ls.ExpStateScheduler\n"
        "print(' '.join(ls.__all__))"
    )
    assert set(out.split()) >= RELEASED_NAMES
