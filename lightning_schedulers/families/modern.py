"""Ready callbacks for modern schedules, relative to each param group's initial learning rate.

Set the peak learning rate in ``configure_optimizers`` as usual; these callbacks scale it. The
total length defaults to the fit's (``trainer.estimated_stepping_batches`` with
``interval="step"``), resolved when the fit starts and kept in the checkpoint.

Examples:
    >>> from lightning_schedulers import WarmupCosineLR
    >>> WarmupCosineLR(warmup_steps=2, total_steps=6).simulate(7, initial=1.0).round(3).tolist()
    [0.0, 0.5, 1.0, 0.854, 0.5, 0.146, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable

from lightning_schedulers._validation import check_choice, check_float
from lightning_schedulers.callbacks.options import LROptions, Unpack
from lightning_schedulers.families.common import _TorchLRScheduler, _TotalFromTrainer
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.durations import Duration, TrainingFraction, check_duration
from lightning_schedulers.schedules.presets import (
    DECAY_SHAPES,
    cosine_cycles,
    polynomial_decay,
    warmup_cosine,
    warmup_stable_decay,
)
from lightning_schedulers.schedules.shapes import InverseSqrt

__all__ = ["CosineCyclesLR", "InverseSqrtLR", "PolynomialDecayLR", "WarmupCosineLR", "WarmupStableDecayLR"]


class _ModernLR(_TotalFromTrainer):
    _default_interval = "step"

    def __init__(self, total_steps: Duration | None, **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        self.total_steps = None if total_steps is None else check_duration("total_steps", total_steps, minimum=1)

    def _finish_init(self) -> None:
        self._set_total(self.total_steps)

    def _factor(self, total: int) -> Schedule:
        raise NotImplementedError

    def _check_total(self, total: int) -> None:
        self._factor(total)

    def _factors(self, count: int) -> list[Schedule]:
        return [self._factor(self._resolved_total())] * count

    def _fitted(
        self, lengths: dict[str, int], total: int, fits: Callable[[dict[str, int]], dict[str, int]]
    ) -> dict[str, int]:
        """``lengths`` made to fit a fit of ``total`` events, when that total came from the trainer.

        A smoke test (``fast_dev_run``, ``max_steps=1``) must run: lengths that do not fit a fit
        whose total the user did not give are shrunk, with one warning naming them. With an
        explicit ``total_steps`` the preset refuses them instead (the arguments contradict each other).
        """
        if self.total_steps is not None and not isinstance(self.total_steps, TrainingFraction):
            return lengths
        fitted = fits(lengths)
        changed = {k: (lengths[k], v) for k, v in fitted.items() if v != lengths[k]}
        if changed:
            described = ", ".join(f"`{k}`={old} -> {new}" for k, (old, new) in changed.items())
            self._warn_once(
                f"shrunk:{total}",
                f"{type(self).__name__}: this fit is only {total} {self.interval}(s) long; shrinking {described} "
                "to fit it",
            )
        return fitted


class WarmupCosineLR(_ModernLR):
    """Linear warmup from ``warmup_start_factor`` to 1, then cosine decay to ``min_factor`` of each group's lr.

    Args:
        warmup_steps: warmup length in events.
        total_steps: events until the floor is reached; the fit's length when ``None``.
        warmup_start_factor: the first warmup value, as a factor of the initial lr.
        min_factor: the floor, as a factor of the initial lr.
        **kwargs: the common keyword arguments (``interval="step"`` by default).

    Examples:
        >>> WarmupCosineLR(1, total_steps=3, min_factor=0.1).simulate(4, initial=0.5).round(4).tolist()
        [0.0, 0.5, 0.275, 0.05]
    """

    def __init__(
        self,
        warmup_steps: Duration,
        total_steps: Duration | None = None,
        warmup_start_factor: float = 0.0,
        min_factor: float = 0.0,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(total_steps, **kwargs)
        self.warmup_steps = check_duration("warmup_steps", warmup_steps, minimum=0)
        self.warmup_start_factor = check_float("warmup_start_factor", warmup_start_factor)
        self.min_factor = check_float("min_factor", min_factor)
        self._finish_init()

    def _factor(self, total: int) -> Schedule:
        lengths = self._fitted(
            {"warmup_steps": self._dur(self.warmup_steps)},
            total,
            lambda d: {"warmup_steps": min(d["warmup_steps"], total - 1)},
        )
        return warmup_cosine(1.0, total, lengths["warmup_steps"], self.warmup_start_factor, self.min_factor)


class WarmupStableDecayLR(_ModernLR):
    """Warmup-stable-decay: warm up, hold each group's lr, cool down over ``decay_steps`` at the end.

    ``decay`` is ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.

    Examples:
        >>> WarmupStableDecayLR(1, decay_steps=2, total_steps=5).simulate(6, initial=1.0).tolist()
        [0.0, 1.0, 1.0, 1.0, 0.5, 0.0]
    """

    def __init__(
        self,
        warmup_steps: Duration,
        decay_steps: Duration,
        total_steps: Duration | None = None,
        decay: str = "linear",
        warmup_start_factor: float = 0.0,
        min_factor: float = 0.0,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(total_steps, **kwargs)
        self.warmup_steps = check_duration("warmup_steps", warmup_steps, minimum=0)
        self.decay_steps = check_duration("decay_steps", decay_steps, minimum=1)
        self.decay = check_choice("decay", decay, DECAY_SHAPES)
        self.warmup_start_factor = check_float("warmup_start_factor", warmup_start_factor)
        self.min_factor = check_float("min_factor", min_factor)
        self._finish_init()

    def _factor(self, total: int) -> Schedule:
        def fits(d: dict[str, int]) -> dict[str, int]:
            decay = min(d["decay_steps"], total)
            return {"warmup_steps": min(d["warmup_steps"], total - decay), "decay_steps": decay}

        lengths = self._fitted(
            {"warmup_steps": self._dur(self.warmup_steps), "decay_steps": self._dur(self.decay_steps)}, total, fits
        )
        return warmup_stable_decay(
            1.0,
            total,
            lengths["warmup_steps"],
            lengths["decay_steps"],
            self.decay,
            self.warmup_start_factor,
            self.min_factor,
        )


class PolynomialDecayLR(_ModernLR):
    """Optional linear warmup, then polynomial decay of each group's lr to ``end_factor`` of it.

    Examples:
        >>> PolynomialDecayLR(total_steps=4, power=2.0).simulate(5, initial=1.0).tolist()
        [1.0, 0.5625, 0.25, 0.0625, 0.0]
    """

    def __init__(
        self,
        total_steps: Duration | None = None,
        power: float = 1.0,
        end_factor: float = 0.0,
        warmup_steps: Duration = 0,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(total_steps, **kwargs)
        self.power = check_float("power", power, positive=True)
        self.end_factor = check_float("end_factor", end_factor)
        self.warmup_steps = check_duration("warmup_steps", warmup_steps, minimum=0)
        self._finish_init()

    def _factor(self, total: int) -> Schedule:
        warmup = self._fitted(
            {"warmup_steps": self._dur(self.warmup_steps)},
            total,
            lambda d: {"warmup_steps": min(d["warmup_steps"], total - 1)},
        )["warmup_steps"]
        if warmup >= total:
            raise ValueError(f"`warmup_steps` must be < the total of {total} events, got warmup_steps={warmup}")
        return polynomial_decay(1.0, self.end_factor, total - warmup, self.power, warmup)


class CosineCyclesLR(_TorchLRScheduler):
    """timm-style cosine of each group's lr: warmup prefix, cycles, per-cycle decay, cycle limit, k-decay.

    Cycle ``i`` lasts ``cycle_steps * cycle_mult**i`` events and peaks at ``cycle_decay**i`` of the
    initial lr; after ``cycle_limit`` cycles the lr stays at ``min_factor`` of it. The length does
    not depend on the fit, so there is no ``total_steps``. A warmup of ``warmup_steps`` rises from
    ``warmup_start_factor``; as timm's ``CosineLRScheduler``, with ``warmup_prefix=False`` (timm's
    default) the cycles count from step 0 under the warmup, with ``True`` they start after it.

    Examples:
        >>> cb = CosineCyclesLR(cycle_steps=2, cycle_limit=2, cycle_decay=0.5)
        >>> cb.simulate(5, initial=1.0).tolist()
        [1.0, 0.5, 0.5, 0.25, 0.0]
    """

    def __init__(
        self,
        cycle_steps: Duration,
        cycle_mult: float = 1.0,
        cycle_decay: float = 1.0,
        cycle_limit: int = 1,
        k_decay: float = 1.0,
        min_factor: float = 0.0,
        warmup_steps: Duration = 0,
        warmup_start_factor: float = 0.0,
        warmup_prefix: bool = False,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        min_factor = check_float("min_factor", min_factor)
        warmup_start_factor = check_float("warmup_start_factor", warmup_start_factor)
        self._schedule = cosine_cycles(
            1.0,
            min_factor,
            cycle_steps,
            cycle_mult,
            cycle_decay,
            cycle_limit,
            k_decay,
            warmup_steps,
            warmup_start_factor,
            warmup_prefix,
        )
        self.cycle_steps, self.cycle_mult, self.cycle_decay = cycle_steps, cycle_mult, cycle_decay
        self.cycle_limit, self.k_decay, self.min_factor = cycle_limit, k_decay, min_factor
        self.warmup_steps, self.warmup_start_factor = warmup_steps, warmup_start_factor
        self.warmup_prefix = warmup_prefix

    _default_interval = "step"

    def _factors(self, count: int) -> list[Schedule]:
        return [self._schedule] * count


class InverseSqrtLR(_TorchLRScheduler):
    """Inverse square root (Noam) relative to each group's lr: linear warmup to it, then ``1 / sqrt`` decay.

    The lr at event ``t`` is ``initial_lr * min(sqrt(w / s), s / w)`` with ``s = t + 1`` and
    ``w = warmup_steps``: it reaches the initial lr at event ``w - 1`` and halves by ``4w - 1``.

    Examples:
        >>> InverseSqrtLR(warmup_steps=2).simulate(8, initial=1.0).round(3).tolist()
        [0.5, 1.0, 0.816, 0.707, 0.632, 0.577, 0.535, 0.5]
    """

    _default_interval = "step"

    def __init__(self, warmup_steps: Duration, **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        self.warmup_steps = check_duration("warmup_steps", warmup_steps, minimum=1)

    def _factors(self, count: int) -> list[Schedule]:
        warmup = self._dur(self.warmup_steps)
        return [InverseSqrt(warmup**0.5, warmup)] * count
