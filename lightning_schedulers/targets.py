"""Targets: where a scheduled value is written.

A target is a small frozen description (picklable, comparable) that knows torch but neither
schedules nor Lightning hooks. At the start of a fit the callback *binds* it to the live objects
(the trainer's optimizers, the LightningModule); the bound object reads and writes values.

* :class:`ParamGroup` writes one key of an optimizer's param groups (``lr``, ``weight_decay``,
  ``momentum``, any custom key). ``momentum`` on an optimizer with ``betas`` (the Adam family)
  means ``betas[0]``.
* :class:`Attribute` writes a module attribute by dotted path (``"loss_fn.temperature"``,
  ``"blocks.3.dropout.p"``); a tensor or registered buffer is updated in place.

Tensors are never replaced: a tensor ``lr`` or a buffer is filled in place, so code that holds a
reference to it (a compiled graph, a capturable optimizer) sees the new value.

Examples:
    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    >>> bound = ParamGroup("momentum").bind([opt])
    >>> bound.write([0.8]); opt.param_groups[0]["momentum"]
    0.8

"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from lightning_schedulers._validation import check_bool, check_int

__all__ = ["Attribute", "BoundTarget", "ParamGroup", "Target"]


class BoundTarget(Protocol):
    """A target bound to live objects: reads and writes one value per slot (param group)."""

    labels: list[str]
    """Logging names, one per slot."""

    non_negative: bool
    """Whether a negative value is refused (``lr``, ``weight_decay``, ``momentum``)."""

    def read(self) -> list[float]:
        """Current values, one per slot."""
        ...

    def write(self, values: Sequence[float]) -> None:
        """Write one value per slot."""
        ...


def _check_name(name: Any) -> str | None:
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"`name` must be a non-empty str or None, got {name!r}")
    return name


def _to_float(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.item())
    return float(value)


_ENTRY = re.compile(r"([^\[\]]+)\[(\d+)\]")


def check_key(name: str, value: Any) -> str:
    """A param-group key, or an entry of a tuple-valued one (``"betas[1]"``).

    ``name`` is the argument's public name, for the message.
    """
    if not isinstance(value, str) or not value:
        raise TypeError(f"`{name}` must be a non-empty str, got {value!r}")
    if ("[" in value or "]" in value) and _ENTRY.fullmatch(value) is None:
        raise ValueError(
            f"`{name}`={value!r} is neither a param-group key nor an entry of one; an entry is written "
            "key[index], as 'betas[1]'"
        )
    return value


def split_key(key: str) -> tuple[str, int | None]:
    """``"betas[1]"`` -> ``("betas", 1)``; a plain key -> ``(key, None)``."""
    match = _ENTRY.fullmatch(key)
    return (key, None) if match is None else (match.group(1), int(match.group(2)))


def check_path(name: str, value: Any) -> str:
    """A dotted attribute path: a non-empty str without empty segments."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"`{name}` must be a non-empty dotted str, got {value!r}")
    if any(not seg for seg in value.split(".")):
        raise ValueError(f"`{name}` has an empty segment: {value!r}")
    return value


