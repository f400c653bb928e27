"""HF transformers' learning-rate schedules (``transformers.get_scheduler``) as pure factor schedules.

Each is the factor transformers' ``LambdaLR`` multiplies each param group's initial lr by, at
optimizer step ``t``, with ``w`` warmup steps and ``T`` training steps. The arithmetic follows
transformers' formulas (``transformers/optimization.py``), vectorised: values agree with them to
the package's parity bound (1e-12 relative). Nothing here imports torch, Lightning or transformers.

Examples:
    >>> from lightning_schedulers.schedules.transformers import TransformersFactor
    >>> TransformersFactor("linear", warmup_steps=2, total_steps=6).values(range(7)).tolist()
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lightning_schedulers._validation import check_choice, check_float, check_int
from lightning_schedulers.schedules.base import FloatArray, Schedule, set_field

__all__ = ["NAMES", "SHAPES", "TransformersFactor"]

NAMES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
)
"""transformers' schedule names with a closed-form factor (``reduce_lr_on_plateau`` is a plateau callback)."""

SHAPES = ("linear", "cosine", "1-sqrt")
"""The warmup and decay shapes of ``warmup_stable_decay``."""


@dataclass(frozen=True)
class TransformersFactor(Schedule):
    """The factor of transformers' schedule ``kind`` at each step (its ``lr_lambda``).

    Args:
        kind: one of :data:`NAMES`.
        warmup_steps: ``num_warmup_steps``.
        total_steps: ``num_training_steps`` (unused by ``constant``, ``constant_with_warmup``,
            ``inverse_sqrt``, and by ``warmup_stable_decay`` when ``stable_steps`` is given).
        num_cycles: cosine cycles (``cosine``, ``cosine_with_min_lr``, ``warmup_stable_decay``:
            0.5 is a half cosine; ``cosine_with_restarts``: the number of restarts).
        power: ``polynomial``'s power.
        end_ratio: ``polynomial``'s ``lr_end / lr_init``.
        min_ratio: ``cosine_with_min_lr``'s and ``cosine_warmup_with_min_lr``'s ``min_lr_rate``,
            ``warmup_stable_decay``'s ``min_lr_ratio``.
        timescale: ``inverse_sqrt``'s timescale (``warmup_steps``, or 10,000 without warmup, when 0).
        stable_steps: ``warmup_stable_decay``'s ``num_stable_steps`` (``-1``: ``T - w - decay_steps``).
        decay_steps: ``warmup_stable_decay``'s ``num_decay_steps``.
        warmup_type: ``warmup_stable_decay``'s warmup shape (:data:`SHAPES`).
        decay_type: ``warmup_stable_decay``'s decay shape (:data:`SHAPES`).
        warmup_lr_rate: ``cosine_warmup_with_min_lr``'s first warmup factor; ``None`` is
            transformers' default warmup ``(t + 1) / warmup_steps``.
    """

    kind: str
    warmup_steps: int = 0
    total_steps: int = 1
    num_cycles: float = 0.5
    power: float = 1.0
    end_ratio: float = 0.0
    min_ratio: float = 0.0
    timescale: int = 0
    stable_steps: int = -1
    decay_steps: int = 0
    warmup_type: str = "linear"
    decay_type: str = "cosine"
    warmup_lr_rate: float | None = None

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, NAMES)
        set_field(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps, minimum=0))
        set_field(self, "total_steps", check_int("total_steps", self.total_steps, minimum=1))
        for name in ("num_cycles", "power", "end_ratio", "min_ratio"):
            set_field(self, name, check_float(name, getattr(self, name)))
        set_field(self, "timescale", check_int("timescale", self.timescale, minimum=0))
        set_field(self, "stable_steps", check_int("stable_steps", self.stable_steps, minimum=-1))
        set_field(self, "decay_steps", check_int("decay_steps", self.decay_steps, minimum=0))
        check_choice("warmup_type", self.warmup_type, SHAPES)
        check_choice("decay_type", self.decay_type, SHAPES)
        if self.warmup_lr_rate is not None:
            set_field(self, "warmup_lr_rate", check_float("warmup_lr_rate", self.warmup_lr_rate))
        if self.kind == "polynomial" and self.total_steps <= self.warmup_steps:
            raise ValueError(
                f"`total_steps`={self.total_steps} must be > `warmup_steps`={self.warmup_steps} for 'polynomial' "
                "(transformers divides by their difference)"
            )
        if self.kind == "warmup_stable_decay" and self.stable_steps == -1:
            stable = self.total_steps - self.warmup_steps - self.decay_steps
            if stable < 0:
                raise ValueError(
                    f"`warmup_steps`={self.warmup_steps} + `decay_steps`={self.decay_steps} exceed `total_steps`="
                    f"{self.total_steps}"
                )
            set_field(self, "stable_steps", stable)

    def _values(self, ts: FloatArray) -> FloatArray:
        w, total, kind = float(self.warmup_steps), float(self.total_steps), self.kind
        if kind == "constant":
            return np.ones_like(ts)
        if kind == "warmup_stable_decay":
            return self._wsd(ts)
        if kind == "cosine_warmup_with_min_lr":
            return self._warmup_min_lr(ts)
        warmup = ts / max(1.0, w)  # every other schedule warms up linearly from 0
        progress = (ts - w) / max(1.0, total - w)
        if kind == "constant_with_warmup":
            rest = np.ones_like(ts)
        elif kind == "linear":
            rest = np.maximum(0.0, (total - ts) / max(1.0, total - w))
        elif kind == "cosine":
            rest = np.maximum(0.0, 0.5 * (1.0 + np.cos(math.pi * self.num_cycles * 2.0 * progress)))
        elif kind == "cosine_with_min_lr":
            factor = 0.5 * (1.0 + np.cos(math.pi * self.num_cycles * 2.0 * progress))
            rest = np.maximum(0.0, factor * (1.0 - self.min_ratio) + self.min_ratio)
        elif kind == "cosine_with_restarts":
            wave = np.maximum(0.0, 0.5 * (1.0 + np.cos(math.pi * np.fmod(self.num_cycles * progress, 1.0))))
            rest = np.where(progress >= 1.0, 0.0, wave)
        elif kind == "polynomial":
            remaining = 1.0 - (ts - w) / (total - w)
            with np.errstate(invalid="ignore"):  # past the end (remaining < 0) is replaced below
                decay = (1.0 - self.end_ratio) * remaining**self.power + self.end_ratio
            rest = np.where(ts > total, self.end_ratio, decay)
        else:  # inverse_sqrt
            scale = float(self.timescale or self.warmup_steps or 10_000)
            with np.errstate(invalid="ignore", divide="ignore"):  # inside the warmup (replaced below)
                rest = 1.0 / np.sqrt((ts + (scale - w)) / scale)
        out: FloatArray = np.where(ts < w, warmup, rest)
        return out

    def _warmup_min_lr(self, ts: FloatArray) -> FloatArray:
        """``cosine_warmup_with_min_lr``: its own warmup, and its cosine one step ahead of ``cosine_with_min_lr``'s."""
        w, total, rate = float(self.warmup_steps), float(self.total_steps), self.warmup_lr_rate
        warmup = (ts + 1.0) / max(1.0, w) if rate is None else rate + (1.0 - rate) * ts / max(1.0, w - 1.0)
        progress = (ts - w + 1.0) / max(1.0, total - w)
        # transformers' 0.5 * (1 + cos(2 pi c p)) as cos(pi c p)**2: full precision near the floor.
        factor = np.cos(math.pi * self.num_cycles * progress) ** 2
        rest = np.maximum(0.0, factor * (1.0 - self.min_ratio) + self.min_ratio)
        out: FloatArray = np.where(ts < w, warmup, rest)
        return out

    def _wsd(self, ts: FloatArray) -> FloatArray:
        w, stable, decay, low = (
            float(self.warmup_steps),
            float(self.stable_steps),
            float(self.decay_steps),
            self.min_ratio,
        )
        up = _shape(self.warmup_type, ts / max(1.0, w), rising=True, cycles=self.num_cycles)
        down_progress = (ts - w - stable) / max(1.0, decay)
        down = _shape(self.decay_type, down_progress, rising=False, cycles=self.num_cycles)
        out: FloatArray = np.select(
            [ts < w, ts < w + stable, ts < w + stable + decay],
            [np.maximum(0.0, up * (1.0 - low) + low), np.ones_like(ts), np.maximum(0.0, down * (1.0 - low) + low)],
            default=low,
        )
        return out


def _shape(kind: str, progress: FloatArray, *, rising: bool, cycles: float) -> FloatArray:
    """``warmup_stable_decay``'s shapes: rising over the warmup, falling over the decay."""
    with np.errstate(invalid="ignore"):  # sqrt of the negative progress outside the phase (not selected)
        if kind == "linear":
            out: FloatArray = progress if rising else 1.0 - progress
        elif kind == "cosine":
            out = (
                0.5 * (1.0 - np.cos(math.pi * progress))
                if rising
                else 0.5 * (1.0 + np.cos(math.pi * cycles * 2.0 * progress))
            )
        else:  # 1-sqrt
            out = 1.0 - np.sqrt(1.0 - progress) if rising else 1.0 - np.sqrt(progress)
    return out
