"""DeepSpeed's learning-rate schedules (``deepspeed/runtime/lr_schedules.py``) as pure schedules.

Values are what DeepSpeed's engine trains with: the engine builds the scheduler (its constructor
writes a first value, with ``last_batch_iteration = -1``), then after every optimizer step calls
``scheduler.step()``. Optimizer step ``t`` therefore trains with the value DeepSpeed computes for
``last_batch_iteration = t - 1``, and step 0 with the constructor's. Note what that makes of the
first steps: ``WarmupLR``'s log warmup trains steps 0 and 1 at ``warmup_min_lr``,
``WarmupCosineLR`` trains step 0 at lr 0, and ``OneCycle`` trains step 0 with momentum
``cycle_min_mom`` and step 1 near ``cycle_max_mom``.

The arithmetic is DeepSpeed's, vectorised (its cosine written as ``cos(x / 2)**2``, which keeps
full precision near the floor); values agree with DeepSpeed's to the package's parity bound
(1e-12 relative). Nothing here imports torch or DeepSpeed.

Examples:
    >>> from lightning_schedulers.schedules.deepspeed import DeepSpeedWarmup
    >>> DeepSpeedWarmup(0.0, 1.0, warmup_num_steps=4, warmup_type="linear").values(range(7)).tolist()
    [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lightning_schedulers._validation import check_bool, check_choice, check_float, check_int
from lightning_schedulers.schedules.base import FloatArray, Schedule, set_field

__all__ = ["WARMUP_TYPES", "DeepSpeedOneCycle", "DeepSpeedRangeTest", "DeepSpeedWarmup", "DeepSpeedWarmupCosine"]

WARMUP_TYPES = ("log", "linear")
"""DeepSpeed's warmup shapes (``warmup_type``)."""


def _warmup_gamma(k: FloatArray, warmup: int, kind: str) -> FloatArray:
    """DeepSpeed's warmup fraction at ``last_batch_iteration = k`` (``k < warmup``)."""
    if kind == "log":
        inverse = 1.0 / math.log(warmup)  # DeepSpeed's inverse_log_warm_up
        with np.errstate(divide="ignore"):  # k = -1 (the constructor's value) is replaced by the callers
            out: FloatArray = inverse * np.log(k + 1)
        return out
    return k / warmup