@dataclass(frozen=True)
class ParamGroup:
    """One key of an optimizer's param groups.

    Args:
        key: the param-group key to write (``"lr"``, ``"weight_decay"``, ``"momentum"``, custom),
            or one entry of a tuple-valued key, ``"betas[0]"``, ``"betas[1]"`` (``key[i]`` in
            general). It must exist in the param group; ``"momentum"`` falls back to
            ``betas[0]`` where the group has no ``momentum``.
        optimizer: index into ``trainer.optimizers``, or the class name of one of them (``"Adam"``),
            which must then be unique among the trainer's optimizers.
        param_group_index: write only this group; ``None`` writes every group.
        relative: the schedule gives a factor of each group's value captured at the start of the
            fit (torch's ``initial_lr`` convention) instead of an absolute value.
        name: logging name that replaces ``LearningRateMonitor``'s (``"lr-{OptimizerClass}"``, with
            ``-{key}`` after the group for keys other than ``lr``).

    Examples:
        >>> ParamGroup("weight_decay", param_group_index=1)
        ParamGroup(key='weight_decay', optimizer=0, param_group_index=1, relative=False, name=None)

    """

    key: str = "lr"
    optimizer: int | str = 0
    param_group_index: int | None = None
    relative: bool = False
    name: str | None = None

    def __post_init__(self) -> None:
        check_key("key", self.key)
        check_optimizer(self.optimizer)
        if self.param_group_index is not None:
            check_int("param_group_index", self.param_group_index, minimum=0)
        check_bool("relative", self.relative)
        _check_name(self.name)

    def describe(self) -> str:
        """A short stable description, used in state keys and messages."""
        where = "" if self.param_group_index is None else f", param_group_index={self.param_group_index}"
        opt = self.optimizer if isinstance(self.optimizer, int) else f":{self.optimizer}"
        return f"{self.key}@optimizer{opt}{where}"

    def optimizer_index(self, optimizers: Sequence[torch.optim.Optimizer]) -> int:
        """The index of this target's optimizer; raise naming the optimizers that exist."""
        return resolve_optimizer(self.optimizer, optimizers)

    def claims(self, optimizers: Sequence[torch.optim.Optimizer]) -> set[tuple[Any, ...]]:
        """What this target writes, as comparable identities (for conflict detection)."""
        index = self.optimizer_index(optimizers)
        groups = optimizers[index].param_groups
        indices = range(len(groups)) if self.param_group_index is None else [self.param_group_index]
        claims: set[tuple[Any, ...]] = set()
        for i in indices:
            base, entry = _entry_of(self.key, groups[i] if i < len(groups) else {})
            claims.add(("param_group", index, i, base if entry is None else f"{base}[{entry}]"))
        return claims

    def bind(self, optimizers: Sequence[torch.optim.Optimizer], limit: int | None = None) -> BoundParamGroups:
        """Resolve the optimizer and groups; raise if the optimizer, group or key does not exist.

        ``limit`` binds only the first ``limit`` groups (a per-group list with fewer entries than
        the optimizer has groups, after groups were added during the fit).
        """
        index = self.optimizer_index(optimizers)
        optimizer = optimizers[index]
        groups = optimizer.param_groups
        if self.param_group_index is not None and self.param_group_index >= len(groups):
            raise ValueError(
                f"`param_group_index`={self.param_group_index} is out of range: "
                f"{type(optimizer).__name__} has {len(groups)} param group(s)"
            )
        count = len(groups) if limit is None else min(limit, len(groups))
        indices = list(range(count)) if self.param_group_index is None else [self.param_group_index]
        resolved = {_checked_entry(self.key, groups[i], i, type(optimizer).__name__) for i in indices}
        if len(resolved) != 1:
            raise ValueError(
                f"{self.key!r} means different entries in the param groups of {type(optimizer).__name__} "
                f"({sorted(map(str, resolved))}); schedule them with separate targets"
            )
        base, entry = resolved.pop()
        labels = self._labels(optimizers, index, indices, base, entry)
        bound = BoundParamGroups([groups[i] for i in indices], base, entry, labels)
        bound.optimizer, bound.optimizer_index = optimizer, index
        if self.name is None:  # the series a LearningRateMonitor logs under the same names
            bound.monitored = _MONITORED.get((base, entry))
        return bound

    def _labels(
        self, optimizers: Sequence[torch.optim.Optimizer], index: int, indices: list[int], base: str, entry: int | None
    ) -> list[str]:
        # Named as LearningRateMonitor names them: "lr-SGD", "lr-SGD/pg2" (or the group's "name"),
        # "lr-Adam-1" for a second Adam, then "-momentum", "-weight_decay", "-{key}" for other keys.
        optimizer = optimizers[index]
        cls = type(optimizer)
        same_before = sum(1 for o in optimizers[:index] if type(o) is cls)
        groups = optimizer.param_groups
        names = [groups[i].get("name") or (f"pg{i + 1}" if len(groups) > 1 else None) for i in indices]
        return self._named(cls.__name__ + (f"-{same_before}" if same_before else ""), names, base, entry)

    def _named(self, optimizer: str, groups: list[str | None], base: str, entry: int | None) -> list[str]:
        """``lr-{optimizer}[/{group}][-{key}]`` per group, or ``{name}[/{group}]`` with a target name."""
        if self.name is not None:
            prefix, suffix = self.name, ""
        else:
            prefix = f"lr-{optimizer}"
            suffix = "" if (base, entry) == ("lr", None) else "-" + key_label(base, entry)
        return [f"{prefix}/{group}{suffix}" if group else prefix + suffix for group in groups]

    def preview_labels(self, count: int) -> list[str]:
        """The log names of ``count`` groups when the optimizer is not known (a preview without one).

        Its class is then unknown: the reference stands in its place (``lr-optimizer0/pg1``, or
        ``lr-AdamW/pg1`` for ``optimizer="AdamW"``).
        """
        optimizer = self.optimizer if isinstance(self.optimizer, str) else f"optimizer{self.optimizer}"
        if self.param_group_index is not None:
            groups: list[str | None] = [f"pg{self.param_group_index + 1}"]
        else:
            groups = [f"pg{j + 1}" for j in range(count)] if count > 1 else [None]
        base, entry = split_key(self.key)
        return self._named(optimizer, groups, base, entry)


