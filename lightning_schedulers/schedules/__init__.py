"""The pure layer: what value a hyperparameter takes at event ``t``. No torch, no Lightning.

A schedule is a small frozen dataclass whose formula is written once, vectorised with numpy;
``value(t)`` evaluates it for one event and ``values(ts)`` for many, with identical results on every
CPU. Every formula is closed form: ``value(10**12)`` costs what ``value(0)`` costs, and no schedule
keeps a counter (except :class:`CumulativeProduct`, the product of a user function, which cannot).

* :mod:`~lightning_schedulers.schedules.shapes`: constant, linear, cosine, exponential, step, polynomial, ...
* :mod:`~lightning_schedulers.schedules.composition`: joins in local time, products, scaling, clamps.
* :mod:`~lightning_schedulers.schedules.phases`: poutyne's spaces and phases.
* :mod:`~lightning_schedulers.schedules.references`: torch's, timm's and ignite's own cyclic shapes.
* :mod:`~lightning_schedulers.schedules.presets`: warmup-cosine, WSD, Noam, one-cycle and SGDR phases.
* :mod:`~lightning_schedulers.schedules.durations`: durations as fractions of the fit.

Examples:
    >>> from lightning_schedulers.schedules import Cosine, Linear, join
    >>> warmup_cosine = join([Linear(0.0, 1.0, 10), Cosine(1.0, 0.1, 90)], boundaries=[10])
    >>> warmup_cosine.value(0), warmup_cosine.value(10), warmup_cosine.value(100)
    (0.0, 1.0, 0.1)

"""

from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import (
    Clamp,
    CumulativeProduct,
    Deferred,
    Join,
    Lambda,
    Product,
    Scale,
    Shift,
    deferrable,
    join,
    sequence,
)
from lightning_schedulers.schedules.durations import TrainingFraction, fraction
from lightning_schedulers.schedules.phases import Phase, Space, cosinespace, join_phases, linspace
from lightning_schedulers.schedules.references import CosineCycles, CosineRestarts, Cyclic, CyclicalAnneal, OneCycle
from lightning_schedulers.schedules.shapes import (
    Constant,
    Cosine,
    Exponential,
    InverseSqrt,
    Linear,
    MultiStep,
    PiecewiseLinear,
    Polynomial,
    PowerRamp,
    Step,
)

__all__ = [
    "Clamp",
    "Constant",
    "Cosine",
    "CosineCycles",
    "CosineRestarts",
    "CumulativeProduct",
    "Cyclic",
    "CyclicalAnneal",
    "Deferred",
    "Exponential",
    "InverseSqrt",
    "Join",
    "Lambda",
    "Linear",
    "MultiStep",
    "OneCycle",
    "Phase",
    "PiecewiseLinear",
    "Polynomial",
    "PowerRamp",
    "Product",
    "Scale",
    "Schedule",
    "Shift",
    "Space",
    "Step",
    "TrainingFraction",
    "cosinespace",
    "deferrable",
    "fraction",
    "join",
    "join_phases",
    "linspace",
    "sequence",
]
