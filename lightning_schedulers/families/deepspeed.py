"""DeepSpeed's schedulers (``deepspeed.runtime.lr_schedules``) as Lightning callbacks, with DeepSpeed's arguments.

Each class takes its DeepSpeed namesake's arguments minus ``optimizer`` and
``last_batch_iteration``, plus the common keyword arguments (``interval="step"`` by default).
Values are what DeepSpeed's engine trains with (see :mod:`lightning_schedulers.schedules.deepspeed`):
the scheduler's constructor writes the first step's value and ``scheduler.step()`` runs after
every optimizer step, so step ``t`` trains with DeepSpeed's value for ``last_batch_iteration =
t - 1``. DeepSpeed is not needed.

Departures, each refusing what DeepSpeed would accept with a warning only: an unknown
``warmup_type`` is an error (DeepSpeed falls back to ``"log"``), and ``OneCycle`` with
``cycle_momentum=True`` on an optimizer without ``betas`` is an error at the start of the fit
(DeepSpeed stops cycling momentum); pass ``cycle_momentum=False`` there.

``WarmupCosineLR`` here is DeepSpeed's; the package's own
:class:`lightning_schedulers.WarmupCosineLR` (linear warmup, then cosine) is a different class.

Examples:
    >>> from lightning_schedulers.families.deepspeed import WarmupLR
    >>> WarmupLR(warmup_max_lr=1.0, warmup_num_steps=4, warmup_type="linear").simulate(7).tolist()
    [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl

from lightning_schedulers._validation import check_bool, check_choice, check_float, check_int
from lightning_schedulers.callbacks.binding import Binding
from lightning_schedulers.callbacks.options import LROptions, Unpack
from lightning_schedulers.families.common import _float_or_list, _per_group, _TorchLRScheduler, _TotalFromTrainer
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.deepspeed import (
    WARMUP_TYPES,
    DeepSpeedOneCycle,
    DeepSpeedRangeTest,
    DeepSpeedWarmup,
    DeepSpeedWarmupCosine,
)
from lightning_schedulers.schedules.durations import Duration, check_duration
from lightning_schedulers.schedules.shapes import Constant
from lightning_schedulers.targets import resolve_optimizer

__all__ = ["LRRangeTest", "OneCycle", "WarmupCosineLR", "WarmupDecayLR", "WarmupLR"]


def _slots(*values: Any) -> int | None:
    lists = [v for v in values if isinstance(v, tuple)]
    return len(lists[0]) if lists else None


def _check_warmup_steps(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`warmup_num_steps` must be a positive integer, got {value!r}")
    return check_int("warmup_num_steps", value, minimum=1)


class WarmupLR(_TorchLRScheduler):
    """DeepSpeed's ``WarmupLR``: warm up from ``warmup_min_lr`` to ``warmup_max_lr``, then hold it.

    Args:
        warmup_min_lr: the first lr (absolute; a float or one per param group).
        warmup_max_lr: the lr after the warmup (absolute; a float or one per group); each
            group's initial lr when ``None``, as DeepSpeed.
        warmup_num_steps: the warmup length in optimizer steps (DeepSpeed uses at least 2).
        warmup_type: ``"log"`` (DeepSpeed's default: ``log(t) / log(warmup_num_steps)`` of the
            way at step ``t``) or ``"linear"``.
        **kwargs: the common keyword arguments (``interval="step"`` by default).

    Examples:
        >>> WarmupLR(warmup_max_lr=1.0, warmup_num_steps=4).simulate(6).round(4).tolist()
        [0.0, 0.0, 0.5, 0.7925, 1.0, 1.0]
    """

    _default_interval = "step"

    def __init__(
        self,
        warmup_min_lr: float | Sequence[float] = 0.0,
        warmup_max_lr: float | Sequence[float] | None = None,
        warmup_num_steps: int = 1000,
        warmup_type: str = "log",
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.warmup_min_lr = _float_or_list("warmup_min_lr", warmup_min_lr, non_negative=True)
        self.warmup_max_lr = (
            None if warmup_max_lr is None else _float_or_list("warmup_max_lr", warmup_max_lr, non_negative=True)
        )
        self.warmup_num_steps = _check_warmup_steps(warmup_num_steps)
        self.warmup_type = check_choice("warmup_type", warmup_type, WARMUP_TYPES)

    def _slots(self) -> int | None:
        return _slots(self.warmup_min_lr, self.warmup_max_lr)

    def _decay_total(self) -> int | None:
        return None

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        lows = _per_group("warmup_min_lr", self.warmup_min_lr, len(bases), check_float)
        highs = (
            bases
            if self.warmup_max_lr is None
            else _per_group("warmup_max_lr", self.warmup_max_lr, len(bases), check_float)
        )
        total = self._decay_total()
        return [
            DeepSpeedWarmup(lo, hi, self.warmup_num_steps, self.warmup_type, total)
            for lo, hi in zip(lows, highs, strict=True)
        ]


class WarmupDecayLR(_TotalFromTrainer, WarmupLR):
    """DeepSpeed's ``WarmupDecayLR``: :class:`WarmupLR`, then a linear decay to 0 at ``total_num_steps``.

    Args:
        total_num_steps: the training length in optimizer steps (or a fraction of the fit);
            the fit's length when ``None``.
        warmup_min_lr: see :class:`WarmupLR`.
        warmup_max_lr: see :class:`WarmupLR`; DeepSpeed's default here is ``0.001`` (absolute).
        warmup_num_steps: see :class:`WarmupLR`.
        warmup_type: see :class:`WarmupLR`.
        **kwargs: the common keyword arguments (``interval="step"`` by default).

    Examples:
        >>> cb = WarmupDecayLR(6, warmup_max_lr=1.0, warmup_num_steps=2, warmup_type="linear")
        >>> cb.simulate(8).tolist()
        [0.0, 0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    def __init__(
        self,
        total_num_steps: Duration | None = None,
        warmup_min_lr: float | Sequence[float] = 0.0,
        warmup_max_lr: float | Sequence[float] | None = 0.001,
        warmup_num_steps: int = 1000,
        warmup_type: str = "log",
        **kwargs: Unpack[LROptions],
    ) -> None:
        WarmupLR.__init__(self, warmup_min_lr, warmup_max_lr, warmup_num_steps, warmup_type, **kwargs)
        self.total_num_steps = (
            None if total_num_steps is None else check_duration("total_num_steps", total_num_steps, minimum=1)
        )
        self._set_total(self.total_num_steps)

    def _decay_total(self) -> int | None:
        return self._resolved_total()


class WarmupCosineLR(_TotalFromTrainer):
    """DeepSpeed's ``WarmupCosineLR``: each group's lr times a warmup ratio, then a cosine to ``cos_min_ratio``.

    Args:
        total_num_steps: the training length in optimizer steps (or a fraction of the fit);
            the fit's length when ``None``.
        warmup_min_ratio: the warmup's first ratio of each group's initial lr.
        warmup_num_steps: the warmup length (DeepSpeed uses at least 2).
        cos_min_ratio: the ratio the cosine ends at, at ``total_num_steps``.
        warmup_type: ``"log"`` or ``"linear"``.
        **kwargs: the common keyword arguments (``interval="step"`` by default).

    As DeepSpeed's engine drives it, step 0 trains at lr 0 (the constructor's value).

    Examples:
        >>> cb = WarmupCosineLR(6, warmup_num_steps=2, warmup_type="linear", cos_min_ratio=0.0)
        >>> cb.simulate(8, initial=1.0).round(4).tolist()
        [0.0, 0.0, 0.5, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """

    _default_interval = "step"

    def __init__(
        self,
        total_num_steps: Duration | None = None,
        warmup_min_ratio: float = 0.0,
        warmup_num_steps: int = 1000,
        cos_min_ratio: float = 0.0001,
        warmup_type: str = "log",
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.total_num_steps = (
            None if total_num_steps is None else check_duration("total_num_steps", total_num_steps, minimum=1)
        )
        self.warmup_min_ratio = check_float("warmup_min_ratio", warmup_min_ratio, non_negative=True)
        self.warmup_num_steps = _check_warmup_steps(warmup_num_steps)
        self.cos_min_ratio = check_float("cos_min_ratio", cos_min_ratio, non_negative=True)
        self.warmup_type = check_choice("warmup_type", warmup_type, WARMUP_TYPES)
        self._set_total(self.total_num_steps)

    def _factors(self, count: int) -> list[Schedule]:
        factor = DeepSpeedWarmupCosine(
            self._resolved_total(), self.warmup_min_ratio, self.warmup_num_steps, self.cos_min_ratio, self.warmup_type
        )
        return [factor] * count


class OneCycle(_TorchLRScheduler):
    """DeepSpeed's ``OneCycle``: one lr cycle (momentum inversely), then a decay.

    The lr rises from ``cycle_min_lr`` to ``cycle_max_lr`` over ``cycle_first_step_size`` steps
    and falls back over ``cycle_second_step_size``; afterwards it decays as
    ``cycle_min_lr / (1 + decay_lr_rate * n / decay_step_size)`` after ``n`` steps (no decay when
    either is 0). With ``cycle_momentum`` the first entry of ``betas`` runs inversely between
    ``cycle_max_mom`` and ``cycle_min_mom``, then grows as ``cycle_max_mom * (1 + decay_mom_rate
    * n / decay_step_size)``, and the second is set to 0.99, exactly as DeepSpeed writes
    ``betas = (momentum, 0.99)``.

    Args:
        cycle_min_lr: the cycle's lower lr (absolute; a float or one per param group).
        cycle_max_lr: the cycle's upper lr (absolute; a float or one per group).
        decay_lr_rate: the lr's decay rate after the cycle.
        cycle_first_step_size: steps of the rising half.
        cycle_second_step_size: steps of the falling half (``cycle_first_step_size`` when ``None``).
        cycle_first_stair_count: stairs of the rising half (0: no staircase).
        cycle_second_stair_count: stairs of the falling half (``cycle_first_stair_count`` when ``None``).
        decay_step_size: the decay's interval in steps (0: no decay).
        cycle_momentum: cycle ``betas[0]``; the optimizer must have ``betas`` (the Adam family).
        cycle_min_mom: the momentum's lower bound (a float or one per group).
        cycle_max_mom: the momentum's upper bound (a float or one per group).
        decay_mom_rate: the momentum's growth rate after the cycle.
        **kwargs: the common keyword arguments (``interval="step"`` by default).

    Examples:
        >>> cb = OneCycle(0.1, 1.0, cycle_first_step_size=2, cycle_momentum=False)
        >>> cb.simulate(6).round(4).tolist()
        [0.1, 0.55, 1.0, 0.55, 0.1, 0.1]
    """

    _default_interval = "step"

    def __init__(
        self,
        cycle_min_lr: float | Sequence[float],
        cycle_max_lr: float | Sequence[float],
        decay_lr_rate: float = 0.0,
        cycle_first_step_size: int = 2000,
        cycle_second_step_size: int | None = None,
        cycle_first_stair_count: int = 0,
        cycle_second_stair_count: int | None = None,
        decay_step_size: int = 0,
        cycle_momentum: bool = True,
        cycle_min_mom: float | Sequence[float] = 0.8,
        cycle_max_mom: float | Sequence[float] = 0.9,
        decay_mom_rate: float = 0.0,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.cycle_min_lr = _float_or_list("cycle_min_lr", cycle_min_lr, non_negative=True)
        self.cycle_max_lr = _float_or_list("cycle_max_lr", cycle_max_lr, non_negative=True)
        self.decay_lr_rate = check_float("decay_lr_rate", decay_lr_rate, non_negative=True)
        self.cycle_first_step_size = check_int("cycle_first_step_size", cycle_first_step_size, minimum=1)
        self.cycle_second_step_size = (
            None
            if cycle_second_step_size is None
            else check_int("cycle_second_step_size", cycle_second_step_size, minimum=0)
        )
        self.cycle_first_stair_count = check_int("cycle_first_stair_count", cycle_first_stair_count, minimum=0)
        self.cycle_second_stair_count = (
            None
            if cycle_second_stair_count is None
            else check_int("cycle_second_stair_count", cycle_second_stair_count, minimum=0)
        )
        self.decay_step_size = check_int("decay_step_size", decay_step_size, minimum=0)
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        self.cycle_min_mom = _float_or_list("cycle_min_mom", cycle_min_mom, non_negative=True)
        self.cycle_max_mom = _float_or_list("cycle_max_mom", cycle_max_mom, non_negative=True)
        self.decay_mom_rate = check_float("decay_mom_rate", decay_mom_rate, non_negative=True)
        slots = [_slots(v) for v in (self.cycle_min_lr, self.cycle_max_lr, self.cycle_min_mom, self.cycle_max_mom)]
        sizes = {s for s in slots if s is not None}
        if len(sizes) > 1:
            raise ValueError(
                f"the per-group lists of OneCycle have different lengths {sorted(sizes)}; "
                "give one value per param group"
            )

    def _slots(self) -> int | None:
        return _slots(self.cycle_min_lr, self.cycle_max_lr, self.cycle_min_mom, self.cycle_max_mom)

    def _cycle(self, low: float, high: float, rate: float, inverse: bool) -> DeepSpeedOneCycle:
        return DeepSpeedOneCycle(
            low,
            high,
            self.cycle_first_step_size,
            self.cycle_second_step_size,
            self.cycle_first_stair_count,
            self.cycle_second_stair_count,
            self.decay_step_size,
            rate,
            inverse,
        )

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        lows = _per_group("cycle_min_lr", self.cycle_min_lr, len(bases), check_float)
        highs = _per_group("cycle_max_lr", self.cycle_max_lr, len(bases), check_float)
        return [self._cycle(lo, hi, self.decay_lr_rate, False) for lo, hi in zip(lows, highs, strict=True)]

    def _momentum_schedules(self, bases: list[float]) -> list[Schedule]:
        lows = _per_group("cycle_min_mom", self.cycle_min_mom, len(bases), check_float)
        highs = _per_group("cycle_max_mom", self.cycle_max_mom, len(bases), check_float)
        return [self._cycle(lo, hi, self.decay_mom_rate, True) for lo, hi in zip(lows, highs, strict=True)]

    def _extra_bindings(self) -> tuple[Binding, ...]:
        if not self.cycle_momentum:
            return ()
        return (
            Binding(self._target("betas[0]"), builder=self._momentum_schedules, slots=self._slots()),
            Binding(self._target("betas[1]"), builder=self._beta2_schedules, slots=self._slots()),
        )

    def _beta2_schedules(self, bases: list[float]) -> list[Schedule]:
        return [Constant(0.99)] * len(bases)  # DeepSpeed writes betas = (momentum, 0.99)

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        if not self.cycle_momentum:
            return
        optimizer = trainer.optimizers[resolve_optimizer(self.optimizer, trainer.optimizers)]
        if "betas" not in optimizer.defaults:
            raise ValueError(
                f"OneCycle(cycle_momentum=True) cycles `betas`, which {type(optimizer).__name__} does not have "
                "(DeepSpeed then stops cycling momentum with a warning); pass cycle_momentum=False"
            )


class LRRangeTest(_TorchLRScheduler):
    """DeepSpeed's ``LRRangeTest``: ``lr_range_test_min_lr * (1 + step_rate * t / step_size)`` at step ``t``.

    Args:
        lr_range_test_min_lr: the first lr (absolute; a float or one per param group).
        lr_range_test_step_size: the steps per interval.
        lr_range_test_step_rate: the lr's growth per interval, as a fraction of the first lr.
        lr_range_test_staircase: grow once per interval instead of continuously.
        **kwargs: the common keyword arguments (``interval="step"`` by default).

    Examples:
        >>> LRRangeTest(0.1, lr_range_test_step_size=2).simulate(5).round(4).tolist()
        [0.1, 0.15, 0.2, 0.25, 0.3]
    """

    _default_interval = "step"

    def __init__(
        self,
        lr_range_test_min_lr: float | Sequence[float] = 1e-3,
        lr_range_test_step_size: int = 2000,
        lr_range_test_step_rate: float = 1.0,
        lr_range_test_staircase: bool = False,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.lr_range_test_min_lr = _float_or_list("lr_range_test_min_lr", lr_range_test_min_lr, non_negative=True)
        if isinstance(lr_range_test_step_size, bool) or not isinstance(lr_range_test_step_size, int):
            raise ValueError(f"`lr_range_test_step_size` must be a positive integer, got {lr_range_test_step_size!r}")
        self.lr_range_test_step_size = check_int("lr_range_test_step_size", lr_range_test_step_size, minimum=1)
        self.lr_range_test_step_rate = check_float(
            "lr_range_test_step_rate", lr_range_test_step_rate, non_negative=True
        )
        self.lr_range_test_staircase = check_bool("lr_range_test_staircase", lr_range_test_staircase)

    def _slots(self) -> int | None:
        return _slots(self.lr_range_test_min_lr)

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        lows = _per_group("lr_range_test_min_lr", self.lr_range_test_min_lr, len(bases), check_float)
        return [
            DeepSpeedRangeTest(
                lo, self.lr_range_test_step_size, self.lr_range_test_step_rate, self.lr_range_test_staircase
            )
            for lo in lows
        ]
