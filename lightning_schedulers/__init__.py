"""Hyperparameter scheduling as plug-in PyTorch Lightning callbacks.

Three layers (see the documentation's Concepts page): pure closed-form schedules (:mod:`lightning_schedulers.schedules`,
with ready compositions in :mod:`lightning_schedulers.schedules.presets`), targets that say where a
value goes (:class:`ParamGroup`, :class:`Attribute`), and thin Lightning callbacks that apply a
schedule on a clock: the generic :class:`ScheduleCallback` and the familiar scheduler families of
torch, ignite, braintools/optax and poutyne under their own names (:mod:`lightning_schedulers.families`).

The top level is lazy: a name is imported on first use, so ``import lightning_schedulers.schedules``
(the pure layer) loads neither torch nor Lightning. The pure schedule classes live in
:mod:`lightning_schedulers.schedules` (the top level keeps the callback names, for instance
ignite's ``PiecewiseLinear`` callback).

Examples:
    >>> import lightning_schedulers as ls
    >>> from lightning_schedulers.schedules import Cosine
    >>> callback = ls.ScheduleCallback(Cosine(0.1, 0.001, 1000))
    >>> [round(float(v), 6) for v in callback.simulate(1001)[[0, 500, 1000]]]
    [0.1, 0.0505, 0.001]
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# Where each public name lives (imported on first access).
_SOURCES: dict[str, tuple[str, ...]] = {
    "lightning_schedulers.callbacks.base": ("SchedulerCallback",),
    "lightning_schedulers.callbacks.generic": ("ScheduleCallback",),
    "lightning_schedulers.callbacks.plateau": ("ReduceAttributeOnPlateau", "ReduceLROnPlateau"),
    "lightning_schedulers.callbacks.greedy": ("GreedyLR",),
    "lightning_schedulers.families.bolts": (
        "LinearWarmupCosineAnnealingLR",
        "LinearWarmupDecayLR",
        "linear_warmup_decay",
    ),
    "lightning_schedulers.callbacks.cooldown": ("Cooldown",),
    "lightning_schedulers.callbacks.ema": ("EMAWeightAveraging",),
    "lightning_schedulers.callbacks.ramp": ("BatchSizeRamp",),
    "lightning_schedulers.callbacks.schedulefree": ("ScheduleFree",),
    "lightning_schedulers.schedules.ema": ("EMAWarmup", "HalfLife"),
    "lightning_schedulers.families.deepspeed": ("LRRangeTest", "WarmupDecayLR", "WarmupLR"),
    "lightning_schedulers.families.ignite": (
        "ConcatScheduler",
        "CosineAnnealingScheduler",
        "LinearCyclicalScheduler",
        "PiecewiseLinear",
        "create_lr_scheduler_with_warmup",
    ),
    "lightning_schedulers.families.ignite_state": (
        "CosineAnnealingStateScheduler",
        "ExpStateScheduler",
        "LambdaStateScheduler",
        "LinearCyclicalStateScheduler",
        "MultiStepStateScheduler",
        "PiecewiseLinearStateScheduler",
        "StepStateScheduler",
    ),
    "lightning_schedulers.families.modern": (
        "CosineCyclesLR",
        "InverseSqrtLR",
        "PolynomialDecayLR",
        "WarmupCosineLR",
        "WarmupStableDecayLR",
    ),
    "lightning_schedulers.families.optax": ("ExponentialDecayLR",),
    "lightning_schedulers.families.poutyne": ("OptimizerPolicy",),
    "lightning_schedulers.families.timm": (
        "CosineLRScheduler",
        "MultiStepLRScheduler",
        "PlateauLRScheduler",
        "PolyLRScheduler",
        "StepLRScheduler",
        "TanhLRScheduler",
    ),
    "lightning_schedulers.families.transformers": ("TransformersLR", "get_scheduler"),
    "lightning_schedulers.families.external": ("TorchScheduler",),
    "lightning_schedulers.families.torch": (
        "ChainedScheduler",
        "ConstantLR",
        "CosineAnnealingLR",
        "CosineAnnealingWarmRestarts",
        "CyclicLR",
        "ExponentialLR",
        "LambdaLR",
        "LinearLR",
        "MultiStepLR",
        "MultiplicativeLR",
        "OneCycleLR",
        "PolynomialLR",
        "SequentialLR",
        "SWALR",
        "StepLR",
    ),
    "lightning_schedulers.layer_decay": ("param_groups_layer_decay",),
    "lightning_schedulers.previews": ("FitPlan", "Preview", "preview"),
    "lightning_schedulers.schedules": ("Phase", "Schedule", "cosinespace", "join_phases", "linspace"),
    "lightning_schedulers.schedules.durations": ("Duration", "TrainingFraction", "fraction"),
    "lightning_schedulers.schedules.presets": ("one_cycle_phases", "sgdr_phases"),
    "lightning_schedulers.targets": ("Attribute", "ParamGroup"),
}
_WHERE = {name: module for module, names in _SOURCES.items() for name in names}
_SUBMODULES = ("presets", "schedules")

# Module paths of earlier releases, served with the contents of the modules that hold them now.
_MOVED = {
    "lightning_schedulers.ignite_family": (
        "lightning_schedulers.families.ignite",
        "lightning_schedulers.families.ignite_state",
    ),
    "lightning_schedulers.modern": ("lightning_schedulers.families.modern",),
    "lightning_schedulers.on_plateau": ("lightning_schedulers.callbacks.plateau",),
    "lightning_schedulers.optax_family": ("lightning_schedulers.families.optax",),
    "lightning_schedulers.poutyne_family": ("lightning_schedulers.families.poutyne",),
    "lightning_schedulers.torch_family": ("lightning_schedulers.families.torch",),
}

# Written out, not computed: type checkers read a literal __all__ to know what the package exports
# (tests/test_typing.py checks it lists exactly the names above).
__all__ = [
    "Attribute",
    "BatchSizeRamp",
    "ChainedScheduler",
    "ConcatScheduler",
    "ConstantLR",
    "Cooldown",
    "CosineAnnealingLR",
    "CosineAnnealingScheduler",
    "CosineAnnealingStateScheduler",
    "CosineAnnealingWarmRestarts",
    "CosineCyclesLR",
    "CosineLRScheduler",
    "CyclicLR",
    "Duration",
    "EMAWarmup",
    "EMAWeightAveraging",
    "ExpStateScheduler",
    "ExponentialDecayLR",
    "ExponentialLR",
    "FitPlan",
    "GreedyLR",
    "HalfLife",
    "InverseSqrtLR",
    "LRRangeTest",
    "LambdaLR",
    "LambdaStateScheduler",
    "LinearCyclicalScheduler",
    "LinearCyclicalStateScheduler",
    "LinearLR",
    "LinearWarmupCosineAnnealingLR",
    "LinearWarmupDecayLR",
    "MultiStepLR",
    "MultiStepLRScheduler",
    "MultiStepStateScheduler",
    "MultiplicativeLR",
    "OneCycleLR",
    "OptimizerPolicy",
    "ParamGroup",
    "PlateauLRScheduler",
    "Phase",
    "PiecewiseLinear",
    "PiecewiseLinearStateScheduler",
    "PolyLRScheduler",
    "PolynomialDecayLR",
    "PolynomialLR",
    "Preview",
    "ReduceAttributeOnPlateau",
    "ReduceLROnPlateau",
    "SWALR",
    "Schedule",
    "ScheduleCallback",
    "ScheduleFree",
    "SchedulerCallback",
    "SequentialLR",
    "StepLR",
    "StepLRScheduler",
    "StepStateScheduler",
    "TanhLRScheduler",
    "TorchScheduler",
    "TrainingFraction",
    "TransformersLR",
    "WarmupCosineLR",
    "WarmupDecayLR",
    "WarmupLR",
    "WarmupStableDecayLR",
    "cosinespace",
    "create_lr_scheduler_with_warmup",
    "fraction",
    "get_scheduler",
    "join_phases",
    "linear_warmup_decay",
    "linspace",
    "one_cycle_phases",
    "param_groups_layer_decay",
    "presets",
    "preview",
    "schedules",
    "sgdr_phases",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves an old module path with the public names of the modules that hold them now (same objects)."""

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> Any:
        if fullname not in _MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> ModuleType:
        return ModuleType(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        names: list[str] = []
        for source in _MOVED[module.__name__]:
            new = importlib.import_module(source)
            names += new.__all__
            module.__dict__.update({name: getattr(new, name) for name in new.__all__})
        module.__all__ = names  # type: ignore[attr-defined]


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())