_MONITORED = {
    ("lr", None): "lr",
    ("momentum", None): "momentum",
    ("betas", 0): "momentum",
    ("weight_decay", None): "weight_decay",
}


def key_label(base: str, entry: int | None) -> str:
    """How a key appears in logged names: ``momentum`` for ``betas[0]`` (as LearningRateMonitor), ``betas.1``.

    Brackets are left out: several loggers (MLflow) refuse them in metric names.
    """
    if entry is None:
        return base
    if (base, entry) == ("betas", 0):
        return "momentum"
    return f"{base}.{entry}"


def _entry_of(key: str, group: dict[str, Any]) -> tuple[str, int | None]:
    """The (key, entry index) that ``key`` writes in ``group``: ``momentum`` is ``betas[0]`` there if need be."""
    base, entry = split_key(key)
    if entry is None and key == "momentum" and "momentum" not in group and "betas" in group:
        return "betas", 0
    return base, entry


def _checked_entry(key: str, group: dict[str, Any], i: int, optimizer: str) -> tuple[str, int | None]:
    """:func:`_entry_of`, checked against what ``group`` holds; raise saying what it has instead."""
    base, entry = _entry_of(key, group)
    if base not in group:
        keys = sorted(k for k in group if k != "params")
        raise KeyError(f"param group {i} of {optimizer} has no key {base!r}; its keys are {keys}")
    held = group[base]
    is_tuple = isinstance(held, (tuple, list))
    if entry is None and is_tuple:
        entries = ", ".join(f"'{base}[{j}]'" for j in range(len(held)))
        raise ValueError(
            f"{base!r} holds {tuple(held)!r} in param group {i} of {optimizer}; schedule one entry of it: {entries}"
        )
    if entry is not None and (not is_tuple or entry >= len(held)):
        raise KeyError(
            f"{key!r}: param group {i} of {optimizer} holds {held!r} under {base!r}, which has no entry {entry}"
        )
    return base, entry


def check_optimizer(value: Any) -> int | str:
    """Validate an optimizer reference: an index ``>= 0`` or an optimizer class name."""
    if isinstance(value, str):
        if not value:
            raise ValueError("`optimizer` must be an index or a non-empty optimizer class name, got ''")
        return value
    return check_int("optimizer", value, minimum=0)


def resolve_optimizer(ref: int | str, optimizers: Sequence[torch.optim.Optimizer]) -> int:
    """The index ``ref`` designates among ``optimizers``; raise naming the optimizers that exist."""
    existing = [f"{i}: {type(o).__name__}" for i, o in enumerate(optimizers)]
    if isinstance(ref, str):
        matches = [i for i, o in enumerate(optimizers) if type(o).__name__ == ref]
        if len(matches) != 1:
            problem = "matches no optimizer" if not matches else f"matches {len(matches)} optimizers; use an index"
            raise ValueError(f"`optimizer`={ref!r} {problem}; the trainer has {existing}")
        return matches[0]
    if ref >= len(optimizers):
        raise ValueError(
            f"`optimizer`={ref} is out of range: the trainer has {len(optimizers)} optimizer(s) {existing}"
        )
    return ref


NON_NEGATIVE_KEYS = frozenset({"lr", "weight_decay", "momentum", "betas"})
"""Param-group keys that must never receive a negative value (``betas``: each of its entries)."""


