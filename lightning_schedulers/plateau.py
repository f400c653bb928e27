"""Plateau reduction as a pure state machine (no Lightning, no torch).

:class:`PlateauState` takes one metric value per decision and answers whether to reduce, following
torch's ``ReduceLROnPlateau`` rule exactly (best and bad-count update, then cooldown, then the
patience test). It never writes anything: the callback multiplies the reduction into whatever
schedule drives the target, with :func:`apply_reduction` and :func:`reduced_multiplier`.

A metric that is NaN or infinite counts as no improvement: it never becomes ``best`` (torch lets
``-inf`` become the best value of a ``"min"`` run, which freezes every later decision).

Examples:
    >>> state = PlateauState(mode="min", patience=1)
    >>> [state.step(v) for v in (1.0, 0.5, 0.6, 0.7, 0.4)]
    [False, False, False, True, False]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from lightning_schedulers._validation import check_choice, check_float, check_int

__all__ = ["PlateauState", "apply_reduction", "reduced_multiplier"]

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


@dataclass
class PlateauState:
    """torch's ``ReduceLROnPlateau`` decision rule as plain data.

    Args:
        mode: ``"min"`` (lower is better) or ``"max"``.
        patience: decisions without improvement tolerated before a reduction.
        threshold: the least change that counts as an improvement.
        threshold_mode: ``"rel"`` (relative to ``best``) or ``"abs"``.
        cooldown: decisions after a reduction during which bad decisions are not counted.

    Examples:
        >>> state = PlateauState(mode="max", patience=0, threshold=0.1, threshold_mode="abs")
        >>> [state.step(v) for v in (1.0, 1.05, 1.2)]
        [False, True, False]
    """

    mode: str = "min"
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    best: float = field(init=False)
    num_bad_epochs: int = field(init=False, default=0)
    cooldown_counter: int = field(init=False, default=0)
    decisions: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.mode = check_choice("mode", self.mode, MODES)
        self.threshold_mode = check_choice("threshold_mode", self.threshold_mode, THRESHOLD_MODES)
        self.patience = check_int("patience", self.patience, minimum=0)
        self.cooldown = check_int("cooldown", self.cooldown, minimum=0)
        self.threshold = check_float("threshold", self.threshold, non_negative=True)
        self.best = math.inf if self.mode == "min" else -math.inf

    def fresh(self) -> PlateauState:
        """The same settings, nothing decided yet (a subclass's settings included)."""
        return type(self)(**{f.name: getattr(self, f.name) for f in fields(self) if f.init})

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` (torch's test, strict inequalities)."""
        if not math.isfinite(value):
            return False
        if self.mode == "min":
            bound = best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold
            return value < bound
        bound = best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold
        return value > bound

    def step(self, value: float) -> bool:
        """Record one metric value; return ``True`` when it triggers a reduction."""
        self.decisions += 1
        if self.is_better(value, self.best):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad decisions during a cooldown are not counted
        if self.num_bad_epochs > self.patience:
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        """The counters as plain values."""
        return {
            "best": self.best,
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
            "decisions": self.decisions,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counters written by :meth:`state_dict`."""
        self.best = float(state["best"])
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.decisions = int(state["decisions"])


def apply_reduction(raw: float, multiplier: float, floor: float) -> float:
    """The value written when the schedule gives ``raw`` and the plateau has reduced it by ``multiplier``.

    The reduction never takes the value below ``floor``, but it does not lift a schedule that is
    itself below the floor (a warmup starting at 0 stays a warmup).

    Examples:
        >>> apply_reduction(1.0, 0.01, floor=0.1), apply_reduction(0.05, 0.5, floor=0.1)
        (0.1, 0.05)
    """
    reduced = raw * multiplier
    lowest = raw if raw < floor else floor
    return reduced if reduced > lowest else lowest


def reduced_multiplier(raw: float, multiplier: float, factor: float, floor: float, eps: float) -> float:
    """The multiplier after one reduction by ``factor``; unchanged if the value would move by ``eps`` or less.

    This is torch's rule ``new = max(old * factor, min_lr)``, applied only when ``old - new > eps``.

    Examples:
        >>> reduced_multiplier(1.0, 1.0, factor=0.5, floor=0.0, eps=1e-8)
        0.5
    """
    current = apply_reduction(raw, multiplier, floor)
    proposed = apply_reduction(raw, multiplier * factor, floor)
    return multiplier * factor if current - proposed > eps else multiplier
