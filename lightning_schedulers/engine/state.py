"""Checkpoint state: a plain record apart from the live bindings, its validation and migration.

A callback's ``state_dict()`` is a dict of plain Python values (it loads with
``torch.load(weights_only=True)``)::

    {"version": 2, "config": repr(callback), "interval": "step", "clock": "optimizer",
     "targets": ["param_group:0:lr"], "bases": [[0.1]], "slots": [1], "offset": 0,
     "events_total": 1000, "replans": [], "steps": None, "units_pending": None, "extra": {...}}

``bases`` are the start values each target captured (one list per target, ``None`` where the
schedule is absolute), ``offset`` the clock reading the schedule counts from
(``on_resume="restart"``), ``events_total`` the fit's length fractions resolved against,
``replans`` where resumed fits of other lengths planned the schedule again (``[event, length
planned before]`` pairs, ``on_resume="replan"``), ``steps`` a clock the callback counts itself
(manual optimization, hand-written loops; the samples or tokens consumed, with
``units_pending`` this rank's count inside an unfinished accumulation window), ``extra`` what a
family class resolved. Version 1 (0.1) had no ``interval``, ``clock``, ``targets``,
``slots`` or ``steps``; it is read by matching its bases to the targets by position.

Examples:
    >>> state_problem({"version": 3})
    "missing ['config', 'bases', 'offset', 'events_total', 'extra']"
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "CLOCKS",
    "INTERVALS",
    "STATE_VERSION",
    "UNIT_CLOCKS",
    "Priors",
    "empty_record",
    "state_problem",
    "stored_priors",
    "stored_replans",
]

STATE_VERSION = 2
INTERVALS = ("step", "epoch")
CLOCKS = ("optimizer", "batch", "samples", "tokens")
UNIT_CLOCKS = ("samples", "tokens")

_KEYS = ("version", "config", "bases", "offset", "events_total", "extra")

Priors = dict[str, tuple[list[float] | None, int]]
"""What earlier bindings captured, by target description: (start values or ``None``, slot count)."""


def empty_record(config: str, interval: str, clock: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The state of a callback that has bound nothing yet (saved before a fit, or by a fresh instance)."""
    return {
        "version": STATE_VERSION,
        "config": config,
        "interval": interval,
        "clock": clock,
        "targets": [],
        "bases": [],
        "slots": [],
        "offset": 0,
        "events_total": None,
        "replans": [],
        "steps": None,
        "units_pending": None,
        "extra": extra,
    }


def state_problem(state: Any) -> str | None:
    """What is wrong with a checkpoint state, or ``None`` (checked before anything is used)."""
    if not isinstance(state, dict):
        return f"expected a dict, got {type(state).__name__}"
    missing = [k for k in _KEYS if k not in state]
    if missing:
        return f"missing {missing}"
    version = state["version"]
    if version not in (1, STATE_VERSION):
        return f"unknown version {version!r}"
    if not isinstance(state["config"], str):
        return f"config is {state['config']!r}"
    bases = state["bases"]
    if not isinstance(bases, list):
        return f"bases is {bases!r}"
    for i, entry in enumerate(bases):
        if entry is None:
            continue
        if not isinstance(entry, list) or not all(_is_finite_number(v) for v in entry):
            return f"bases[{i}] is {entry!r}, not a list of finite numbers"
    if not is_count(state["offset"]):
        return f"offset is {state['offset']!r}"
    total = state["events_total"]
    if total is not None and (not is_count(total) or total < 1):
        return f"events_total is {total!r}"
    if not isinstance(state["extra"], dict):
        return f"extra is {state['extra']!r}"
    if version == STATE_VERSION:
        if state.get("interval") not in INTERVALS or state.get("clock") not in CLOCKS:
            return f"interval/clock is {state.get('interval')!r}/{state.get('clock')!r}"
        targets, slots = state.get("targets"), state.get("slots")
        if not isinstance(targets, list) or not all(isinstance(k, str) for k in targets) or len(targets) != len(bases):
            return f"targets is {targets!r} for {len(bases)} bases"
        if not isinstance(slots, list) or len(slots) != len(bases) or not all(is_count(n) for n in slots):
            return f"slots is {slots!r}"
        steps = state.get("steps")
        if steps is not None and not is_count(steps):
            return f"steps is {steps!r}"
        replans = state.get("replans")
        if replans is not None and (
            not isinstance(replans, list)
            or not all(isinstance(r, list) and len(r) == 2 and all(is_count(v) for v in r) for r in replans)
        ):
            return f"replans is {replans!r}"
        pending = state.get("units_pending")
        if pending is not None and not is_count(pending):
            return f"units_pending is {pending!r}"
    return None


def stored_priors(state: dict[str, Any] | None, keys: Sequence[str]) -> Priors | None:
    """What a checkpoint captured, by target description (``None``: no checkpoint).

    ``keys`` are the callback's target descriptions in order, for version 1 states, which stored
    the bases by position only: matched where the counts agree.
    """
    if state is None:
        return None
    bases = state["bases"]
    if state["version"] == 1:
        if len(keys) != len(bases):
            return {}
        return {k: (b, len(b) if b is not None else 0) for k, b in zip(keys, bases, strict=True)}
    return {
        k: (None if b is None else [float(v) for v in b], n)
        for k, b, n in zip(state["targets"], bases, state["slots"], strict=True)
    }


def stored_replans(state: dict[str, Any] | None) -> list[tuple[int, int]]:
    """Where earlier fits planned the schedule again: ``[(event, length planned before it), ...]``."""
    replans = state.get("replans") if state is not None else None
    return [(int(at), int(total)) for at, total in replans] if isinstance(replans, list) else []


def close(a: Sequence[float], b: Sequence[float]) -> bool:
    """The same values to float32 precision (a tensor hyperparameter reads back rounded)."""
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-12) for x, y in zip(a, b, strict=True))


def is_count(value: Any) -> bool:
    """A non-negative ``int`` (not a ``bool``)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
