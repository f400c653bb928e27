"""Hyperparameter scheduling as plug-in PyTorch Lightning callbacks.

Three layers (see the README): pure closed-form schedules (:mod:`lightning_schedulers.schedules`,
with ready compositions in :mod:`lightning_schedulers.presets`), targets that say where a value
goes (:class:`ParamGroup`, :class:`Attribute`), and thin Lightning callbacks that apply a schedule
on a clock: the generic :class:`ScheduleCallback` and the familiar scheduler families of torch,
ignite, braintools/optax and poutyne under their own names.

The pure schedule classes live in :mod:`lightning_schedulers.schedules` (the top level keeps the
callback names, for instance ignite's ``PiecewiseLinear`` callback).

Example:
    >>> import lightning_schedulers as ls
    >>> from lightning_schedulers.schedules import Cosine
    >>> callback = ls.ScheduleCallback(Cosine(0.1, 0.001, 1000))
    >>> [round(float(v), 6) for v in callback.simulate(1001)[[0, 500, 1000]]]
    [0.1, 0.0505, 0.001]
"""

from lightning_schedulers import presets, schedules
from lightning_schedulers.callbacks import ScheduleCallback, SchedulerCallback
from lightning_schedulers.durations import TrainingFraction, fraction
from lightning_schedulers.ignite_family import (
    ConcatScheduler,
    CosineAnnealingScheduler,
    CosineAnnealingStateScheduler,
    ExpStateScheduler,
    LambdaStateScheduler,
    LinearCyclicalScheduler,
    LinearCyclicalStateScheduler,
    MultiStepStateScheduler,
    PiecewiseLinear,
    PiecewiseLinearStateScheduler,
    StepStateScheduler,
    create_lr_scheduler_with_warmup,
)
from lightning_schedulers.modern import (
    CosineCyclesLR,
    InverseSqrtLR,
    PolynomialDecayLR,
    WarmupCosineLR,
    WarmupStableDecayLR,
)
from lightning_schedulers.on_plateau import ReduceAttributeOnPlateau, ReduceLROnPlateau
from lightning_schedulers.optax_family import ExponentialDecayLR
from lightning_schedulers.poutyne_family import OptimizerPolicy
from lightning_schedulers.presets import one_cycle_phases, sgdr_phases
from lightning_schedulers.previews import FitPlan, Preview, preview
from lightning_schedulers.schedules import Phase, Schedule, cosinespace, join_phases, linspace
from lightning_schedulers.targets import Attribute, ParamGroup
from lightning_schedulers.torch_family import (
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

__version__ = "0.1.0"

__all__ = [
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
]
