"""Argument checks shared by every public constructor.

Each helper raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for a value out of
range; both messages name the argument and repeat the value given, so a bad configuration is found
at construction time rather than mid-training.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

MAX_EVENTS = 2**53
"""The largest event count or index: float64 holds every integer up to it exactly."""


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = MAX_EVENTS) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer in ``[minimum, maximum]``."""
    # bool is an Integral; `steps=True` is always a mistake.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, got {value!r} ({type(value).__name__})")
    result = int(value)
    if minimum is not None and result < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value!r}")
    if maximum is not None and result > maximum:
        raise ValueError(f"`{name}` must be <= {maximum} (2**53, the float64 limit of exact counts), got {value!r}")
    return result


def check_param_group(name: str, value: Any) -> int | str | None:
    """A param group reference: its index (``>= 0``), its name (a group's ``"name"`` entry), or ``None``.

    A group's ``"name"`` is the key Lightning's ``LearningRateMonitor`` reads for its log names;
    which group holds it is resolved when the fit starts, against the optimizer's groups then.
    """
    if value is None:
        return None
    if isinstance(value, numbers.Integral):  # bool included: check_int refuses it by name
        return check_int(name, value, minimum=0)
    if isinstance(value, str):
        if not value:
            raise ValueError(f"`{name}` must be a group's index or a non-empty group name, got ''")
        return value
    raise TypeError(
        f"`{name}` must be an int, got {value!r} ({type(value).__name__}); give a param group's index, "
        "or its name (the group's 'name' entry) as a str"
    )


def check_float(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    non_negative: bool = False,
) -> float:
    """Return ``value`` as a finite ``float``; optionally require ``> 0`` or ``>= 0``.

    A 0-dim tensor or array (``torch.tensor(0.1)``, as torch's schedulers and optimizers accept)
    counts as its number.
    """
    value = scalar_of(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {value!r} ({type(value).__name__})")
    try:
        result = float(value)
    except OverflowError:  # an int like 10**400
        raise ValueError(f"`{name}` must be finite, got {value!r}") from None
    if not math.isfinite(result):
        raise ValueError(f"`{name}` must be finite, got {value!r}")
    if positive and result <= 0.0:
        raise ValueError(f"`{name}` must be > 0, got {value!r}")
    if non_negative and result < 0.0:
        raise ValueError(f"`{name}` must be >= 0, got {value!r}")
    return result


def scalar_of(value: Any) -> Any:
    """The Python number inside a 0-dim tensor or numpy array; anything else unchanged.

    Duck-typed (``ndim == 0`` and ``item()``), so this layer needs neither torch nor numpy.
    """
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)) and not isinstance(value, str):
        return value.item()
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` after checking it is a ``bool``."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {value!r} ({type(value).__name__})")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` after checking it is one of ``choices``."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}")
    return value


def check_sequence(name: str, value: Any, *, allow_empty: bool = False) -> tuple[Any, ...]:
    """Return ``value`` as a tuple after checking it is a non-string sequence (non-empty by default)."""
    # A mapping iterates its keys only: never the sequence meant.
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"`{name}` must be a sequence, got {value!r} ({type(value).__name__})")
    items = tuple(value)
    if not items and not allow_empty:
        raise ValueError(f"`{name}` must not be empty, got {value!r}")
    return items


def check_int_sequence(name: str, value: Any, *, strictly_increasing: bool, minimum: int = 0) -> tuple[int, ...]:
    """Return a non-empty tuple of ints ``>= minimum``, increasing (strictly if asked)."""
    items = check_sequence(name, value)
    result = tuple(check_int(f"{name}[{i}]", item, minimum=minimum) for i, item in enumerate(items))
    for i in range(1, len(result)):
        if result[i] < result[i - 1] or (strictly_increasing and result[i] == result[i - 1]):
            order = "strictly increasing" if strictly_increasing else "non-decreasing"
            raise ValueError(f"`{name}` must be {order}, got {value!r}")
    return result
