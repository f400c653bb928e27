"""timm's lr noise (``noise_range_t``, ``noise_pct``, ``noise_std``, ``noise_seed``, ``noise_type``).

timm draws the noise of event ``t`` from a ``torch.Generator`` seeded with ``noise_seed + t``, so
the value at ``t`` depends on ``t`` alone: the same on every rank, after a resume, and in
``simulate``. :class:`TimmNoise` is the one schedule of this package that needs torch, which is
why it lives with the timm family and not in the torch-free :mod:`lightning_schedulers.schedules`.
The family classes import it from :mod:`lightning_schedulers.families.timm`.

Examples:
    >>> TimmNoise(3, noise_pct=0.2, noise_seed=1).values([0, 1, 2]).tolist()
    [1.0, 1.0, 1.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lightning_schedulers._validation import check_choice, check_float, check_int, check_sequence
from lightning_schedulers.schedules.base import FloatArray, Schedule, set_field

__all__ = ["MIN_ACCEPTANCE", "NOISE_TYPES", "TimmNoise", "check_range", "noise_of"]

NOISE_TYPES = ("normal", "uniform")
MIN_ACCEPTANCE = 1e-3
"""The least share of normal draws that must fall inside ``noise_pct`` (at most ~1000 redraws an event)."""


def check_range(value: Any) -> int | tuple[int, int] | None:
    """The ``noise_range_t`` of timm: ``None``, a first event, or ``(start, stop)``."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        items = check_sequence("noise_range_t", value)
        if len(items) != 2:
            raise ValueError(f"`noise_range_t` must be an int or a (start, stop) pair, got {value!r}")
        return check_int("noise_range_t[0]", items[0], minimum=0), check_int("noise_range_t[1]", items[1], minimum=0)
    return check_int("noise_range_t", value, minimum=0)


@dataclass(frozen=True)
class TimmNoise(Schedule):
    """``1 + noise(t)`` inside timm's ``noise_range_t``, else 1: the factor timm's noise multiplies the lr by.

    timm draws the noise of event ``t`` from a ``torch.Generator`` seeded with ``noise_seed + t``:
    for ``"normal"``, ``randn * noise_std`` redrawn until its magnitude is below ``noise_pct``;
    for ``"uniform"``, ``(2 * rand - 1) * noise_pct``. Event 0 is never noisy (timm's
    constructor writes the first lr without noise). Each event costs a generator (some
    microseconds), so the schedule needs torch and is kept out of the torch-free layer.

    Examples:
        >>> noise = TimmNoise((2, 4), noise_pct=0.5, noise_seed=3)
        >>> [v == 1.0 for v in noise.values(range(6)).tolist()]
        [True, True, False, False, True, True]
    """

    noise_range_t: int | tuple[int, int]
    noise_pct: float = 0.67
    noise_std: float = 1.0
    noise_type: str = "normal"
    noise_seed: int = 42

    def __post_init__(self) -> None:
        span = check_range(self.noise_range_t)
        if span is None:
            raise TypeError("`noise_range_t` must be an int or a (start, stop) pair for TimmNoise, got None")
        set_field(self, "noise_range_t", span)
        check_choice("noise_type", self.noise_type, NOISE_TYPES)
        set_field(self, "noise_pct", check_float("noise_pct", self.noise_pct, non_negative=True))
        if self.noise_type == "normal" and not self.noise_pct > 0:
            raise ValueError(
                "`noise_pct` must be > 0 for normal noise (timm redraws until |noise| < noise_pct), "
                f"got {self.noise_pct!r}"
            )
        set_field(self, "noise_std", check_float("noise_std", self.noise_std, non_negative=True))
        set_field(self, "noise_seed", check_int("noise_seed", self.noise_seed, minimum=0))
        if self.noise_type == "normal" and self.noise_std > 0:
            # timm redraws until |noise| < noise_pct: expect 1 / P(|N(0, noise_std)| < noise_pct) draws
            # an event. A bound that almost no draw meets would hang the fit (as it hangs timm).
            accepted = math.erf(self.noise_pct / (self.noise_std * math.sqrt(2.0)))
            if accepted < MIN_ACCEPTANCE:
                raise ValueError(
                    f"`noise_std`={self.noise_std!r} is too large for `noise_pct`={self.noise_pct!r}: timm redraws "
                    f"normal noise until |noise| < noise_pct, which {accepted:.3g} of the draws meet (under "
                    f"{MIN_ACCEPTANCE:g}: about {1 / max(accepted, 1e-300):.3g} draws an event); "
                    "make noise_std at most 790 * noise_pct"
                )

    def _inside(self, t: int) -> bool:
        span = self.noise_range_t
        if isinstance(span, tuple):
            return span[0] <= t < span[1]
        return t >= span

    def noise(self, t: int) -> float:
        """The noise of event ``t`` (timm's ``_calculate_noise(t)``)."""
        generator = torch.Generator()
        generator.manual_seed(self.noise_seed + t)
        if self.noise_type == "normal":
            while True:
                draw = torch.randn(1, generator=generator).item() * self.noise_std
                if abs(draw) < self.noise_pct:
                    return draw
        return 2 * (torch.rand(1, generator=generator).item() - 0.5) * self.noise_pct

    def _values(self, ts: FloatArray) -> FloatArray:
        flat = ts.reshape(-1)
        out = np.ones(flat.shape, dtype=np.float64)
        for j, t in enumerate(flat.tolist()):
            event = int(t)
            if event >= 1 and self._inside(event):
                out[j] = 1.0 + self.noise(event)
        return out.reshape(ts.shape)


def noise_of(
    span: int | tuple[int, int] | None, noise_pct: float, noise_std: float, noise_type: str, noise_seed: int
) -> TimmNoise | None:
    """The noise of timm's arguments, or ``None`` without a ``noise_range_t`` (the others checked all the same)."""
    if span is not None:
        return TimmNoise(span, noise_pct, noise_std, noise_type, noise_seed)
    check_float("noise_pct", noise_pct, non_negative=True)  # unused, but checked as timm's would be
    check_float("noise_std", noise_std, non_negative=True)
    check_int("noise_seed", noise_seed, minimum=0)
    check_choice("noise_type", noise_type, NOISE_TYPES)
    return None