class BoundParamGroups:
    """A :class:`ParamGroup` bound to live param-group dicts: one key, or one entry of a tuple-valued key."""

    __slots__ = (
        "_entry",
        "_groups",
        "_key",
        "_plain",
        "labels",
        "monitored",
        "non_negative",
        "optimizer",
        "optimizer_index",
    )

    def __init__(self, groups: list[dict[str, Any]], key: str, entry: int | None, labels: list[str]) -> None:
        self._groups = groups
        self._key = key
        self._entry = entry
        self.labels = labels
        self.non_negative = key in NON_NEGATIVE_KEYS
        # The optimizer these groups belong to (set by ParamGroup.bind): a fit watches it for
        # added groups and for being replaced.
        self.optimizer: torch.optim.Optimizer | None = None
        self.optimizer_index = 0
        # What LearningRateMonitor logs these values as, under the same names ("lr", "momentum",
        # "weight_decay"), or None.
        self.monitored: str | None = None
        # Plain float entries (the common case) take a fast path; an entry's kind does not change.
        self._plain = entry is None and not any(isinstance(g[key], torch.Tensor) for g in groups)

    @property
    def key(self) -> str:
        """The param-group key written (``betas`` for an entry of it)."""
        return self._key

    def read(self) -> list[float]:
        key, entry = self._key, self._entry
        if entry is not None:
            return [_to_float(g[key][entry]) for g in self._groups]
        return [_to_float(g[key]) for g in self._groups]

    def read_other(self, key: str) -> list[float] | None:
        """Each group's value of another key (torch's ``initial_lr``), or ``None`` where a group lacks it."""
        if not self._groups or any(key not in g for g in self._groups):
            return None
        return [_to_float(g[key]) for g in self._groups]

    def plain_groups(self) -> tuple[list[dict[str, Any]], str] | None:
        """``(groups, key)`` when every entry is a plain float (written with ``group[key] = v``)."""
        return (self._groups, self._key) if self._plain else None

    def write(self, values: Sequence[float]) -> None:
        key, entry = self._key, self._entry
        if self._plain:
            for group, v in zip(self._groups, values):  # noqa: B905 - same length by construction (hot path)
                group[key] = v
            return
        for group, v in zip(self._groups, values, strict=True):
            current = group[key]
            if entry is not None:
                item = current[entry]
                if isinstance(item, torch.Tensor):
                    item.fill_(v)  # in place, as a tensor lr (a capturable optimizer holds it)
                elif isinstance(current, list):
                    current[entry] = v
                else:  # a tuple, as torch's betas: a new tuple with the one entry replaced
                    group[key] = (*current[:entry], v, *current[entry + 1 :])
            elif isinstance(current, torch.Tensor):
                # In place: a compiled or capturable optimizer keeps its reference to this tensor.
                current.fill_(v)
            else:
                group[key] = v


_Missing = object()


def _child(obj: Any, segment: str) -> Any:
    """``obj.segment``, or ``obj[int(segment)]`` for a numeric segment of a list-like; else _Missing."""
    try:
        return getattr(obj, segment)
    except AttributeError:
        pass
    if segment.isdigit():
        try:
            return obj[int(segment)]
        except (TypeError, IndexError, KeyError):
            return _Missing
    return _Missing


