"""transformers' ``GreedyLR`` as a pure state machine (no Lightning, no torch).

:class:`GreedyState` takes one metric value per decision and updates the values it holds (one per
param group) with transformers' rule: after more than ``patience`` improving decisions the values
are divided by ``factor`` (up to ``max_lr``, then ``warmup`` decisions are skipped); after more than
``patience`` decisions without improvement they are multiplied by ``factor`` (down to ``min_lr``,
then ``cooldown`` decisions are skipped); after ``reset_start`` reductions with every value at
``min_lr`` everything restarts from the initial values. ``smooth=True`` decides on the mean of the
last ``window_size`` metric values.

It differs from transformers' ``GreedyLR`` in one point, as :class:`~lightning_schedulers.plateau.PlateauState`
does from torch: a metric that is NaN or infinite never becomes ``best`` (transformers lets ``-inf``
become the best value of a ``"min"`` run, which freezes every later improvement).

Examples:
    >>> state = GreedyState(factor=0.5, patience=0, min_lr=0.0, max_lr=1.0)
    >>> state.start([0.1])
    >>> [state.step(v) for v in (1.0, 0.5, 0.6)], state.lrs
    ([True, True, True], [0.2])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lightning_schedulers._validation import check_bool, check_float, check_int, check_sequence
from lightning_schedulers.plateau import PlateauState

__all__ = ["GreedyState"]


def _bounds(name: str, value: Any) -> float | tuple[float, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(check_float(f"{name}[{i}]", v) for i, v in enumerate(check_sequence(name, value)))
    return check_float(name, value)


@dataclass
class GreedyState(PlateauState):
    """transformers' ``GreedyLR`` update rule as plain data.

    Args:
        mode: ``"min"`` (lower is better) or ``"max"``.
        patience: decisions tolerated before a change (more than ``patience`` good ones raise the
            values, more than ``patience`` bad ones lower them).
        threshold: the least change that counts as an improvement.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: decisions skipped after a reduction.
        factor: values are multiplied by it on a plateau and divided by it on improvement, in (0, 1).
        warmup: decisions skipped after an increase.
        min_lr: the lower bound of the values (one, or one per value).
        max_lr: the upper bound of the values (one, or one per value).
        eps: a change of a value by ``eps`` or less is skipped.
        smooth: decide on the running mean of the last ``window_size`` metric values.
        window_size: the running mean's window.
        reset_start: reductions with every value at ``min_lr`` before a restart from the initial values.

    Examples:
        >>> state = GreedyState(mode="max", factor=0.5, patience=1, min_lr=0.0)
        >>> state.start([0.2, 0.4])
        >>> [state.step(v) for v in (1.0, 2.0, 3.0)], state.lrs
        ([False, True, False], [0.4, 0.8])
    """

    threshold: float = 1e-6
    threshold_mode: str = "abs"
    factor: float = 0.95
    warmup: int = 0
    min_lr: float | Sequence[float] = 1e-3
    max_lr: float | Sequence[float] = 1.0
    eps: float = 1e-8
    smooth: bool = False
    window_size: int = 50
    reset_start: int = 500
    num_good_epochs: int = field(init=False, default=0)
    warmup_counter: int = field(init=False, default=0)
    reset_left: int = field(init=False, default=0)
    lrs: list[float] = field(init=False, default_factory=list)
    init_lrs: list[float] = field(init=False, default_factory=list)
    window: list[float] = field(init=False, default_factory=list)
    window_sum: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.factor = check_float("factor", self.factor)
        if not 0.0 < self.factor < 1.0:
            raise ValueError(f"`factor` must be in (0, 1), got {self.factor!r}")
        self.warmup = check_int("warmup", self.warmup, minimum=0)
        self.min_lr = _bounds("min_lr", self.min_lr)
        self.max_lr = _bounds("max_lr", self.max_lr)
        self.eps = check_float("eps", self.eps, non_negative=True)
        self.smooth = check_bool("smooth", self.smooth)
        self.window_size = check_int("window_size", self.window_size, minimum=1)
        self.reset_start = check_int("reset_start", self.reset_start, minimum=0)
        self.reset_left = self.reset_start

    # -- the values
    def start(self, lrs: Sequence[float]) -> None:
        """Begin with these values (also the values a reset returns to)."""
        self.lrs = [float(v) for v in lrs]
        self.init_lrs = list(self.lrs)

    def extend(self, lrs: Sequence[float]) -> None:
        """Values added after the start (param groups added during a fit), unchanged so far."""
        self.lrs += [float(v) for v in lrs]
        self.init_lrs += [float(v) for v in lrs]

    def _bound(self, bound: float | Sequence[float], i: int, beyond: float) -> float:
        if isinstance(bound, (list, tuple)):
            return float(bound[i]) if i < len(bound) else beyond
        return float(bound)  # type: ignore[arg-type]

    def min_lrs(self) -> list[float]:
        """The lower bound of each value (0 for values beyond a per-group ``min_lr``)."""
        return [self._bound(self.min_lr, i, 0.0) for i in range(len(self.lrs))]

    def max_lrs(self) -> list[float]:
        """The upper bound of each value (none for values beyond a per-group ``max_lr``)."""
        return [self._bound(self.max_lr, i, math.inf) for i in range(len(self.lrs))]

    # -- the rule
    def step(self, value: float) -> bool:
        """Record one metric value; return ``True`` when it changed :attr:`lrs` (or restarted them)."""
        self.decisions += 1
        current = float(value)
        if self.smooth:
            self.window.append(current)
            self.window_sum += current
            if len(self.window) > self.window_size:
                self.window_sum -= self.window.pop(0)
            current = self.window_sum / len(self.window)
        before = list(self.lrs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = self.num_good_epochs = 0
        elif self.warmup_counter > 0:
            self.warmup_counter -= 1
            self.num_bad_epochs = self.num_good_epochs = 0
        else:
            if self.is_better(current, self.best):
                self.best = current
                self.num_bad_epochs = 0
                self.num_good_epochs += 1
            else:
                self.num_bad_epochs += 1
                self.num_good_epochs = 0
            if self.num_good_epochs > self.patience:
                self._increase()
                self.warmup_counter = self.warmup
                self.num_good_epochs = 0
            elif self.num_bad_epochs > self.patience:
                self._reduce()
                self.cooldown_counter = self.cooldown
                self.num_bad_epochs = 0
        return self.lrs != before

    def _reduce(self) -> None:
        all_at_min = True
        for i, (old, low) in enumerate(zip(self.lrs, self.min_lrs(), strict=True)):
            new = max(old * self.factor, low)
            if old - new > self.eps:
                self.lrs[i] = new
            if self.lrs[i] > low:
                all_at_min = False
        if all_at_min:
            self.reset_left -= 1
            if self.reset_left <= 0:
                self._reset()

    def _increase(self) -> None:
        for i, (old, high) in enumerate(zip(self.lrs, self.max_lrs(), strict=True)):
            new = min(old / self.factor, high)
            if new - old > self.eps:
                self.lrs[i] = new
        self.reset_left = self.reset_start

    def _reset(self) -> None:
        self.lrs = list(self.init_lrs)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = self.num_good_epochs = 0
        self.cooldown_counter = self.warmup_counter = 0
        self.reset_left = self.reset_start
        if self.smooth:
            self.window, self.window_sum = [], 0.0

    # -- checkpoint state
    def state_dict(self) -> dict[str, Any]:
        """The counters and values as plain values."""
        state = super().state_dict()
        state.update(
            num_good_epochs=self.num_good_epochs,
            warmup_counter=self.warmup_counter,
            reset_left=self.reset_left,
            lrs=list(self.lrs),
            init_lrs=list(self.init_lrs),
            window=list(self.window),
            window_sum=self.window_sum,
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` wrote."""
        super().load_state_dict(state)
        lrs = [float(v) for v in state["lrs"]]
        init_lrs = [float(v) for v in state["init_lrs"]]
        if len(lrs) != len(init_lrs):
            raise ValueError(f"`lrs` ({lrs!r}) and `init_lrs` ({init_lrs!r}) differ in length")
        self.num_good_epochs = int(state["num_good_epochs"])
        self.warmup_counter = int(state["warmup_counter"])
        self.reset_left = int(state["reset_left"])
        self.lrs, self.init_lrs = lrs, init_lrs
        self.window = [float(v) for v in state["window"]]
        self.window_sum = float(state["window_sum"])