if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from lightning_schedulers import presets, schedules
    from lightning_schedulers.callbacks.base import SchedulerCallback
    from lightning_schedulers.callbacks.cooldown import Cooldown
    from lightning_schedulers.callbacks.ema import EMAWeightAveraging
    from lightning_schedulers.callbacks.generic import ScheduleCallback
    from lightning_schedulers.callbacks.greedy import GreedyLR
    from lightning_schedulers.callbacks.plateau import ReduceAttributeOnPlateau, ReduceLROnPlateau
    from lightning_schedulers.callbacks.ramp import BatchSizeRamp
    from lightning_schedulers.callbacks.schedulefree import ScheduleFree
    from lightning_schedulers.families.bolts import (
        LinearWarmupCosineAnnealingLR,
        LinearWarmupDecayLR,
        linear_warmup_decay,
    )
    from lightning_schedulers.families.deepspeed import LRRangeTest, WarmupDecayLR, WarmupLR
    from lightning_schedulers.families.external import TorchScheduler
    from lightning_schedulers.families.ignite import (
        ConcatScheduler,
        CosineAnnealingScheduler,
        LinearCyclicalScheduler,
        PiecewiseLinear,
        create_lr_scheduler_with_warmup,
    )
    from lightning_schedulers.families.ignite_state import (
        CosineAnnealingStateScheduler,
        ExpStateScheduler,
        LambdaStateScheduler,
        LinearCyclicalStateScheduler,
        MultiStepStateScheduler,
        PiecewiseLinearStateScheduler,
        StepStateScheduler,
    )
    from lightning_schedulers.families.modern import (
        CosineCyclesLR,
        InverseSqrtLR,
        PolynomialDecayLR,
        WarmupCosineLR,
        WarmupStableDecayLR,
    )
    from lightning_schedulers.families.optax import ExponentialDecayLR
    from lightning_schedulers.families.poutyne import OptimizerPolicy
    from lightning_schedulers.families.timm import (
        CosineLRScheduler,
        MultiStepLRScheduler,
        PlateauLRScheduler,
        PolyLRScheduler,
        StepLRScheduler,
        TanhLRScheduler,
    )
    from lightning_schedulers.families.torch import (
        SWALR,
        ChainedScheduler,
        ConstantLR,
        CosineAnnealingLR,
        CosineAnnealingWarmRestarts,
        CyclicLR,
        ExponentialLR,
        LambdaLR,
        LinearLR,
        MultiplicativeLR,
        MultiStepLR,
        OneCycleLR,
        PolynomialLR,
        SequentialLR,
        StepLR,
    )
    from lightning_schedulers.families.transformers import TransformersLR, get_scheduler
    from lightning_schedulers.layer_decay import param_groups_layer_decay
    from lightning_schedulers.previews import FitPlan, Preview, preview
    from lightning_schedulers.schedules import Phase, Schedule, cosinespace, join_phases, linspace
    from lightning_schedulers.schedules.durations import Duration, TrainingFraction, fraction
    from lightning_schedulers.schedules.ema import EMAWarmup, HalfLife
    from lightning_schedulers.schedules.presets import one_cycle_phases, sgdr_phases
    from lightning_schedulers.targets import Attribute, ParamGroup
