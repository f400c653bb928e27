"""lightning-bolts' schedules (``pl_bolts/optimizers/lr_scheduler.py``) as pure schedules.

:class:`BoltsWarmupCosine` is ``LinearWarmupCosineAnnealingLR`` as a scheduler stepped once per
epoch (or step) applies it: bolts computes it recursively (its chainable ``get_lr``), and the
closed form here is that recursion solved, with its quirks where they change values:

* event 0 holds ``warmup_start_lr``, and the warmup reaches the base lr at ``warmup_epochs - 1``
  (it adds ``(base - warmup_start_lr) / (warmup_epochs - 1)`` per event), which it holds at
  ``warmup_epochs`` as well;
* with ``warmup_epochs=0`` the first value is still ``warmup_start_lr`` and the recursion scales
  the values up to ``max_epochs`` from it, so the first cosine runs from ``warmup_start_lr`` (not
  the base lr) to ``eta_min`` (bolts' closed form ``_get_closed_form_lr`` starts from the base lr);
* past ``max_epochs`` the cosine continues as a wave of period ``2 * (max_epochs - warmup_epochs)``
  between ``eta_min`` and the base lr, as torch's ``CosineAnnealingLR`` (bolts' restart branch
  adds a step computed from the base lr).

:class:`BoltsWarmupDecay` is ``linear_warmup_decay``'s ``LambdaLR`` factor.

Values agree with bolts' to the package's parity bound (1e-12 relative). Nothing here imports
torch or bolts.

Examples:
    >>> from lightning_schedulers.schedules.bolts import BoltsWarmupCosine
    >>> s = BoltsWarmupCosine(1.0, warmup_epochs=3, max_epochs=5, warmup_start_lr=0.0)
    >>> s.values(range(7)).round(4).tolist()
    [0.0, 0.5, 1.0, 1.0, 0.5, 0.0, 0.5]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lightning_schedulers._validation import check_bool, check_float, check_int
from lightning_schedulers.schedules.base import FloatArray, Schedule, set_field
from lightning_schedulers.schedules.shapes import Cosine

__all__ = ["BoltsWarmupCosine", "BoltsWarmupDecay"]


@dataclass(frozen=True)
class BoltsWarmupCosine(Schedule):
    """bolts' ``LinearWarmupCosineAnnealingLR`` lr of one param group whose initial lr is ``base``.

    Args:
        base: the group's initial lr.
        warmup_epochs: the warmup length.
        max_epochs: where the cosine reaches ``eta_min``.
        warmup_start_lr: the first value (absolute).
        eta_min: the floor (absolute).

    Examples:
        >>> s = BoltsWarmupCosine(1.0, warmup_epochs=0, max_epochs=2, warmup_start_lr=0.5)
        >>> s.values(range(5)).round(4).tolist()
        [0.5, 0.25, 0.0, 0.5, 1.0]
    """

    base: float
    warmup_epochs: int
    max_epochs: int
    warmup_start_lr: float = 0.0
    eta_min: float = 0.0

    def __post_init__(self) -> None:
        set_field(self, "base", check_float("base", self.base))
        set_field(self, "warmup_epochs", check_int("warmup_epochs", self.warmup_epochs, minimum=0))
        set_field(self, "max_epochs", check_int("max_epochs", self.max_epochs, minimum=1))
        if self.max_epochs <= self.warmup_epochs:
            raise ValueError(
                f"`max_epochs`={self.max_epochs} must be > `warmup_epochs`={self.warmup_epochs} "
                "(bolts divides by their difference)"
            )
        set_field(self, "warmup_start_lr", check_float("warmup_start_lr", self.warmup_start_lr))
        set_field(self, "eta_min", check_float("eta_min", self.eta_min))

    def _values(self, ts: FloatArray) -> FloatArray:
        t = np.maximum(ts, 0.0)
        w, start = self.warmup_epochs, self.warmup_start_lr
        wave = Cosine(self.base, self.eta_min, self.max_epochs - w, periodic=True)._values(t - w)
        if w == 0:  # the recursion scales the cosine from the first value, up to max_epochs
            first = Cosine(start, self.eta_min, self.max_epochs, periodic=True)._values(t)
            wave = np.where(t <= self.max_epochs, first, wave)
        if w > 1:
            ramp = start + t * ((self.base - start) / (w - 1))
            wave = np.where(t < w, ramp, wave)
        out: FloatArray = np.where(t <= 0, start, wave)
        return out


@dataclass(frozen=True)
class BoltsWarmupDecay(Schedule):
    """bolts' ``linear_warmup_decay(warmup_steps, total_steps, cosine, linear)`` factor.

    A linear warmup ``t / warmup_steps``, then a cosine (``cosine=True``), a linear decay
    (``linear=True``) or 1 (neither). As in bolts, nothing stops at ``total_steps``: the cosine
    rises again after it and the linear decay turns negative.

    Examples:
        >>> BoltsWarmupDecay(2, 6, cosine=False, linear=True).values(range(7)).tolist()
        [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    warmup_steps: int
    total_steps: int
    cosine: bool = True
    linear: bool = False

    def __post_init__(self) -> None:
        set_field(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps, minimum=0))
        set_field(self, "total_steps", check_int("total_steps", self.total_steps, minimum=0))
        check_bool("cosine", self.cosine)
        check_bool("linear", self.linear)
        if self.cosine and self.linear:
            raise ValueError("`cosine` and `linear` are exclusive (bolts asserts not both); got both True")

    def _values(self, ts: FloatArray) -> FloatArray:
        t = np.maximum(ts, 0.0)
        w = self.warmup_steps
        warm = t / float(max(1, w))
        progress = (t - w) / float(max(1, self.total_steps - w))
        if self.cosine:
            rest = np.cos(0.5 * math.pi * progress) ** 2  # bolts' 0.5 * (1 + cos(pi p))
        elif self.linear:
            rest = 1.0 - progress
        else:
            rest = np.ones_like(t)
        out: FloatArray = np.where(t < w, warm, rest)
        return out
