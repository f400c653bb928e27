"""Constructor signatures of the callback classes, derived once per class.

Each family class passes its common keyword arguments on to its bases (``**kwargs``); for
``help()``, Jupyter, jsonargparse (LightningCLI) and the argument check, the whole signature is
written out here, and a wrong call is reported in the public class's terms.
"""

from __future__ import annotations

import difflib
import inspect
from typing import TYPE_CHECKING, Any

import torch

from lightning_schedulers.schedules.base import Schedule, callable_name

if TYPE_CHECKING:
    from lightning_schedulers.callbacks.base import SchedulerCallback

__all__ = ["check_arguments", "describe", "own_parameters", "public_signature"]


def own_parameters(cls: type[SchedulerCallback]) -> tuple[str, ...]:
    """The named constructor parameters of ``cls`` beyond the common keyword arguments (cached per class)."""
    from lightning_schedulers.callbacks.base import SchedulerCallback

    cached = _PARAMETERS.get(cls)
    if cached is not None:
        return cached
    names: dict[str, None] = {}  # ordered: the base classes' arguments first, as in the signatures
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or not issubclass(klass, SchedulerCallback) or klass is SchedulerCallback:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                names[p.name] = None
    result = _PARAMETERS[cls] = tuple(name for name in names if name not in cls._COMMON_ARGUMENTS)
    return result


_PARAMETERS: dict[type, tuple[str, ...]] = {}


def public_signature(cls: type[SchedulerCallback]) -> inspect.Signature:
    """``cls``'s constructor signature with what it passes on to its bases written out.

    The first ``__init__`` in the MRO gives its parameters; a base reached through ``*args`` adds
    its positional parameters in their place, one reached through ``**kwargs`` its optional and
    keyword-only parameters (keyword-only), until a base passes nothing on.
    """
    from lightning_schedulers.callbacks.base import SchedulerCallback

    positional: list[inspect.Parameter] = []
    keyword: dict[str, inspect.Parameter] = {}
    takes_positional, star = True, False
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if not issubclass(klass, SchedulerCallback):
            break
        seen = {p.name for p in positional} | set(keyword)
        more, star = False, False
        for p in list(inspect.signature(init).parameters.values())[1:]:  # without self
            if p.kind is p.VAR_KEYWORD:
                more = True
            elif p.kind is p.VAR_POSITIONAL:
                star = True
            elif p.name in seen:
                continue
            elif takes_positional and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                positional.append(p)
            elif p.kind is p.KEYWORD_ONLY or p.default is not p.empty:
                keyword[p.name] = p.replace(kind=p.KEYWORD_ONLY)
            # else: a required positional parameter of a base, which the subclass passes itself
        takes_positional = star
        if not (more or star):
            break
    # A positional parameter without a default after one with a default can only be passed by keyword.
    for i, p in enumerate(positional):
        if p.default is p.empty and any(q.default is not q.empty for q in positional[:i]):
            positional, rest = positional[:i], positional[i:]
            keyword = {q.name: q.replace(kind=q.KEYWORD_ONLY) for q in rest} | keyword
            break
    extra = [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)] if star else []
    return inspect.Signature([*positional, *extra, *keyword.values()])


def check_arguments(cls: type[SchedulerCallback], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Say what is wrong with a constructor call in the public class's terms (torch habits included)."""
    name = cls.__name__
    if any(isinstance(v, torch.optim.Optimizer) for v in (*args, *kwargs.values())):
        raise TypeError(
            f"{name} is a Lightning callback: it takes the optimizer from the trainer, so do not pass one "
            f"(torch's {name}(optimizer, ...)); drop it, and pick the optimizer with optimizer=<index or class "
            f"name> where the LightningModule has several: Trainer(callbacks=[ls.{name}(...)])"
        )
    signature: inspect.Signature = cls.__signature__  # type: ignore[attr-defined]
    try:
        signature.bind_partial(*args, **kwargs)  # a missing argument is __init__'s to report
    except TypeError as error:
        known = list(signature.parameters)
        unknown = [k for k in kwargs if k not in signature.parameters]
        hint = ""
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(f"{name}(): {error}{hint}; {name} takes {name}{signature}") from None


def describe(value: Any) -> str:
    """A value as ``repr`` shows it: callables by name (no addresses), sequences item by item."""
    from lightning_schedulers.callbacks.base import SchedulerCallback

    if callable(value) and not isinstance(value, (SchedulerCallback, Schedule)):
        return callable_name(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    return repr(value)