@dataclass(frozen=True)
class DeepSpeedWarmup(Schedule):
    """DeepSpeed's ``WarmupLR`` (``total_num_steps=None``) or ``WarmupDecayLR`` lr of one param group.

    Args:
        min_lr: ``warmup_min_lr``.
        max_lr: ``warmup_max_lr``.
        warmup_num_steps: the warmup length (DeepSpeed uses at least 2).
        warmup_type: ``"log"`` or ``"linear"``.
        total_num_steps: ``WarmupDecayLR``'s length: after the warmup the lr decays linearly to 0
            at ``total_num_steps`` (and stays there); ``None`` holds ``max_lr`` (``WarmupLR``).

    Examples:
        >>> s = DeepSpeedWarmup(0.0, 1.0, warmup_num_steps=2, warmup_type="linear", total_num_steps=4)
        >>> s.values(range(7)).tolist()
        [0.0, 0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    min_lr: float
    max_lr: float
    warmup_num_steps: int = 1000
    warmup_type: str = "log"
    total_num_steps: int | None = None

    def __post_init__(self) -> None:
        set_field(self, "min_lr", check_float("min_lr", self.min_lr))
        set_field(self, "max_lr", check_float("max_lr", self.max_lr))
        set_field(self, "warmup_num_steps", check_int("warmup_num_steps", self.warmup_num_steps, minimum=1))
        check_choice("warmup_type", self.warmup_type, WARMUP_TYPES)
        if self.total_num_steps is not None:
            set_field(self, "total_num_steps", check_int("total_num_steps", self.total_num_steps, minimum=0))

    def _values(self, ts: FloatArray) -> FloatArray:
        warmup = max(2, self.warmup_num_steps)  # as DeepSpeed
        k = np.maximum(ts, 0.0) - 1.0  # last_batch_iteration while step t trains
        rising = _warmup_gamma(k, warmup, self.warmup_type)
        if self.total_num_steps is None:
            after = np.ones_like(k)
        else:
            total = self.total_num_steps
            after = np.maximum(0.0, (total - k) / float(max(1.0, total - warmup)))
        gamma = np.where(k < warmup, rising, after)
        out: FloatArray = np.where(k < 0, self.min_lr, self.min_lr + (self.max_lr - self.min_lr) * gamma)
        return out


@dataclass(frozen=True)
class DeepSpeedWarmupCosine(Schedule):
    """DeepSpeed's ``WarmupCosineLR`` factor of a param group's initial lr.

    Args:
        total_num_steps: the training length.
        warmup_min_ratio: the warmup's first factor.
        warmup_num_steps: the warmup length (DeepSpeed uses at least 2).
        cos_min_ratio: the floor the cosine reaches at ``total_num_steps``.
        warmup_type: ``"log"`` or ``"linear"``.

    Examples:
        >>> s = DeepSpeedWarmupCosine(6, warmup_num_steps=2, warmup_type="linear", cos_min_ratio=0.0)
        >>> s.values(range(8)).round(4).tolist()
        [0.0, 0.0, 0.5, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """

    total_num_steps: int
    warmup_min_ratio: float = 0.0
    warmup_num_steps: int = 1000
    cos_min_ratio: float = 0.0001
    warmup_type: str = "log"

    def __post_init__(self) -> None:
        set_field(self, "total_num_steps", check_int("total_num_steps", self.total_num_steps, minimum=0))
        set_field(self, "warmup_min_ratio", check_float("warmup_min_ratio", self.warmup_min_ratio))
        set_field(self, "warmup_num_steps", check_int("warmup_num_steps", self.warmup_num_steps, minimum=1))
        set_field(self, "cos_min_ratio", check_float("cos_min_ratio", self.cos_min_ratio))
        check_choice("warmup_type", self.warmup_type, WARMUP_TYPES)

    def _values(self, ts: FloatArray) -> FloatArray:
        warmup = max(2, self.warmup_num_steps)
        k = np.maximum(ts, 0.0) - 1.0
        low = self.warmup_min_ratio
        rising = low + _warmup_gamma(k, warmup, self.warmup_type) * (1.0 - low)
        progress = np.minimum(1.0, (k - warmup + 1) / max(1, self.total_num_steps - warmup))
        # DeepSpeed's (1 + cos(pi p)) / 2 as cos(pi p / 2)**2.
        wave = np.cos(0.5 * math.pi * progress) ** 2
        falling = np.maximum(0.0, self.cos_min_ratio + (1.0 - self.cos_min_ratio) * wave)
        out: FloatArray = np.select([k < 0, k < warmup], [np.zeros_like(k), rising], falling)
        return out


@dataclass(frozen=True)
class DeepSpeedOneCycle(Schedule):
    """DeepSpeed's ``OneCycle`` lr (``inverse=False``) or momentum (``inverse=True``) of one param group.

    The cycle rises from ``low`` to ``high`` over ``first_step_size`` steps and falls back over
    ``second_step_size`` (optionally in ``*_stair_count`` stairs); the momentum runs inversely,
    from ``high`` down to ``low`` and back. After the cycle the lr decays as
    ``low / (1 + decay_rate * n / decay_step_size)`` and the momentum grows as
    ``high * (1 + decay_rate * n / decay_step_size)`` after ``n`` steps, as DeepSpeed computes
    them (a zero ``decay_rate`` or ``decay_step_size`` holds ``low``, or ``high``). Step 0 holds
    ``low`` for both (DeepSpeed's constructor writes ``cycle_min_lr`` and ``cycle_min_mom``).

    Examples:
        >>> DeepSpeedOneCycle(0.0, 1.0, first_step_size=2).values(range(6)).tolist()
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
        >>> DeepSpeedOneCycle(0.8, 0.9, first_step_size=2, inverse=True).values(range(4)).round(3).tolist()
        [0.8, 0.85, 0.8, 0.85]
    """

    low: float
    high: float
    first_step_size: int = 2000
    second_step_size: int | None = None
    first_stair_count: int = 0
    second_stair_count: int | None = None
    decay_step_size: int = 0
    decay_rate: float = 0.0
    inverse: bool = False

    def __post_init__(self) -> None:
        set_field(self, "low", check_float("low", self.low))
        set_field(self, "high", check_float("high", self.high))
        set_field(self, "first_step_size", check_int("first_step_size", self.first_step_size, minimum=1))
        if self.second_step_size is not None:
            set_field(self, "second_step_size", check_int("second_step_size", self.second_step_size, minimum=0))
        set_field(self, "first_stair_count", check_int("first_stair_count", self.first_stair_count, minimum=0))
        if self.second_stair_count is not None:
            set_field(self, "second_stair_count", check_int("second_stair_count", self.second_stair_count, minimum=0))
        set_field(self, "decay_step_size", check_int("decay_step_size", self.decay_step_size, minimum=0))
        set_field(self, "decay_rate", check_float("decay_rate", self.decay_rate))
        check_bool("inverse", self.inverse)

    def _scale(self, it: FloatArray) -> FloatArray:
        """DeepSpeed's ``_get_scale_factor`` at ``batch_iteration = it``."""
        first = float(self.first_step_size)
        second = first if self.second_step_size is None else float(self.second_step_size)
        total = first + second
        ratio = first / total
        up_stairs = self.first_stair_count
        down_stairs = up_stairs if self.second_stair_count is None else self.second_stair_count
        cycle = np.floor(1 + it / total)
        x = 1.0 + it / total - cycle
        rising = x <= ratio
        with np.errstate(divide="ignore", invalid="ignore"):  # the branch not taken (ratio == 1)
            scale = np.where(rising, x / ratio, (x - 1) / (ratio - 1))
        stairs = np.where(rising, up_stairs, down_stairs)
        if up_stairs > 0 or down_stairs > 0:
            position = np.remainder(it, total)  # Python's float %, as DeepSpeed's
            with np.errstate(divide="ignore", invalid="ignore"):
                place = np.where(position <= first, position * stairs / first, (total - position) * stairs / second)
                stepped = np.floor(place) / stairs
            scale = np.where(stairs > 0, stepped, scale)
        out: FloatArray = scale
        return out

    def _values(self, ts: FloatArray) -> FloatArray:
        t = np.maximum(ts, 0.0)
        first = float(self.first_step_size)
        total = first + (first if self.second_step_size is None else float(self.second_step_size))
        height = (self.high - self.low) * self._scale(t)
        cycle = self.high - height if self.inverse else self.low + height
        if self.decay_step_size == 0 or self.decay_rate == 0.0:
            after = np.full(t.shape, self.high if self.inverse else self.low)
        else:
            factor = 1 + self.decay_rate * ((t - total) / self.decay_step_size)
            with np.errstate(divide="ignore", invalid="ignore"):  # inside the cycle (not selected)
                after = self.high * factor if self.inverse else self.low / factor
        out: FloatArray = np.select([t <= 0, t - 1 < total], [np.full(t.shape, self.low), cycle], after)
        return out


@dataclass(frozen=True)
class DeepSpeedRangeTest(Schedule):
    """DeepSpeed's ``LRRangeTest`` lr of one param group: ``min_lr * (1 + step_rate * t / step_size)``.

    With ``staircase`` the interval ``t / step_size`` is floored.

    Examples:
        >>> DeepSpeedRangeTest(0.1, step_size=2, staircase=True).values(range(5)).round(4).tolist()
        [0.1, 0.1, 0.2, 0.2, 0.3]
    """

    min_lr: float
    step_size: int = 2000
    step_rate: float = 1.0
    staircase: bool = False

    _growth = ("step_rate", "min_lr")

    def __post_init__(self) -> None:
        set_field(self, "min_lr", check_float("min_lr", self.min_lr))
        set_field(self, "step_size", check_int("step_size", self.step_size, minimum=1))
        set_field(self, "step_rate", check_float("step_rate", self.step_rate))
        check_bool("staircase", self.staircase)

    def _values(self, ts: FloatArray) -> FloatArray:
        interval = np.maximum(ts, 0.0) / float(self.step_size)
        if self.staircase:
            interval = np.floor(interval)
        out: FloatArray = self.min_lr * (1 + self.step_rate * interval)
        return out
