"""Hyperparameter scheduling as plug-in PyTorch Lightning callbacks.

Three layers (see the README): pure closed-form schedules (:mod:`lightning_schedulers.schedules`),
targets that say where a value goes (:class:`ParamGroup`, :class:`Attribute`), and thin Lightning
callbacks that apply a schedule on a clock (:class:`ScheduleCallback`).

Example:
    >>> import lightning_schedulers as ls
    >>> from lightning_schedulers.schedules import Cosine
    >>> callback = ls.ScheduleCallback(Cosine(0.1, 0.001, 1000))
    >>> [round(float(v), 6) for v in callback.simulate(1001)[[0, 500, 1000]]]
    [0.1, 0.0505, 0.001]

"""

from lightning_schedulers import schedules
from lightning_schedulers.callbacks import ScheduleCallback, SchedulerCallback
from lightning_schedulers.schedules import (
    Clamp,
    Constant,
    Cosine,
    CosineRestarts,
    CumulativeProduct,
    Cyclic,
    Exponential,
    Join,
    Lambda,
    Linear,
    MultiStep,
    OneCycle,
    Phase,
    PiecewiseLinear,
    Polynomial,
    Product,
    Scale,
    Schedule,
    Step,
    join,
    join_phases,
    sequence,
)
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
    "StepLR",
    "Clamp",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "CumulativeProduct",
    "Cyclic",
    "Exponential",
    "Join",
    "Lambda",
    "Linear",
    "MultiStep",
    "OneCycle",
    "ParamGroup",
    "Phase",
    "PiecewiseLinear",
    "Polynomial",
    "Product",
    "Scale",
    "Schedule",
    "ScheduleCallback",
    "SchedulerCallback",
    "Step",
    "__version__",
    "join",
    "join_phases",
    "schedules",
    "sequence",
]
