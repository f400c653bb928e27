"""braintools' (and optax's) ``ExponentialDecayLR`` as a Lightning callback.

Examples:
    >>> from lightning_schedulers import ExponentialDecayLR
    >>> ExponentialDecayLR(base_lr=0.1, decay_steps=2, decay_rate=0.5, staircase=True).simulate(5).tolist()
    [0.1, 0.1, 0.05, 0.05, 0.025]
"""

from __future__ import annotations

from collections.abc import Sequence

from lightning_schedulers._validation import check_bool, check_float, check_sequence
from lightning_schedulers.callbacks.options import LROptions, Unpack
from lightning_schedulers.families.common import _per_group, _TorchLRScheduler, growth_ceiling
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.durations import Duration, check_duration
from lightning_schedulers.schedules.shapes import Exponential

__all__ = ["ExponentialDecayLR"]


class ExponentialDecayLR(_TorchLRScheduler):
    """``base_lr * decay_rate ** (max(t - transition_begin, 0) / decay_steps)``, bounded by ``end_value``.

    braintools' ``ExponentialDecayLR`` (optax's ``exponential_decay``), computed in float64 (the
    references compute in float32). With ``staircase`` the exponent is floored; ``end_value`` is a
    floor when ``decay_rate < 1`` and a ceiling when ``decay_rate > 1``.

    Args:
        base_lr: the starting lr, a float or one per param group; ``None`` starts from each group's
            own lr, captured when the fit starts.
        decay_steps: events per factor of ``decay_rate`` (optax's ``transition_steps``), > 0.
        decay_rate: factor per ``decay_steps``, > 0 (optax falls back to a constant for 0; this is an error).
        transition_begin: events before the decay starts, >= 0 (optax clips a negative value; this is an error).
        staircase: decay in steps of ``decay_steps`` events.
        end_value: the bound described above.
        **kwargs: the common keyword arguments (``interval="step"`` by default).

    Examples:
        >>> cb = ExponentialDecayLR(decay_steps=1000, decay_rate=0.96)
        >>> cb.simulate(3001, initial=0.1)[[0, 1000, 2000, 3000]].round(6).tolist()
        [0.1, 0.096, 0.09216, 0.088474]
    """

    _default_interval = "step"

    def __init__(
        self,
        base_lr: float | Sequence[float] | None = None,
        decay_steps: Duration = 1000,
        decay_rate: float = 0.96,
        transition_begin: Duration = 0,
        staircase: bool = False,
        end_value: float | None = None,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        if base_lr is None or not isinstance(base_lr, (list, tuple)):
            self.base_lr: float | tuple[float, ...] | None = (
                None if base_lr is None else check_float("base_lr", base_lr, positive=True)
            )
        else:
            items = check_sequence("base_lr", base_lr)
            self.base_lr = tuple(check_float(f"base_lr[{i}]", v, positive=True) for i, v in enumerate(items))
        self.decay_steps = check_duration("decay_steps", decay_steps, minimum=1)
        self.decay_rate = check_float("decay_rate", decay_rate, positive=True)
        self.transition_begin = check_duration("transition_begin", transition_begin, minimum=0)
        self.staircase = check_bool("staircase", staircase)
        self.end_value = None if end_value is None else check_float("end_value", end_value)

    def _slots(self) -> int | None:
        return len(self.base_lr) if isinstance(self.base_lr, tuple) else None

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        starts = bases if self.base_lr is None else _per_group("base_lr", self.base_lr, len(bases), check_float)
        # Without an end value, growth that overflows float64 is an error at the first such event.
        end = self.end_value if self.end_value is not None else growth_ceiling(self.decay_rate)
        return [
            Exponential(start, self.decay_rate, self.decay_steps, self.staircase, self.transition_begin, end)
            for start in starts
        ]
