"""Every public constructor, fed hostile values: finite values, or a TypeError/ValueError naming the argument.

For each constructor one argument at a time is replaced by a hostile value (huge ints, NaN, inf,
None, strings, bools, empty and wrong-length lists, zero and negative lengths). Then either the
object works (its values at events up to 10**12 are finite, or raise a ValueError naming the
arguments that overflow) or construction raises ``TypeError``/``ValueError`` whose message names
the argument by its public name and repeats the value given. Any other exception, or a hang,
fails the test.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lightning_schedulers as ls
from lightning_schedulers import presets
from lightning_schedulers import schedules as s
from lightning_schedulers.callbacks.greedy import GreedyLR
from lightning_schedulers.families import deepspeed as ds
from lightning_schedulers.plateau import PlateauState

HOSTILE: list[Any] = [
    10**400,
    -(10**400),
    2**60,
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    None,
    "x",
    "",
    True,
    False,
    [],
    [1.0, 2.0, 3.0],
    [[0, 1.0]],
    0,
    -1,
    0.0,
    -0.5,
    1.5,
]
EVENTS = [0, 1, 2, 7, 100, 10**4, 10**6, 10**9, 10**12]


def half(t: int) -> float:
    return 0.5


def lin() -> s.Schedule:
    return s.Linear(0.0, 1.0, 10)


def _layered() -> torch.nn.Module:
    """A model with an embedding, three blocks and a head (for the layer-wise decay helper)."""
    model = torch.nn.Module()
    model.embed = torch.nn.Linear(2, 2)
    model.blocks = torch.nn.ModuleList(torch.nn.Linear(2, 2) for _ in range(3))
    model.head = torch.nn.Linear(2, 1)
    return model


# constructor -> the valid arguments its hostile variants start from
BASE: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "BatchSizeRamp": (
        ls.BatchSizeRamp,
        {"scheduling": {0: 1, 100: 2}, "clock": "samples", "count": 8, "lr_scaling": "sqrt"},
    ),
    # pure shapes
    "Constant": (s.Constant, {"level": 0.5}),
    "Linear": (s.Linear, {"start": 0.0, "end": 1.0, "steps": 10}),
    "Cosine": (s.Cosine, {"start": 1.0, "end": 0.0, "steps": 10, "periodic": False}),
    "Exponential": (
        s.Exponential,
        {"start": 1.0, "rate": 0.9, "steps": 2, "staircase": False, "begin": 0, "end": None},
    ),
    "Step": (s.Step, {"start": 1.0, "gamma": 0.5, "step_size": 3}),
    "MultiStep": (s.MultiStep, {"start": 1.0, "gamma": 0.5, "milestones": [2, 5]}),
    "Polynomial": (s.Polynomial, {"start": 1.0, "end": 0.0, "steps": 10, "power": 2.0}),
    "PowerRamp": (s.PowerRamp, {"start": 1.0, "end": 0.0, "steps": 10, "power": 0.5}),
    "InverseSqrt": (s.InverseSqrt, {"scale": 1.0, "warmup_steps": 4}),
    "schedules.PiecewiseLinear": (s.PiecewiseLinear, {"points": [(0, 0.0), (10, 1.0)]}),
    "Phase": (lambda steps: s.Phase(steps, lr=lin()), {"steps": 10}),
    "TrainingFraction": (s.TrainingFraction, {"fraction": 0.25}),
    # composition
    "Join": (s.Join, {"schedules": (lin(), lin()), "boundaries": (5,)}),
    "join": (s.join, {"schedules": [lin(), lin()], "boundaries": [5]}),
    "sequence": (s.sequence, {"schedules": [lin(), lin()], "durations": [5]}),
    "Product": (s.Product, {"factors": (lin(), lin())}),
    "Scale": (s.Scale, {"schedule": lin(), "factor": 2.0}),
    "Clamp": (s.Clamp, {"schedule": lin(), "lower": 0.1, "upper": 0.9}),
    "Shift": (s.Shift, {"schedule": lin(), "offset": 3}),
    "Lambda": (s.Lambda, {"fn": half}),
    "CumulativeProduct": (s.CumulativeProduct, {"fn": half, "start": 1.0}),
    "Space": (s.Space, {"kind": "linear", "start": 0.0, "end": 1.0, "steps": 5}),
    "linspace": (s.linspace, {"start": 0.0, "end": 1.0, "steps": 5}),
    "cosinespace": (s.cosinespace, {"start": 0.0, "end": 1.0, "steps": 5}),
    "Deferred": (
        s.Deferred,
        {"fn": presets.warmup_cosine, "arguments": (("peak", 1.0), ("total_steps", 100), ("warmup_steps", 0.1))},
    ),
    "join_phases": (s.join_phases, {"phases": [s.Phase(lr=s.linspace(0.0, 1.0, 3))]}),
    "fraction": (s.fraction, {"value": 0.5}),
    # the reference libraries' shapes
    "CosineRestarts": (s.CosineRestarts, {"start": 1.0, "end": 0.0, "period": 4, "mult": 2}),
    "Cyclic": (
        s.Cyclic,
        {
            "base": 0.1,
            "peak": 1.0,
            "step_size_up": 3,
            "step_size_down": 2,
            "mode": "exp_range",
            "gamma": 0.99,
            "scale_fn": None,
            "scale_mode": "cycle",
        },
    ),
    "OneCycle": (
        s.OneCycle,
        {"start": 0.1, "peak": 1.0, "end": 0.001, "total_steps": 20, "pct_start": 0.3, "anneal": "cos"},
    ),
    "CosineCycles": (
        s.CosineCycles,
        {"start": 1.0, "end": 0.0, "cycle_steps": 5, "cycle_mult": 1.5, "cycle_decay": 0.9, "cycle_limit": 4, "k": 1.0},
    ),
    "CyclicalAnneal": (
        s.CyclicalAnneal,
        {
            "shape": "cosine",
            "start_value": 1.0,
            "end_value": 0.0,
            "cycle_size": 6,
            "cycle_mult": 1.5,
            "start_value_mult": 0.9,
            "end_value_mult": 1.0,
            "warmup_duration": 2,
        },
    ),
    # presets
    "warmup_cosine": (presets.warmup_cosine, {"peak": 1.0, "total_steps": 100, "warmup_steps": 10, "floor": 0.0}),
    "warmup_stable_decay": (
        presets.warmup_stable_decay,
        {"peak": 1.0, "total_steps": 100, "warmup_steps": 10, "decay_steps": 20},
    ),
    "noam": (presets.noam, {"model_size": 512, "warmup_steps": 10, "factor": 1.0}),
    "polynomial_decay": (presets.polynomial_decay, {"start": 1.0, "end": 0.0, "steps": 50, "power": 2.0}),
    "cosine_cycles": (presets.cosine_cycles, {"peak": 1.0, "floor": 0.0, "cycle_steps": 10}),
    "sgdr_phases": (presets.sgdr_phases, {"base_cycle_length": 4, "cycles": 3, "lr": (1.0, 0.1), "cycle_mult": 2}),
    "one_cycle_phases": (presets.one_cycle_phases, {"steps": 30, "lr": (0.1, 1.0), "momentum": (0.95, 0.85)}),
    # pure plateau rule, targets, planning
    "PlateauState": (PlateauState, {"mode": "min", "patience": 2, "threshold": 1e-4, "cooldown": 0}),
    "ParamGroup": (ls.ParamGroup, {"key": "lr", "optimizer": 0, "param_group_index": None}),
    "Attribute": (ls.Attribute, {"path": "kl_weight", "create_new": False}),
    "FitPlan": (ls.FitPlan, {"max_epochs": 2, "max_steps": -1, "batches_per_epoch": 10}),
    "Preview": (ls.Preview, {"plan": ls.FitPlan(max_epochs=2, batches_per_epoch=10)}),
    "preview": (
        ls.preview,
        {"callbacks": [ls.StepLR(3)], "trainer_or_config": {"max_epochs": 2, "batches_per_epoch": 10}, "initial": 0.1},
    ),
    # callbacks
    "ScheduleCallback": (ls.ScheduleCallback, {"schedule": lin(), "target": "lr"}),
    "LambdaLR": (ls.LambdaLR, {"lr_lambda": half}),
    "MultiplicativeLR": (ls.MultiplicativeLR, {"lr_lambda": half}),
    "StepLR": (ls.StepLR, {"step_size": 3, "gamma": 0.5}),
    "MultiStepLR": (ls.MultiStepLR, {"milestones": [2, 5], "gamma": 0.5}),
    "ConstantLR": (ls.ConstantLR, {"factor": 0.5, "total_iters": 4}),
    "LinearLR": (ls.LinearLR, {"start_factor": 0.5, "end_factor": 1.0, "total_iters": 4}),
    "ExponentialLR": (ls.ExponentialLR, {"gamma": 0.9}),
    "PolynomialLR": (ls.PolynomialLR, {"total_iters": 5, "power": 1.0}),
    "CosineAnnealingLR": (ls.CosineAnnealingLR, {"T_max": 10, "eta_min": 0.0}),
    "CosineAnnealingWarmRestarts": (ls.CosineAnnealingWarmRestarts, {"T_0": 4, "T_mult": 2, "eta_min": 0.0}),
    "CyclicLR": (ls.CyclicLR, {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 4, "cycle_momentum": False}),
    "OneCycleLR": (ls.OneCycleLR, {"max_lr": 1.0, "total_steps": 50, "cycle_momentum": False}),
    "SequentialLR": (ls.SequentialLR, {"schedulers": [ls.LinearLR(), ls.StepLR(3)], "milestones": [5]}),
    "ChainedScheduler": (ls.ChainedScheduler, {"schedulers": [ls.ConstantLR(), ls.ExponentialLR(0.9)]}),
    "CosineAnnealingScheduler": (
        ls.CosineAnnealingScheduler,
        {"param_name": "lr", "start_value": 1.0, "end_value": 0.0, "cycle_size": 10, "cycle_mult": 1.0},
    ),
    "LinearCyclicalScheduler": (
        ls.LinearCyclicalScheduler,
        {"param_name": "lr", "start_value": 1.0, "end_value": 0.0, "cycle_size": 10},
    ),
    "PiecewiseLinear": (ls.PiecewiseLinear, {"param_name": "lr", "milestones_values": [(0, 0.0), (10, 1.0)]}),
    "ConcatScheduler": (
        ls.ConcatScheduler,
        {"schedulers": [ls.PiecewiseLinear("lr", [(0, 0.0), (4, 1.0)]), ls.StepLR(2)], "durations": [5]},
    ),
    "create_lr_scheduler_with_warmup": (
        ls.create_lr_scheduler_with_warmup,
        {"lr_scheduler": ls.StepLR(2), "warmup_start_value": 0.0, "warmup_duration": 4},
    ),
    "ExpStateScheduler": (ls.ExpStateScheduler, {"initial_value": 1.0, "gamma": 0.9, "param_name": "kl"}),
    "StepStateScheduler": (
        ls.StepStateScheduler,
        {"initial_value": 1.0, "gamma": 0.9, "step_size": 3, "param_name": "kl"},
    ),
    "MultiStepStateScheduler": (
        ls.MultiStepStateScheduler,
        {"initial_value": 1.0, "gamma": 0.9, "milestones": [2, 4], "param_name": "kl"},
    ),
    "LambdaStateScheduler": (ls.LambdaStateScheduler, {"lambda_obj": half, "param_name": "kl"}),
    "PiecewiseLinearStateScheduler": (
        ls.PiecewiseLinearStateScheduler,
        {"milestones_values": [(0, 0.0), (10, 1.0)], "param_name": "kl"},
    ),
    "CosineAnnealingStateScheduler": (
        ls.CosineAnnealingStateScheduler,
        {"start_value": 1.0, "end_value": 0.0, "cycle_size": 10, "param_name": "kl"},
    ),
    "LinearCyclicalStateScheduler": (
        ls.LinearCyclicalStateScheduler,
        {"start_value": 1.0, "end_value": 0.0, "cycle_size": 10, "param_name": "kl"},
    ),
    "ExponentialDecayLR": (ls.ExponentialDecayLR, {"decay_steps": 10, "decay_rate": 0.9}),
    "OptimizerPolicy": (ls.OptimizerPolicy, {"phases": presets.one_cycle_phases(30), "initial_step": 0}),
    "WarmupCosineLR": (ls.WarmupCosineLR, {"warmup_steps": 5, "total_steps": 50}),
    "WarmupStableDecayLR": (ls.WarmupStableDecayLR, {"warmup_steps": 5, "decay_steps": 10, "total_steps": 50}),
    "PolynomialDecayLR": (ls.PolynomialDecayLR, {"total_steps": 50, "power": 2.0}),
    "CosineCyclesLR": (ls.CosineCyclesLR, {"cycle_steps": 10}),
    "InverseSqrtLR": (ls.InverseSqrtLR, {"warmup_steps": 10}),
    "TransformersLR": (ls.TransformersLR, {"kind": "cosine", "warmup_steps": 10, "total_steps": 100}),
    "get_scheduler": (ls.get_scheduler, {"name": "linear", "warmup_steps": 10, "total_steps": 100}),
    "SWALR": (ls.SWALR, {"swa_lr": 0.05, "anneal_epochs": 3}),
    "TorchScheduler": (ls.TorchScheduler, {"factory": functools.partial(torch.optim.lr_scheduler.StepLR, step_size=3)}),
    # timm
    "CosineLRScheduler": (
        ls.CosineLRScheduler,
        {
            "t_initial": 10,
            "lr_min": 0.01,
            "cycle_mul": 1.5,
            "cycle_decay": 0.9,
            "cycle_limit": 3,
            "warmup_t": 2,
            "warmup_lr_init": 0.001,
            "warmup_prefix": True,
            "t_in_epochs": True,
            "noise_range_t": (2, 8),
            "noise_pct": 0.5,
            "noise_std": 1.0,
            "noise_seed": 3,
            "k_decay": 1.5,
            "noise_type": "normal",
        },
    ),
    "TanhLRScheduler": (
        ls.TanhLRScheduler,
        {"t_initial": 10, "lb": -6.0, "ub": 4.0, "lr_min": 0.01, "cycle_mul": 2.0, "cycle_limit": 2, "warmup_t": 2},
    ),
    "PolyLRScheduler": (
        ls.PolyLRScheduler,
        {"t_initial": 10, "power": 1.5, "cycle_mul": 1.0, "cycle_decay": 0.5, "cycle_limit": 2, "k_decay": 2.0},
    ),
    "Attribute pattern": (ls.Attribute, {"path": "blocks.*.p", "create_new": False, "scale": "depth"}),
    "param_groups_layer_decay": (
        ls.param_groups_layer_decay,
        {"model": _layered(), "weight_decay": 0.05, "layer_decay": 0.75, "blocks": "blocks"},
    ),
    "Cooldown": (ls.Cooldown, {"base": ls.StepLR(2), "start": 10, "length": 5, "shape": "cosine", "to": 0.1}),
    "EMAWeightAveraging": (ls.EMAWeightAveraging, {"decay": 0.999, "update_every_n_steps": 1}),
    "EMAWarmup": (
        ls.EMAWarmup,
        {"decay": 0.9999, "warmup_gamma": 1.0, "warmup_power": 0.75, "min_decay": 0.0, "update_after_step": 0},
    ),
    "HalfLife": (ls.HalfLife, {"half_life": 100}),
    "ScheduleFree": (ls.ScheduleFree, {"optimizers": None}),
    "PlateauLRScheduler": (
        ls.PlateauLRScheduler,
        {
            "monitor": "val_acc",
            "decay_rate": 0.5,
            "patience_t": 2,
            "cooldown_t": 1,
            "warmup_t": 2,
            "warmup_lr_init": 0.001,
            "lr_min": 0.01,
            "mode": "max",
            "noise_range_t": (2, 8),
            "noise_type": "normal",
            "noise_pct": 0.5,
            "noise_std": 1.0,
            "noise_seed": 3,
        },
    ),
    "StepLRScheduler": (
        ls.StepLRScheduler,
        {"decay_t": 3, "decay_rate": 0.5, "warmup_t": 2, "warmup_lr_init": 0.01, "noise_range_t": 4},
    ),
    "MultiStepLRScheduler": (
        ls.MultiStepLRScheduler,
        {"decay_t": [2, 5], "decay_rate": 0.5, "warmup_t": 1, "warmup_lr_init": 0.01, "noise_type": "uniform"},
    ),
    # DeepSpeed
    "WarmupLR": (
        ls.WarmupLR,
        {"warmup_min_lr": 0.0, "warmup_max_lr": 1.0, "warmup_num_steps": 4, "warmup_type": "log"},
    ),
    "WarmupDecayLR": (
        ls.WarmupDecayLR,
        {"total_num_steps": 20, "warmup_min_lr": 0.0, "warmup_max_lr": 1.0, "warmup_num_steps": 4},
    ),
    "LRRangeTest": (
        ls.LRRangeTest,
        {
            "lr_range_test_min_lr": 0.01,
            "lr_range_test_step_size": 4,
            "lr_range_test_step_rate": 1.0,
            "lr_range_test_staircase": False,
        },
    ),
    "deepspeed.WarmupCosineLR": (
        ds.WarmupCosineLR,
        {"total_num_steps": 20, "warmup_min_ratio": 0.0, "warmup_num_steps": 4, "cos_min_ratio": 0.01},
    ),
    "deepspeed.OneCycle": (
        ds.OneCycle,
        {
            "cycle_min_lr": 0.1,
            "cycle_max_lr": 1.0,
            "decay_lr_rate": 0.1,
            "cycle_first_step_size": 4,
            "cycle_second_step_size": 3,
            "cycle_first_stair_count": 0,
            "cycle_second_stair_count": None,
            "decay_step_size": 2,
            "cycle_momentum": False,
            "cycle_min_mom": 0.8,
            "cycle_max_mom": 0.9,
            "decay_mom_rate": 0.1,
        },
    ),
    # lightning-bolts
    "LinearWarmupCosineAnnealingLR": (
        ls.LinearWarmupCosineAnnealingLR,
        {"warmup_epochs": 3, "max_epochs": 20, "warmup_start_lr": 0.01, "eta_min": 0.001},
    ),
    "LinearWarmupDecayLR": (
        ls.LinearWarmupDecayLR,
        {"warmup_steps": 3, "total_steps": 20, "cosine": False, "linear": True},
    ),
    "linear_warmup_decay": (ls.linear_warmup_decay, {"warmup_steps": 3, "total_steps": 20, "cosine": True}),
    "ReduceLROnPlateau": (ls.ReduceLROnPlateau, {"monitor": "val_loss", "factor": 0.5, "patience": 2}),
    "GreedyLR": (GreedyLR, {"monitor": "val_loss", "factor": 0.5, "patience": 2, "min_lr": 0.001, "max_lr": 1.0}),
    "ReduceAttributeOnPlateau": (
        ls.ReduceAttributeOnPlateau,
        {"monitor": "val_loss", "param_name": "kl", "factor": 0.5, "patience": 2},
    ),
}
COMMON_CALLBACK_ARGUMENTS = {
    "interval": "step",
    "optimizer": 0,
    "name": "x",
    "save_history": False,
    "logging_enabled": True,
    "on_resume": "continue",
}


def arguments_of(build: Callable[..., Any], given: dict[str, Any]) -> list[str]:
    """Every named argument of ``build``: its signature's, and the common ones its ``**kwargs`` accept."""
    parameters = inspect.signature(build).parameters
    names = {n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        for name, valid in COMMON_CALLBACK_ARGUMENTS.items():
            try:
                build(**given, **{name: valid})
            except TypeError:
                continue  # not an argument of this callback
            names.add(name)
    return sorted(names | set(given))


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def fail(*_: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _mentions_value(message: str, value: Any) -> bool:
    if repr(value) in message or str(value) in message:
        return True
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1e300:
        return repr(float(value)) in message  # an int argument as the float it was taken as
    if isinstance(value, (list, tuple)):
        return any(_mentions_value(message, item) for item in value)
    return False


def check_error_names(error: Exception, argument: str, value: Any) -> None:
    message = str(error)
    assert argument in message, f"the message does not name `{argument}`: {message!r}"
    assert _mentions_value(message, value), f"the message does not repeat {value!r}: {message!r}"


def schedules_in(obj: Any) -> Iterator[s.Schedule]:
    """The schedules a constructor's result holds (a schedule, phases, a dict of schedules)."""
    if isinstance(obj, s.Schedule):
        yield obj if obj.is_resolved else obj.resolve(1000)
    elif isinstance(obj, s.Phase):
        for _, schedule in obj.schedules:
            yield from schedules_in(schedule)
    elif isinstance(obj, dict):
        for schedule in obj.values():
            yield from schedules_in(schedule)
    elif isinstance(obj, list):
        for item in obj:
            yield from schedules_in(item)


def exercise(obj: Any) -> None:
    """Use what was built: values up to 10**12 are finite or raise a ValueError naming arguments."""
    for schedule in schedules_in(obj):
        # A running product of a user function has no closed form: a jump to t costs t calls.
        closed_form = not isinstance(schedule, s.CumulativeProduct)
        for t in EVENTS if closed_form else [t for t in EVENTS if t <= 10**4]:
            try:
                v = schedule.value(t)
            except ValueError as error:
                assert "overflow" in str(error) and "`" in str(error), str(error)
                break  # growth reached float64's limit: named, and later events overflow too
            assert math.isfinite(v), (schedule, t, v)
        if isinstance(schedule, s.Space):
            first = list(itertools.islice(schedule, 10))  # iterated lazily: 2**40 steps allocate nothing
            assert len(first) == min(len(schedule), 10) and all(math.isfinite(v) for v in first)
    if isinstance(obj, ls.SchedulerCallback):
        repr(obj)
        values = obj.simulate(64, initial=0.1)
        assert np.isfinite(values).all()
    if isinstance(obj, PlateauState):
        for metric in (1.0, 0.5, math.nan, 0.7, 0.8, 0.9):
            obj.step(metric)
    if isinstance(obj, ls.FitPlan):
        assert obj.total_steps >= 1
    if isinstance(obj, ls.Preview):
        obj.table()
        assert all(np.isfinite(column).all() for column in obj.values.values())
    if isinstance(obj, (ls.ParamGroup, ls.Attribute)):
        obj.describe()


@pytest.mark.parametrize("constructor", sorted(BASE))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_argument_gives_values_or_a_named_error(constructor: str, data: st.DataObject) -> None:
    build, valid = BASE[constructor]
    argument = data.draw(st.sampled_from(arguments_of(build, valid)), label="argument")
    value = data.draw(st.sampled_from(HOSTILE), label="value")
    kwargs = {**valid, argument: value}
    with time_limit(10):
        try:
            built = build(**kwargs)
        except (TypeError, ValueError) as error:
            check_error_names(error, argument, value)
            return
        try:
            exercise(built)
        except (TypeError, ValueError) as error:
            # A combination that only fails when used (a fraction resolved, a simulate) still names it.
            check_error_names(error, argument, value)


def test_every_public_constructor_is_covered() -> None:
    covered = {build for build, _ in BASE.values()}
    public = [getattr(ls, name) for name in ls.__all__ if callable(getattr(ls, name)) and name != "__version__"]
    public += [getattr(s, name) for name in s.__all__ if name not in ("Schedule", "deferrable")]
    public += [getattr(presets, name) for name in presets.__all__]
    missing = {getattr(c, "__qualname__", repr(c)) for c in public if c not in covered}
    # The Phase builder above wraps Phase (its schedules are keyword arguments); the abstract bases are not built.
    assert missing <= {"Phase", "SchedulerCallback", "Schedule"}, sorted(missing)


# -- the cases issue 23's campaign found, each made explicit


@pytest.mark.parametrize("arguments", [None, "x", 3, [1, 2], [("peak",)], [(1, 2.0)], {"peak": 1.0}, [("nope", 1)]])
def test_deferred_refuses_arguments_that_do_not_fit(arguments: Any) -> None:
    with pytest.raises(TypeError, match="arguments") as raised:
        s.Deferred(presets.warmup_cosine, arguments)
    check_error_names(raised.value, "arguments", arguments)


@pytest.mark.parametrize("fn", [None, 1.0, "warmup_cosine", [presets.warmup_cosine]])
def test_deferred_refuses_a_non_callable(fn: Any) -> None:
    with pytest.raises(TypeError, match="`fn` must be callable"):
        s.Deferred(fn, (("peak", 1.0),))


def test_deferred_names_the_fraction_a_failing_check_resolved() -> None:
    deferred = presets.warmup_cosine(1.0, 100, warmup_steps=0.9)
    with pytest.raises(ValueError, match=r"`warmup_steps`=TrainingFraction\(fraction=0.9\) of a fit of 1000 events"):
        deferred.resolve(1000)


MULTIPLIERS = ["cycle_mult", "start_value_mult", "end_value_mult"]


@pytest.mark.parametrize("argument", MULTIPLIERS)
@pytest.mark.parametrize("value", [1.000001, 1.5, 1e3, 1e100, 1e200, 1e308])
@pytest.mark.parametrize("shape", ["cosine", "linear_monotonic"])
def test_huge_cyclical_multipliers_give_finite_values_or_name_the_multiplier(
    argument: str, value: float, shape: str
) -> None:
    """ignite's cyclical multipliers: values finite at every event up to 10**12, or an error naming them."""
    schedule = s.CyclicalAnneal(shape, 1.0, 0.1, cycle_size=4, warmup_duration=2, **{argument: value})
    callback = (ls.CosineAnnealingScheduler if shape == "cosine" else ls.LinearCyclicalScheduler)(
        "lr", 1.0, 0.1, cycle_size=4, **{argument: value}, **({"monotonic": True} if shape != "cosine" else {})
    )
    with time_limit(10):
        for t in EVENTS:
            try:
                assert math.isfinite(schedule.value(t))
            except ValueError as error:
                check_error_names(error, argument, value)
                break
        try:
            assert np.isfinite(callback.simulate(500)).all()
        except ValueError as error:
            check_error_names(error, argument, value)


def nan_at_3(t: int) -> float:
    return math.nan if t == 3 else 0.5


@pytest.mark.parametrize("callback", [ls.LambdaLR, ls.MultiplicativeLR])
def test_a_lambda_returning_nan_is_named_not_an_overflow(callback: Callable[..., ls.SchedulerCallback]) -> None:
    with pytest.raises(ValueError, match=r"`lr_lambda` \(.*nan_at_3\) returned nan at event 3") as raised:
        callback(nan_at_3).simulate(6, initial=0.1)
    assert "overflow" not in str(raised.value)
    with pytest.raises(ValueError, match=r"`lr_lambda\[1\]` \(.*nan_at_3\) returned nan at event 3"):
        callback([half, nan_at_3]).simulate(6, initial=[0.1, 0.2])


def test_a_lambda_returning_nan_in_a_fit_names_lr_lambda_and_the_epoch() -> None:
    from _helpers import TinyModule, make_trainer

    with pytest.raises(ValueError, match=r"LambdaLR at epoch 3: `lr_lambda` \(.*nan_at_3\) returned nan at event 3"):
        make_trainer([ls.LambdaLR(nan_at_3)], max_epochs=5, limit_train_batches=2, limit_val_batches=0).fit(
            TinyModule()
        )
