"""Decay schedules for an exponential moving average of the weights (pure: no torch, no Lightning).

An EMA callback (:class:`~lightning_schedulers.callbacks.ema.EMAWeightAveraging`) asks its decay
schedule for ``decay(t)`` at the update that follows optimizer step ``t`` (0-based) and sets
``ema = decay(t) * ema + (1 - decay(t)) * weights``. Any :class:`Schedule` works (a
:class:`~lightning_schedulers.schedules.Linear` ramp of the decay, a join); these two are the
shapes people ask for by name.

* :class:`EMAWarmup`: timm's ``ModelEmaV3`` decay with ``use_warmup=True``, which starts low
  (the average follows the weights closely while they move fast) and rises towards ``decay``.
* :class:`HalfLife`: a constant decay given as the number of updates after which a weight's
  contribution to the average has halved.

Examples:
    >>> from lightning_schedulers.schedules.ema import EMAWarmup, HalfLife
    >>> [round(EMAWarmup(decay=0.999, warmup_power=1.0).value(t), 4) for t in (0, 1, 3, 10**6)]
    [0.0, 0.5, 0.75, 0.999]
    >>> round(HalfLife(100).value(0) ** 100, 12)
    0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lightning_schedulers._validation import check_float, check_int
from lightning_schedulers.schedules.base import FloatArray, Schedule, set_field
from lightning_schedulers.schedules.durations import Duration, check_duration

__all__ = ["EMAWarmup", "HalfLife"]


def _check_unit(name: str, value: object) -> float:
    result = check_float(name, value)
    if not 0.0 <= result <= 1.0:
        raise ValueError(f"`{name}` must be in [0, 1], got {value!r}")
    return result


@dataclass(frozen=True)
class EMAWarmup(Schedule):
    """timm's ``ModelEmaV3`` decay warmup: ``max(min(1 - (1 + s / warmup_gamma) ** -warmup_power, decay), min_decay)``.

    ``s = t - update_after_step``; for ``s <= 0`` the decay is 0, so those updates copy the
    weights. The arguments are ``ModelEmaV3``'s, and ``EMAWarmup(...).value(t)`` equals
    ``ModelEmaV3(model, ..., use_warmup=True).get_decay(t + 1)``: timm's training script passes
    ``step=num_updates``, the optimizer steps taken so far, which is ``t + 1`` after step ``t``.
    (``use_warmup=False`` is a float ``decay`` in the callback, with
    ``update_starting_at_step=update_after_step``: the first update copies there too.)

    With ``warmup_gamma=1`` the decay reaches 0.999 after about 31.6k steps with
    ``warmup_power=2/3`` and after 10k steps with ``warmup_power=3/4`` (timm's notes).

    Args:
        decay: the ceiling, in ``[0, 1]`` (timm's ``decay``).
        warmup_gamma: the time scale of the warmup, ``> 0`` (timm's ``warmup_gamma``, Crowson's ``inv_gamma``).
        warmup_power: how fast the decay rises, ``> 0`` (timm's ``warmup_power``).
        min_decay: the floor once updates average, in ``[0, 1]`` (timm's ``min_decay``; it wins
            over ``decay`` if larger, as in timm).
        update_after_step: steps before the warmup starts, ``>= 0`` (timm's ``update_after_step``).

    Examples:
        >>> s = EMAWarmup(decay=0.9, warmup_gamma=1.0, warmup_power=1.0, update_after_step=2)
        >>> [round(v, 4) for v in s.values(range(6)).tolist()]
        [0.0, 0.0, 0.0, 0.5, 0.6667, 0.75]
    """

    decay: float = 0.9999
    warmup_gamma: float = 1.0
    warmup_power: float = 2 / 3
    min_decay: float = 0.0
    update_after_step: int = 0

    def __post_init__(self) -> None:
        set_field(self, "decay", _check_unit("decay", self.decay))
        set_field(self, "warmup_gamma", check_float("warmup_gamma", self.warmup_gamma, positive=True))
        set_field(self, "warmup_power", check_float("warmup_power", self.warmup_power, positive=True))
        set_field(self, "min_decay", _check_unit("min_decay", self.min_decay))
        set_field(self, "update_after_step", check_int("update_after_step", self.update_after_step, minimum=0))

    def _values(self, ts: FloatArray) -> FloatArray:
        s = ts - self.update_after_step
        with np.errstate(over="ignore"):  # s / gamma past float64: the power is 0, the decay its ceiling
            warm = 1.0 - np.power(1.0 + np.maximum(s, 0.0) / self.warmup_gamma, -self.warmup_power)
        out: FloatArray = np.maximum(np.minimum(warm, self.decay), self.min_decay)
        out[s <= 0.0] = 0.0
        return out


@dataclass(frozen=True)
class HalfLife(Schedule):
    """A constant decay ``0.5 ** (1 / half_life)``: after ``half_life`` updates a weight counts half as much.

    Args:
        half_life: updates (an int ``>= 1``), or a fraction of the fit (a float in ``(0, 1]`` or
            ``fraction(...)``), resolved to steps when the fit starts.

    Examples:
        >>> HalfLife(1).value(0)
        0.5
        >>> round(HalfLife(693).value(0), 6)
        0.999
    """

    half_life: Duration

    def __post_init__(self) -> None:
        set_field(self, "half_life", check_duration("half_life", self.half_life, minimum=1))

    def _values(self, ts: FloatArray) -> FloatArray:
        return np.full(ts.shape, 0.5 ** (1.0 / int(self.half_life)))
