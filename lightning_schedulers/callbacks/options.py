"""The common keyword arguments of the callbacks, as TypedDicts for ``**kwargs: Unpack[...]``.

A family class passes its common keyword arguments on to its base with ``**kwargs``; typed with
these, static tools (mypy, pyright/Pylance, PyCharm) list them in the class's signature and flag
a misspelt or mistyped one, as ``inspect.signature`` (the runtime ``__signature__``) does. Each
family accepts the set its base takes; the values are checked by the callbacks at run time too.

Examples:
    >>> from lightning_schedulers.callbacks.options import LROptions
    >>> sorted(LROptions.__optional_keys__)[:3]
    ['clock', 'count', 'interval']
"""

from __future__ import annotations

import sys
from typing import Literal, TypedDict

from lightning_schedulers.engine.units import Count
from lightning_schedulers.schedules.durations import Duration

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Unpack

__all__ = [
    "ClockName",
    "ConcatOptions",
    "Count",
    "Interval",
    "ResumePolicy",
    "GetSchedulerOptions",
    "IgniteOptions",
    "LROptions",
    "LoggingOptions",
    "PolicyOptions",
    "StateOptions",
    "Unpack",
]


Interval = Literal["step", "epoch"]
"""``interval=``: what a schedule's event is (a type checker flags ``"steps"``)."""
ClockName = Literal["optimizer", "batch", "samples", "tokens"]
"""``clock=``: what ``interval="step"`` counts."""
ResumePolicy = Literal["replan", "continue", "restart", "rescale"]
"""``on_resume=``: what a fit resumed from a checkpoint does."""


class LoggingOptions(TypedDict, total=False):
    """What every callback takes: its clock, name, logging and resume policy."""

    clock: ClockName
    count: Count | None
    name: str | None
    logging_enabled: bool
    on_resume: ResumePolicy


class PolicyOptions(LoggingOptions, total=False):
    """``OptimizerPolicy`` and ``TorchScheduler`` (which take ``interval`` and ``optimizer`` themselves)."""

    save_history: bool


class LROptions(PolicyOptions, total=False):
    """The torch, optax, modern and HF transformers classes."""

    interval: Interval | None
    optimizer: int | str
    param_group_index: int | str | None


class ConcatOptions(LoggingOptions, total=False):
    """ignite's ``ConcatScheduler`` and ``create_lr_scheduler_with_warmup`` (``save_history`` is positional)."""

    interval: Interval


class IgniteOptions(ConcatOptions, total=False):
    """ignite's optimizer schedulers (``save_history`` and ``param_group_index`` are positional)."""

    optimizer: int | str
    create_new: bool


class StateOptions(ConcatOptions, total=False):
    """ignite's state schedulers (``save_history`` and ``create_new`` are positional)."""

    optimizer: int | str
    param_group_index: int | str | None


class GetSchedulerOptions(TypedDict, total=False):
    """``get_scheduler``'s keyword arguments: the common ones but ``name``, and transformers' lengths."""

    interval: Interval | None
    optimizer: int | str
    param_group_index: int | str | None
    save_history: bool
    logging_enabled: bool
    on_resume: ResumePolicy
    clock: ClockName
    count: Count | None
    num_warmup_steps: Duration
    num_training_steps: Duration