@dataclass(frozen=True)
class Attribute:
    """A module attribute reached by a dotted path from the LightningModule.

    Numeric segments index into ``nn.Sequential``/``nn.ModuleList`` (``"blocks.3.dropout.p"``).
    A tensor (a registered buffer, a parameter) is filled in place and keeps its identity; any
    other number is replaced by a Python float.

    Args:
        path: dotted attribute path, for example ``"kl_weight"`` or ``"loss_fn.temperature"``.
        create_new: create the attribute at the start of the fit (as ignite's state schedulers do).
            It is an error if the attribute already exists, and, with ``False``, if it does not.
        relative: the schedule gives a factor of the value the attribute holds at the start.
        name: logging name; defaults to ``path``.

    Examples:
        >>> Attribute("loss_fn.temperature").describe()
        'attribute:loss_fn.temperature'

    """

    path: str
    create_new: bool = False
    relative: bool = False
    name: str | None = None

    def __post_init__(self) -> None:
        check_path("path", self.path)
        check_bool("create_new", self.create_new)
        check_bool("relative", self.relative)
        _check_name(self.name)
        if self.create_new and self.relative:
            raise ValueError(
                "`relative=True` needs an existing value to scale; it cannot be used with `create_new=True`"
            )

    def describe(self) -> str:
        """A short stable description, used in state keys and messages."""
        return f"attribute:{self.path}"

    def claims(self, optimizers: Sequence[torch.optim.Optimizer]) -> set[tuple[Any, ...]]:
        """What this target writes, as comparable identities (for conflict detection)."""
        return {("attribute", self.path)}

    def bind(self, root: Any, *, created_by_us: bool = False) -> BoundAttribute:
        """Resolve the path from ``root``; raise naming the first segment that does not resolve.

        ``created_by_us`` lets a callback bind again an attribute it created in an earlier fit.
        """
        segments = self.path.split(".")
        parent = root
        for depth, segment in enumerate(segments[:-1]):
            child = _child(parent, segment)
            if child is _Missing:
                walked = ".".join(segments[:depth]) or type(root).__name__
                raise AttributeError(
                    f"attribute path {self.path!r} does not resolve: {walked!r} "
                    f"({type(parent).__name__}) has no attribute {segment!r}"
                )
            parent = child
        leaf = segments[-1]
        current = _child(parent, leaf)
        if self.create_new:
            if current is not _Missing and not created_by_us:
                raise AttributeError(
                    f"`create_new=True` but attribute {self.path!r} already exists "
                    f"(holding {current!r}); use create_new=False to schedule it"
                )
            if current is _Missing:
                setattr(parent, leaf, 0.0)
        elif current is _Missing:
            raise AttributeError(
                f"attribute path {self.path!r} does not resolve: segment {leaf!r} not found on "
                f"{type(parent).__name__}; pass create_new=True to create it"
            )
        else:
            _check_number(self.path, current)
        return BoundAttribute(root, segments, self.path, [self.name or self.path])


def _check_number(path: str, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            raise TypeError(
                f"attribute {path!r} is a {value.dtype} tensor; a scheduled tensor must be floating point "
                "(an integer tensor would truncate every value)"
            )
        if value.numel() != 1:
            raise TypeError(
                f"attribute {path!r} is a tensor of shape {tuple(value.shape)}; a scheduled tensor must hold "
                "exactly one value"
            )
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"attribute {path!r} holds {value!r} ({type(value).__name__}); only a number or a "
            "floating-point tensor can be scheduled"
        )
    if not math.isfinite(value):
        raise ValueError(f"attribute {path!r} holds the non-finite value {value!r}")


class BoundAttribute:
    """An :class:`Attribute` bound to the LightningModule.

    The path is walked from the module on every access, so a parent replaced during the fit
    (``pl_module.head = nn.Dropout(...)``) is written, not the object it replaced. What the path
    holds is checked on every write: it must still be a number or a one-element floating-point tensor.
    """

    __slots__ = ("_leaf", "_root", "_segments", "_written", "labels", "non_negative", "path")

    def __init__(self, root: Any, segments: list[str], path: str, labels: list[str]) -> None:
        self._root = root
        self._segments = segments[:-1]
        self._leaf = segments[-1]
        self._written: Any = None  # the parent last written to
        self.path = path
        self.labels = labels
        self.non_negative = False

    @property
    def nested(self) -> bool:
        """Whether the path goes through objects that can be replaced (it has a parent other than the module)."""
        return bool(self._segments)

    def parent_replaced(self) -> bool:
        """Whether the path now leads to another parent object than the one last written to."""
        try:
            return self._parent() is not self._written
        except AttributeError:
            return True  # gone: the next write says so

    def _parent(self) -> Any:
        parent = self._root
        for segment in self._segments:
            parent = _child(parent, segment)
            if parent is _Missing:
                raise AttributeError(
                    f"attribute path {self.path!r} no longer resolves: segment {segment!r} is gone "
                    "(was a parent replaced or deleted during the fit?)"
                )
        return parent

    def _get(self, parent: Any) -> Any:
        current = _child(parent, self._leaf)
        if current is _Missing:
            raise AttributeError(f"attribute path {self.path!r} no longer resolves: {self._leaf!r} is gone")
        _check_number(self.path, current)
        return current

    def read(self) -> list[float]:
        return [_to_float(self._get(self._parent()))]

    def write(self, values: Sequence[float]) -> None:
        v = values[0]
        parent = self._written = self._parent()
        current = self._get(parent)
        if isinstance(current, torch.Tensor):
            with torch.no_grad():
                current.fill_(v)
        elif self._leaf.isdigit() and not hasattr(parent, self._leaf):  # a list-like's entry
            parent[int(self._leaf)] = v
        else:
            setattr(parent, self._leaf, v)


Target = ParamGroup | Attribute
