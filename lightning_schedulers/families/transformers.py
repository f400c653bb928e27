"""HF transformers' schedules as Lightning callbacks: ``get_scheduler(name, ...)`` with transformers' names.

``get_scheduler("cosine", warmup_steps=500)`` returns the callback that applies what
``transformers.get_scheduler("cosine", optimizer, num_warmup_steps=500, num_training_steps=...)``
gives when Lightning steps it once per optimizer step: each param group's initial lr times the
schedule's factor. The training length is the fit's (``trainer.estimated_stepping_batches``)
unless given, and every length may be a fraction of training. transformers itself is not needed.

Examples:
    >>> import lightning_schedulers as ls
    >>> cb = ls.get_scheduler("linear", warmup_steps=2, total_steps=6)
    >>> cb.simulate(7, initial=0.1).round(4).tolist()
    [0.0, 0.05, 0.1, 0.075, 0.05, 0.025, 0.0]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl

from lightning_schedulers._validation import check_choice, check_float, check_int
from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.greedy import GreedyLR
from lightning_schedulers.callbacks.options import GetSchedulerOptions, LROptions, Unpack
from lightning_schedulers.callbacks.plateau import ReduceLROnPlateau
from lightning_schedulers.families.common import _TotalFromTrainer
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import Scale
from lightning_schedulers.schedules.durations import Duration, check_duration
from lightning_schedulers.schedules.transformers import NAMES, SHAPES, TransformersFactor
from lightning_schedulers.targets import resolve_optimizer

__all__ = ["TransformersLR", "get_scheduler"]

#: The schedules whose length is the training length (transformers' ``num_training_steps``).
_NEED_TOTAL = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
)
#: The schedules with a floor given as ``min_lr`` or ``min_lr_rate``.
_MIN_LR_KINDS = ("cosine_with_min_lr", "cosine_warmup_with_min_lr")


class TransformersLR(_TotalFromTrainer):
    """One of HF transformers' schedules (``kind``), relative to each param group's initial lr.

    Args:
        kind: transformers' schedule name: ``linear``, ``cosine``, ``cosine_with_restarts``,
            ``polynomial``, ``constant``, ``constant_with_warmup``, ``inverse_sqrt``,
            ``cosine_with_min_lr``, ``cosine_warmup_with_min_lr`` or ``warmup_stable_decay``.
        warmup_steps: ``num_warmup_steps`` (0 by default, where transformers requires it).
        total_steps: ``num_training_steps``; the fit's length when ``None``.
        num_cycles: transformers' ``num_cycles`` (0.5, or 1 for ``cosine_with_restarts``, when ``None``).
        lr_end: ``polynomial``'s final lr (absolute, as in transformers).
        power: ``polynomial``'s power.
        timescale: ``inverse_sqrt``'s timescale (``warmup_steps``, or 10,000, when ``None``).
        min_lr: the floor of ``cosine_with_min_lr`` and ``cosine_warmup_with_min_lr`` (absolute);
            or give ``min_lr_rate``.
        min_lr_rate: that floor as a fraction of the initial lr.
        num_stable_steps: ``warmup_stable_decay``'s stable length (the rest of the fit when ``None``).
        num_decay_steps: ``warmup_stable_decay``'s decay length.
        warmup_type: ``warmup_stable_decay``'s warmup shape: ``linear``, ``cosine`` or ``1-sqrt``.
        decay_type: ``warmup_stable_decay``'s decay shape.
        min_lr_ratio: ``warmup_stable_decay``'s floor as a fraction of the initial lr.
        warmup_lr_rate: ``cosine_warmup_with_min_lr``'s first warmup factor, rising linearly to 1
            at ``warmup_steps - 1``; ``None`` warms up as transformers' default, ``(t + 1) / warmup_steps``.
        **kwargs: the common keyword arguments (``interval="step"`` by default).

    ``lr_end`` and ``min_lr`` are divided by the optimizer's default lr (``optimizer.defaults["lr"]``)
    at the start of the fit, as transformers does; ``simulate`` uses the first initial value.

    Examples:
        >>> TransformersLR("constant_with_warmup", warmup_steps=4).simulate(6, initial=1.0).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    _default_interval = "step"

    def __init__(
        self,
        kind: str,
        warmup_steps: Duration = 0,
        total_steps: Duration | None = None,
        *,
        num_cycles: float | None = None,
        lr_end: float = 1e-7,
        power: float = 1.0,
        timescale: int | None = None,
        min_lr: float | None = None,
        min_lr_rate: float | None = None,
        num_stable_steps: Duration | None = None,
        num_decay_steps: Duration | None = None,
        warmup_type: str = "linear",
        decay_type: str = "cosine",
        min_lr_ratio: float = 0.0,
        warmup_lr_rate: float | None = None,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.kind = check_choice("kind", kind, NAMES)
        self.warmup_steps = check_duration("warmup_steps", warmup_steps, minimum=0)
        self.total_steps = None if total_steps is None else check_duration("total_steps", total_steps, minimum=1)
        self.num_cycles = None if num_cycles is None else check_float("num_cycles", num_cycles)
        self.lr_end = check_float("lr_end", lr_end, non_negative=True)
        self.power = check_float("power", power)
        self.timescale = None if timescale is None else check_int("timescale", timescale, minimum=1)
        if min_lr is not None and min_lr_rate is not None:
            raise ValueError(f"give one of `min_lr`={min_lr!r} and `min_lr_rate`={min_lr_rate!r}, as transformers")
        if kind in _MIN_LR_KINDS and min_lr is None and min_lr_rate is None:
            raise ValueError(f"{kind!r} needs `min_lr` or `min_lr_rate`, as in transformers; got neither")
        self.min_lr = None if min_lr is None else check_float("min_lr", min_lr, non_negative=True)
        self.min_lr_rate = None if min_lr_rate is None else check_float("min_lr_rate", min_lr_rate)
        self.num_stable_steps = (
            None if num_stable_steps is None else check_duration("num_stable_steps", num_stable_steps, minimum=0)
        )
        self.num_decay_steps = (
            None if num_decay_steps is None else check_duration("num_decay_steps", num_decay_steps, minimum=0)
        )
        if kind == "warmup_stable_decay" and self.num_decay_steps is None:
            raise ValueError("'warmup_stable_decay' needs `num_decay_steps`, as in transformers; got None")
        self.warmup_type = check_choice("warmup_type", warmup_type, SHAPES)
        self.decay_type = check_choice("decay_type", decay_type, SHAPES)
        self.min_lr_ratio = check_float("min_lr_ratio", min_lr_ratio)
        self.warmup_lr_rate = None if warmup_lr_rate is None else check_float("warmup_lr_rate", warmup_lr_rate)
        self._lr_init: float | None = None  # the optimizer's default lr, read when the fit starts
        if self._uses_total():
            self._set_total(self.total_steps)
        else:
            self._horizon = None  # no end: the schedule is defined for every step

    def _uses_total(self) -> bool:
        return self.kind in _NEED_TOTAL or (self.kind == "warmup_stable_decay" and self.num_stable_steps is None)

    def _resolved_total(self) -> int:
        return super()._resolved_total() if self._uses_total() else 1

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        optimizer = trainer.optimizers[resolve_optimizer(self.optimizer, trainer.optimizers)]
        self._lr_init = float(optimizer.defaults["lr"])
        if self._uses_total():
            super()._resolve(trainer, restored)

    def _factor(self, lr_init: float) -> TransformersFactor:
        kind = self.kind
        default_cycles = 1.0 if kind == "cosine_with_restarts" else 0.5
        min_ratio = self.min_lr_ratio
        if kind in _MIN_LR_KINDS:
            min_ratio = self.min_lr_rate if self.min_lr is None else self.min_lr / lr_init  # type: ignore[assignment]
        if kind == "polynomial" and not lr_init > self.lr_end:
            raise ValueError(
                f"`lr_end`={self.lr_end!r} must be smaller than the initial lr ({lr_init!r}), as in transformers"
            )
        return TransformersFactor(
            kind,
            warmup_steps=self._dur(self.warmup_steps),
            total_steps=self._resolved_total(),
            num_cycles=default_cycles if self.num_cycles is None else self.num_cycles,
            power=self.power,
            end_ratio=self.lr_end / lr_init if kind == "polynomial" else 0.0,
            min_ratio=min_ratio,
            timescale=self.timescale or 0,
            stable_steps=-1 if self.num_stable_steps is None else self._dur(self.num_stable_steps),
            decay_steps=0 if self.num_decay_steps is None else self._dur(self.num_decay_steps),
            warmup_type=self.warmup_type,
            decay_type=self.decay_type,
            warmup_lr_rate=self.warmup_lr_rate,
        )

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        lr_init = self._lr_init if self._lr_init is not None else (bases[0] if bases else 1.0)
        factor = self._factor(lr_init)
        return [Scale(factor, base) for base in bases]


def get_scheduler(
    name: str,
    warmup_steps: Duration | None = None,
    total_steps: Duration | None = None,
    scheduler_specific_kwargs: dict[str, Any] | None = None,
    **kwargs: Unpack[GetSchedulerOptions],
) -> SchedulerCallback:
    """The callback for HF transformers' schedule ``name`` (``transformers.get_scheduler``'s names).

    Args:
        name: ``linear``, ``cosine``, ``cosine_with_restarts``, ``polynomial``, ``constant``,
            ``constant_with_warmup``, ``inverse_sqrt``, ``reduce_lr_on_plateau``,
            ``cosine_with_min_lr``, ``cosine_warmup_with_min_lr``, ``warmup_stable_decay`` or
            ``greedy`` (transformers' ``GreedyLR``, metric-driven like ``reduce_lr_on_plateau``).
        warmup_steps: ``num_warmup_steps`` (also accepted under that name); 0 when ``None``.
        total_steps: ``num_training_steps`` (also accepted under that name); the fit's length
            when ``None``.
        scheduler_specific_kwargs: transformers' extra arguments (``num_cycles``, ``lr_end``,
            ``power``, ``timescale``, ``min_lr``, ``min_lr_rate``, ``num_stable_steps``,
            ``num_decay_steps``, ``warmup_type``, ``decay_type``, ``min_lr_ratio``,
            ``warmup_lr_rate``); for
            ``reduce_lr_on_plateau``, :class:`~lightning_schedulers.ReduceLROnPlateau`'s
            arguments, ``monitor`` (the logged metric) among them; for ``greedy``,
            :class:`~lightning_schedulers.callbacks.greedy.GreedyLR`'s.
        **kwargs: the common keyword arguments of the callback (``interval``, ``optimizer``, ...),
            and transformers' ``num_warmup_steps``, ``num_training_steps``.

    Returns:
        A :class:`TransformersLR`, a :class:`~lightning_schedulers.ReduceLROnPlateau` or a
        :class:`~lightning_schedulers.callbacks.greedy.GreedyLR`.

    Examples:
        >>> cb = get_scheduler("cosine", num_warmup_steps=1, num_training_steps=3)
        >>> cb.simulate(4, initial=1.0).round(3).tolist()
        [0.0, 1.0, 0.5, 0.0]
    """
    if scheduler_specific_kwargs is not None and not (
        isinstance(scheduler_specific_kwargs, Mapping) and all(isinstance(k, str) for k in scheduler_specific_kwargs)
    ):
        raise TypeError(
            f"`scheduler_specific_kwargs` must be a dict of argument names to values, got {scheduler_specific_kwargs!r}"
        )
    extra = dict(scheduler_specific_kwargs or {})
    options: dict[str, Any] = dict(kwargs)
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str (a transformers schedule name), got {name!r}")
    warmup_steps = _alias("warmup_steps", warmup_steps, "num_warmup_steps", options)
    total_steps = _alias("total_steps", total_steps, "num_training_steps", options)
    if name == "reduce_lr_on_plateau":
        if warmup_steps or total_steps is not None:
            raise ValueError("'reduce_lr_on_plateau' takes neither warmup_steps nor total_steps, as in transformers")
        if "monitor" not in extra:
            raise ValueError(
                "'reduce_lr_on_plateau' needs the metric to watch: scheduler_specific_kwargs={'monitor': 'val_loss'} "
                "(transformers' Trainer uses metric_for_best_model)"
            )
        return _build(ReduceLROnPlateau, extra, options)
    if name == "greedy":
        if warmup_steps or total_steps is not None:
            raise ValueError("'greedy' takes neither warmup_steps nor total_steps, as in transformers")
        if "monitor" not in extra:
            raise ValueError(
                "'greedy' needs the metric to watch: scheduler_specific_kwargs={'monitor': 'val_loss'} "
                "(transformers' Trainer uses metric_for_best_model)"
            )
        return _build(GreedyLR, extra, options)
    if name not in NAMES:
        raise ValueError(f"`name` must be one of {(*NAMES, 'reduce_lr_on_plateau', 'greedy')}, got {name!r}")
    return _build(TransformersLR, extra, options, name, 0 if warmup_steps is None else warmup_steps, total_steps)


def _build(
    cls: type[SchedulerCallback], extra: dict[str, Any], kwargs: dict[str, Any], *args: Any
) -> SchedulerCallback:
    """``cls(*args, **extra, **kwargs)``, an unknown name in ``extra`` named as scheduler_specific_kwargs's."""
    known = cls.__signature__.parameters  # type: ignore[attr-defined]
    unknown = sorted(k for k in extra if k not in known)
    if unknown:
        raise TypeError(f"`scheduler_specific_kwargs` has {unknown}, which {cls.__name__} does not take")
    return cls(*args, **extra, **kwargs)


def _alias(name: str, value: Any, hf_name: str, kwargs: dict[str, Any]) -> Any:
    if hf_name in kwargs:
        if value is not None:
            raise TypeError(f"give `{name}` or transformers' `{hf_name}`, not both")
        return kwargs.pop(hf_name)
    return value
