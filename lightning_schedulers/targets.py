"""Targets: where a scheduled value is written.

A target is a small frozen description (picklable, comparable) that knows torch but neither
schedules nor Lightning hooks. At the start of a fit the callback *binds* it to the live objects
(the trainer's optimizers, the LightningModule); the bound object reads and writes values.

* :class:`ParamGroup` writes one key of an optimizer's param groups (``lr``, ``weight_decay``,
  ``momentum``, any custom key), in every group or in one chosen by index or by its ``"name"``.
  ``momentum`` on an optimizer with ``betas`` (the Adam family) means ``betas[0]``. A group that
  holds ``lr_scale`` (timm's layer-wise decay) gets ``value * lr_scale`` for ``lr``, as timm's
  schedulers write it.
* :class:`Attribute` writes a module attribute by dotted path (``"loss_fn.temperature"``,
  ``"blocks.3.dropout.p"``), or every attribute a pattern matches (``"blocks.*.drop_path.drop_prob"``),
  optionally scaled per match (``scale="depth"``: stochastic depth's linear rule); a tensor or
  registered buffer is updated in place.

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

from lightning_schedulers._attributes import (
    Attribute,
    BoundAttribute,
    BoundPattern,
    ScaleSpec,
    check_name,
    check_path,
    to_float,
)
from lightning_schedulers._validation import check_bool, check_float, check_int, check_param_group

__all__ = [
    "Attribute",
    "BoundAttribute",
    "BoundParamGroups",
    "BoundPattern",
    "BoundTarget",
    "ParamGroup",
    "ScaleSpec",
    "Target",
    "check_path",
]


class BoundTarget(Protocol):
    """A target bound to live objects: reads and writes one value per slot (param group, matched attribute).

    A bound target may also have ``factors`` (a list of per-slot multipliers, or ``None``): the
    engine multiplies every value it writes into slot ``j`` by ``factors[j]`` (a group's
    ``lr_scale``, an attribute pattern's per-match scale).
    """

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
        param_group_index: write only this group: its index, or its name (the ``"name"`` entry of
            the group's dict, which ``LearningRateMonitor`` logs it under); ``None`` writes every
            group. A name is looked up when the fit starts (and at every rebind); a name that no
            group (or several) holds is an error listing the names the optimizer has.
        relative: the schedule gives a factor of each group's value captured at the start of the
            fit (torch's ``initial_lr`` convention) instead of an absolute value.

    A group that holds ``lr_scale`` (timm's layer-wise lr decay, see
    :func:`~lightning_schedulers.param_groups_layer_decay`) gets ``value * lr_scale`` written for
    ``lr``, absolute or relative, as timm's schedulers write it; ``lr_scale`` is read when the
    targets bind (the start of the fit, a rebind). Other keys are written unscaled.
        name: logging name that replaces ``LearningRateMonitor``'s (``"lr-{OptimizerClass}"``, with
            ``-{key}`` after the group for keys other than ``lr``).

    Examples:
        >>> ParamGroup("weight_decay", param_group_index=1)
        ParamGroup(key='weight_decay', optimizer=0, param_group_index=1, relative=False, name=None)
        >>> opt = torch.optim.AdamW([{"params": [torch.nn.Parameter(torch.zeros(1))], "name": "head"}])
        >>> ParamGroup("lr", param_group_index="head").bind([opt]).labels
        ['lr-AdamW/head']

    """

    key: str = "lr"
    optimizer: int | str = 0
    param_group_index: int | str | None = None
    relative: bool = False
    name: str | None = None

    def __post_init__(self) -> None:
        check_key("key", self.key)
        check_optimizer(self.optimizer)
        check_param_group("param_group_index", self.param_group_index)
        check_bool("relative", self.relative)
        check_name(self.name)

    def describe(self) -> str:
        """A short stable description, used in state keys and messages."""
        where = "" if self.param_group_index is None else f", param_group_index={self.param_group_index!r}"
        opt = self.optimizer if isinstance(self.optimizer, int) else f":{self.optimizer}"
        return f"{self.key}@optimizer{opt}{where}"

    def optimizer_index(self, optimizers: Sequence[torch.optim.Optimizer]) -> int:
        """The index of this target's optimizer; raise naming the optimizers that exist."""
        return resolve_optimizer(self.optimizer, optimizers)

    def group_indices(self, optimizer: torch.optim.Optimizer) -> list[int]:
        """The indices of the groups this target writes in ``optimizer``; raise naming what exists."""
        if self.param_group_index is None:
            return list(range(len(optimizer.param_groups)))
        return [resolve_group(self.param_group_index, optimizer)]

    def claims(self, optimizers: Sequence[torch.optim.Optimizer]) -> set[tuple[Any, ...]]:
        """What this target writes, as comparable identities (for conflict detection)."""
        index = self.optimizer_index(optimizers)
        groups = optimizers[index].param_groups
        claims: set[tuple[Any, ...]] = set()
        for i in self.group_indices(optimizers[index]):
            base, entry = _entry_of(self.key, groups[i])
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
        indices = self.group_indices(optimizer)
        if self.param_group_index is None and limit is not None:
            indices = indices[:limit]
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
        if (base, entry) == ("lr", None):
            bound.watch_lr_scale(indices, type(optimizer).__name__)
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
        if isinstance(self.param_group_index, str):  # a group's name is its log name (LearningRateMonitor)
            groups: list[str | None] = [self.param_group_index]
        elif self.param_group_index is not None:
            groups = [f"pg{self.param_group_index + 1}"]
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


def resolve_group(ref: int | str, optimizer: torch.optim.Optimizer) -> int:
    """The index of the param group ``ref`` (an index, or a group's ``"name"``) designates in ``optimizer``.

    Raise naming what exists: the group count for an index, the groups' names for a name.
    """
    groups = optimizer.param_groups
    cls = type(optimizer).__name__
    if isinstance(ref, int):
        if ref >= len(groups):
            raise ValueError(f"`param_group_index`={ref} is out of range: {cls} has {len(groups)} param group(s)")
        return ref
    matches = [i for i, g in enumerate(groups) if g.get("name") == ref]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(
            f"`param_group_index`={ref!r} names {len(matches)} param groups of {cls} (groups {matches}); a name "
            "must be unique among the optimizer's groups (LearningRateMonitor requires it too); use an index"
        )
    names = [g["name"] for g in groups if "name" in g]
    unnamed = [i for i, g in enumerate(groups) if "name" not in g]
    if not names:
        raise ValueError(
            f"`param_group_index`={ref!r} names no param group: none of the {len(groups)} param group(s) of {cls} "
            "has a 'name' entry (give a group a name with {'params': ..., 'name': ...}, or use its index)"
        )
    without = f"; group(s) {unnamed} have no name" if unnamed else ""
    raise ValueError(
        f"`param_group_index`={ref!r} names no param group of {cls}; its groups are named {names}{without}"
    )


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
        "_scales_read",
        "factors",
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
        # Per-group multipliers of every value written (each group's lr_scale), or None; the
        # engine folds them into the values it computes, so the write paths stay as they are.
        self.factors: list[float] | None = None
        self._scales_read: list[float | None] | None = None

    def watch_lr_scale(self, indices: list[int], optimizer: str) -> None:
        """Read each group's ``lr_scale`` (timm's layer-wise decay): the factors of the ``lr`` written.

        ``indices`` are the groups' indices in the optimizer, for messages.
        """
        read = [_lr_scale(g, i, optimizer) for g, i in zip(self._groups, indices, strict=True)]
        self._scales_read = read
        self.factors = None if all(f is None for f in read) else [1.0 if f is None else f for f in read]

    def factors_changed(self) -> list[int]:
        """The positions of the groups whose ``lr_scale`` differs from the one read at bind (none: ``[]``)."""
        read = self._scales_read
        if read is None:
            return []
        out = []
        for j, (group, before) in enumerate(zip(self._groups, read, strict=True)):
            now = group.get("lr_scale")
            try:
                value = None if now is None else to_float(now)
            except (TypeError, ValueError):  # no longer a number: changed
                value = math.nan
            if value != before:
                out.append(j)
        return out

    @property
    def key(self) -> str:
        """The param-group key written (``betas`` for an entry of it)."""
        return self._key

    def read(self) -> list[float]:
        key, entry = self._key, self._entry
        if entry is not None:
            return [to_float(g[key][entry]) for g in self._groups]
        return [to_float(g[key]) for g in self._groups]

    def read_other(self, key: str) -> list[float] | None:
        """Each group's value of another key (torch's ``initial_lr``), or ``None`` where a group lacks it."""
        if not self._groups or any(key not in g for g in self._groups):
            return None
        return [to_float(g[key]) for g in self._groups]

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


def _lr_scale(group: dict[str, Any], i: int, optimizer: str) -> float | None:
    """A group's ``lr_scale`` as a float (``None`` where it has none); refuse what cannot scale an lr."""
    if "lr_scale" not in group:
        return None
    value = group["lr_scale"]
    try:
        return check_float("lr_scale", value, non_negative=True)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"param group {i} of {optimizer} holds lr_scale={value!r}, which cannot scale its lr: "
            "it must be a finite number >= 0 (timm's layer-wise decay writes lr = value * lr_scale)"
        ) from None


Target = ParamGroup | Attribute
