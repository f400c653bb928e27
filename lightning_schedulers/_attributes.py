"""Attribute targets: a module attribute by dotted path, or every attribute a ``*`` pattern matches.

Re-exported by :mod:`lightning_schedulers.targets`, the module that documents targets; the walking
of paths and patterns and the per-match scale live here.

Examples:
    >>> from torch import nn
    >>> net = nn.Module()
    >>> net.blocks = nn.ModuleList(nn.Dropout(0.1) for _ in range(2))
    >>> Attribute("blocks.*.p").bind(net).read()
    [0.1, 0.1]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from lightning_schedulers._validation import check_bool, check_choice, check_float

__all__ = ["Attribute", "BoundAttribute", "BoundPattern", "ScaleSpec", "check_path"]


def check_name(name: Any) -> str | None:
    """A target's ``name``: a non-empty str or ``None``."""
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"`name` must be a non-empty str or None, got {name!r}")
    return name


def to_float(value: Any) -> float:
    """A number or one-element tensor as a Python float."""
    if isinstance(value, torch.Tensor):
        return float(value.item())
    return float(value)


def check_path(name: str, value: Any) -> str:
    """A dotted attribute path: a non-empty str without empty segments; ``*`` segments match one level.

    A ``*`` is a whole segment (``"blocks.*.p"``, not ``"block*.p"``) and never the last one: it
    stands for the objects one level down, and the last segment names the attribute written.
    """
    if not isinstance(value, str) or not value:
        raise TypeError(f"`{name}` must be a non-empty dotted str, got {value!r}")
    segments = value.split(".")
    if any(not seg for seg in segments):
        raise ValueError(f"`{name}` has an empty segment: {value!r}")
    if any("*" in seg and seg != "*" for seg in segments):
        raise ValueError(f"`{name}`={value!r}: a wildcard is a whole segment, '*' (one level of the module tree)")
    if segments[-1] == "*":
        raise ValueError(
            f"`{name}`={value!r} ends with '*'; the last segment names the attribute to write (as 'blocks.*.p')"
        )
    return value


_Missing = object()


def _child(obj: Any, segment: str) -> Any:
    """``obj.segment``, or ``obj[int(segment)]`` for a numeric segment of a list-like; else _Missing."""
    if isinstance(obj, torch.nn.Module):
        # A submodule straight from the module's registry: nn.Module.__getattr__ finds it there only
        # after a failed lookup, several times slower (walked every step). A class attribute of the
        # same name would win in getattr: then getattr decides.
        child = obj._modules.get(segment)
        if child is not None and not hasattr(type(obj), segment):
            return child
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


ScaleSpec = str | Sequence[float] | Callable[[int, int], float]
"""``Attribute(scale=...)``: ``"depth"``, one factor per object a pattern reaches, or ``f(index, count)``."""


@dataclass(frozen=True, repr=False)
class Attribute:
    """A module attribute reached by a dotted path from the LightningModule, or every attribute a pattern matches.

    Numeric segments index into ``nn.Sequential``/``nn.ModuleList`` (``"blocks.3.dropout.p"``).
    A tensor (a registered buffer, a parameter) is filled in place and keeps its identity; any
    other number is replaced by a Python float.

    A ``*`` segment matches one level of the module tree: the child modules of an ``nn.Module``
    (the items of an ``nn.ModuleList``/``nn.Sequential``, the values of an ``nn.ModuleDict``), in
    registration order, never its parameters, buffers or plain attributes; across a plain Python
    ``list``/``tuple`` its items and across a ``dict`` its values. ``"blocks.*.drop_path.drop_prob"``
    writes the ``drop_prob`` of every block's ``drop_path``. An object the last ``*`` reaches on
    which the rest of the path does not resolve is skipped (timm puts an ``nn.Identity`` where a
    block's drop rate is 0); a pattern that matches nothing when the fit starts is an error naming
    it. The matches are found again when the module tree changes during the fit (a block
    replaced, added or removed): from the next batch on the new objects hold the schedule's value.

    Args:
        path: dotted attribute path, for example ``"kl_weight"`` or ``"loss_fn.temperature"``, or a
            pattern with ``*`` segments (not the last one).
        create_new: create the attribute at the start of the fit (as ignite's state schedulers do).
            It is an error if the attribute already exists, and, with ``False``, if it does not.
            Not with a pattern.
        relative: the schedule gives a factor of the value the attribute holds at the start (of
            each match's own value, for a pattern).
        name: logging name; defaults to ``path``. A pattern logs one value per match, under the
            match's own path, or with ``name`` under ``{name}/{what the * matched}`` (``drop/3``).
        scale: a pattern only: a factor per match, multiplying the schedule's value. ``"depth"`` is
            stochastic depth's linear rule (timm's ``torch.linspace(0, drop_path_rate, depth)``):
            the ``k``-th of the ``n`` objects the last ``*`` reaches gets ``value * k / (n - 1)``
            (``0`` when ``n == 1``, as ``linspace``); a sequence gives one factor per object the
            last ``*`` reaches; a function ``f(k, n)`` returns the factor of the ``k``-th of
            ``n``. Objects on which the rest of the path does not resolve count in ``k`` and ``n``,
            so that a block's depth is its position.

    Examples:
        >>> Attribute("loss_fn.temperature").describe()
        'attribute:loss_fn.temperature'
        >>> from torch import nn
        >>> net = nn.Module()
        >>> net.blocks = nn.ModuleList(nn.Dropout(0.0) for _ in range(3))
        >>> bound = Attribute("blocks.*.p", scale="depth").bind(net)
        >>> bound.labels, bound.factors
        (['blocks.0.p', 'blocks.1.p', 'blocks.2.p'], [0.0, 0.5, 1.0])

    """

    path: str
    create_new: bool = False
    relative: bool = False
    name: str | None = None
    scale: ScaleSpec | None = None

    def __post_init__(self) -> None:
        check_path("path", self.path)
        check_bool("create_new", self.create_new)
        check_bool("relative", self.relative)
        check_name(self.name)
        if self.create_new and self.relative:
            raise ValueError(
                "`relative=True` needs an existing value to scale; it cannot be used with `create_new=True`"
            )
        if self.is_pattern and self.create_new:
            raise ValueError(
                f"`create_new=True` creates one attribute; `path`={self.path!r} is a pattern (it has a '*')"
            )
        if self.scale is not None:
            if not self.is_pattern:
                raise ValueError(
                    f"`scale`={self.scale!r} scales the matches of a pattern; `path`={self.path!r} has no '*'"
                )
            object.__setattr__(self, "scale", _check_scale(self.scale))

    def __repr__(self) -> str:
        # `scale` only when given: the repr of every earlier Attribute (in checkpoint fingerprints) stays.
        tail = "" if self.scale is None else f", scale={self.scale!r}"
        return (
            f"Attribute(path={self.path!r}, create_new={self.create_new!r}, relative={self.relative!r}, "
            f"name={self.name!r}{tail})"
        )

    @property
    def is_pattern(self) -> bool:
        """Whether the path has ``*`` segments (it may match several attributes)."""
        return "*" in self.path.split(".")

    def describe(self) -> str:
        """A short stable description, used in state keys and messages."""
        return f"attribute:{self.path}"

    def claims(self, optimizers: Sequence[torch.optim.Optimizer], module: Any = None) -> set[tuple[Any, ...]]:
        """What this target writes, as comparable identities (for conflict detection).

        With ``module``, a pattern claims the paths it matches there, so that it conflicts with a
        target on one of them.
        """
        if module is not None and self.is_pattern:
            matched = _expand(module, self.path.split("."))[0]
            if matched:
                return {("attribute", ".".join(m.parts)) for m in matched}
        return {("attribute", self.path)}

    def preview_labels(self, count: int) -> list[str]:
        """The log names of ``count`` values without a module: the name, or the path (a pattern's, for its matches)."""
        return [self.name or self.path] * count

    def bind(self, root: Any, *, created_by_us: bool = False) -> BoundAttribute:
        """Resolve the path from ``root``; raise naming the first segment that does not resolve.

        ``created_by_us`` lets a callback bind again an attribute it created in an earlier fit.
        """
        segments = self.path.split(".")
        if self.is_pattern:
            return self._bind_pattern(root, segments)
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

    def _bind_pattern(self, root: Any, segments: list[str]) -> BoundPattern:
        matched, reached = _expand(root, segments)
        if not matched:
            raise AttributeError(
                f"attribute pattern {self.path!r} matches nothing on {type(root).__name__}: "
                f"{_why_nothing(root, segments)}"
            )
        paths = [".".join(m.parts) for m in matched]
        for m, path in zip(matched, paths, strict=True):
            _check_number(path, _child(m.parent, segments[-1]))
        stars = [".".join(m.stars) for m in matched]
        labels = paths if self.name is None else [f"{self.name}/{star}" for star in stars]  # as named()
        factors = None if self.scale is None else _factors(self.scale, [m.position for m in matched], reached)
        return BoundPattern(root, segments, self.path, labels, [m.parent for m in matched], paths, stars, factors)


def _check_scale(value: Any) -> ScaleSpec:
    if isinstance(value, str):
        return check_choice("scale", value, ("depth",))
    if callable(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, (Mapping, bytes)) or not isinstance(value, Sequence) or not value:
        raise TypeError(
            f"`scale` must be 'depth', a non-empty sequence of factors or a function (index, count) -> factor, "
            f"got {value!r} ({type(value).__name__})"
        )
    return tuple(check_float(f"scale[{i}]", v) for i, v in enumerate(value))


def _factors(scale: ScaleSpec, indices: list[int], count: int) -> list[float]:
    """The factor of each match (its index among the ``count`` objects the last ``*`` reached)."""
    if scale == "depth":
        # timm's torch.linspace(0, rate, depth): the k-th of n at k / (n - 1); one alone at 0.
        return [k / (count - 1) if count > 1 else 0.0 for k in indices]
    if isinstance(scale, tuple):
        if len(scale) != count:
            raise ValueError(
                f"`scale` has {len(scale)} factors, but the pattern's last '*' reaches {count} objects; give one "
                "factor per object (the ones on which the rest of the path does not resolve included)"
            )
        return [scale[k] for k in indices]
    assert callable(scale)
    out = []
    for k in indices:
        factor = scale(k, count)
        try:
            out.append(check_float("scale", factor))
        except (TypeError, ValueError):
            raise ValueError(
                f"`scale`={scale!r} returned {factor!r} for match {k} of {count}; it must return a finite number"
            ) from None
    return out


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


class _Match(NamedTuple):
    """One attribute a pattern matches: its path's segments, what each ``*`` matched, its parent, its index."""

    parts: tuple[str, ...]
    stars: tuple[str, ...]
    parent: Any
    position: int  # among the objects the last `*` reached


def _children(obj: Any) -> list[tuple[str, Any]]:
    """What a ``*`` matches below ``obj``: child modules, a list's or tuple's items, a dict's values."""
    if isinstance(obj, torch.nn.Module):
        return [(key, child) for key, child in obj._modules.items() if child is not None]
    if isinstance(obj, (list, tuple)):
        return [(str(i), item) for i, item in enumerate(obj)]
    if isinstance(obj, Mapping):
        return [(str(key), value) for key, value in obj.items()]
    return []


def _walk(root: Any, segments: list[str]) -> list[tuple[tuple[str, ...], tuple[str, ...], Any]]:
    """Every expansion of the pattern's parent segments: ``(parts, stars, parent or _Missing)``.

    The list holds one entry per object the last ``*`` reached (the parent is ``_Missing`` where
    the rest of the path does not resolve on it), in module order.
    """
    found: list[tuple[tuple[str, ...], tuple[str, ...], Any]] = [((), (), root)]
    for segment in segments[:-1]:
        step: list[tuple[tuple[str, ...], tuple[str, ...], Any]] = []
        for parts, stars, obj in found:
            if segment == "*":
                step.extend(((*parts, key), (*stars, key), child) for key, child in _children(obj))
            else:
                child = _Missing if obj is _Missing else _child(obj, segment)
                step.append(((*parts, segment), stars, child))
        found = step
    return found


def _expand(root: Any, segments: list[str]) -> tuple[list[_Match], int]:
    """The attributes the pattern matches, and how many objects its last ``*`` reached."""
    leaf = segments[-1]
    found = _walk(root, segments)
    matched = [
        _Match((*parts, leaf), stars, parent, k)
        for k, (parts, stars, parent) in enumerate(found)
        if parent is not _Missing and _child(parent, leaf) is not _Missing
    ]
    return matched, len(found)


def _parents(root: Any, segments: list[str]) -> list[Any]:
    """The parent (or ``_Missing``) of every object the last ``*`` reaches: the hot path's check, lean."""
    found = [root]
    for segment in segments:
        if segment == "*":
            found = [child for obj in found for _, child in _children(obj)]
        else:
            found = [_Missing if obj is _Missing else _child(obj, segment) for obj in found]
    return found


def _why_nothing(root: Any, segments: list[str]) -> str:
    """Where a pattern that matches nothing stops: the first segment at which no object is left."""
    found = [root]
    for depth, segment in enumerate(segments):
        if segment == "*":
            step = [child for obj in found for _, child in _children(obj)]
        else:
            step = [c for c in (_child(obj, segment) for obj in found) if c is not _Missing]
        if not step:
            kinds = ", ".join(sorted({type(obj).__name__ for obj in found}))
            if depth == 0:
                return f"{kinds} has {'no child modules' if segment == '*' else f'no attribute {segment!r}'}"
            walked = ".".join(segments[:depth])
            if segment == "*":
                return f"{walked!r} ({kinds}) has no child modules, items or values for '*' to match"
            return f"no object reached by {walked!r} ({kinds}) has an attribute {segment!r}"
        found = step
    return "every match was skipped"  # pragma: no cover - _expand found none, so a segment above left none


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
        return [to_float(self._get(self._parent()))]

    def write(self, values: Sequence[float]) -> None:
        parent = self._written = self._parent()
        _set(parent, self._leaf, self._get(parent), values[0])


class BoundPattern(BoundAttribute):
    """An :class:`Attribute` pattern bound to the module: one slot per matched attribute.

    The matches are found at binding; :meth:`parent_replaced` walks the pattern again (identity
    comparisons of the objects the last ``*`` reaches) so that the run binds again when the module
    tree changed, and writes go to the parents found at binding in between.
    """

    __slots__ = ("_candidates", "_direct", "_parents_bound", "_paths", "factors", "stars")

    def __init__(
        self,
        root: Any,
        segments: list[str],
        path: str,
        labels: list[str],
        parents: list[Any],
        paths: list[str],
        stars: list[str],
        factors: list[float] | None,
    ) -> None:
        super().__init__(root, segments, path, labels)
        self._parents_bound = parents
        self._paths = paths
        # Per match, the instance dict a plain number lives in (written directly: nn.Module's
        # __setattr__ costs over a microsecond a call), or None to go through setattr.
        self._direct = [_plain_dict(parent, self._leaf) for parent in parents]
        self._candidates = _parents(root, self._segments)
        self.factors = factors
        self.stars = stars  # per match, what its `*`s matched, joined with dots ("3", "1.0")

    def named(self, name: str) -> list[str]:
        """The labels under a logging ``name``: ``{name}/{what the * matched}`` per match (``drop/3``)."""
        return [f"{name}/{star}" for star in self.stars]

    @property
    def nested(self) -> bool:
        """A pattern's matches can always change (its ``*`` reaches objects that can be replaced)."""
        return True

    @property
    def paths(self) -> list[str]:
        """The path of every matched attribute, in order."""
        return list(self._paths)

    def parent_replaced(self) -> bool:
        """Whether the objects the pattern reaches changed since binding (replaced, added, removed)."""
        now = _parents(self._root, self._segments)
        before = self._candidates
        if len(now) != len(before):
            return True
        # A loop, not any(): no generator object on the hot path.
        for a, b in zip(now, before):  # noqa: B905, SIM110 - same length, checked above
            if a is not b:
                return True
        return False

    def read(self) -> list[float]:
        leaf = self._leaf
        out = []
        for parent, path in zip(self._parents_bound, self._paths, strict=True):
            current = _child(parent, leaf)
            if current is _Missing:
                raise AttributeError(f"attribute {path!r} (matched by {self.path!r}) no longer resolves")
            _check_number(path, current)
            out.append(to_float(current))
        return out

    def write(self, values: Sequence[float]) -> None:
        leaf = self._leaf
        for parent, direct, path, v in zip(self._parents_bound, self._direct, self._paths, values, strict=True):
            if direct is not None and type(direct.get(leaf)) in _PLAIN:
                direct[leaf] = v
                continue
            current = _child(parent, leaf)
            if current is _Missing:
                raise AttributeError(f"attribute {path!r} (matched by {self.path!r}) no longer resolves")
            _check_number(path, current)
            _set(parent, leaf, current, v)


_PLAIN = (float, int)


def _plain_dict(parent: Any, leaf: str) -> dict[str, Any] | None:
    """``parent.__dict__`` where ``leaf`` is a plain number stored there and setting it runs no code of the class."""
    d = getattr(parent, "__dict__", None)
    if d is None or type(d.get(leaf)) not in _PLAIN:
        return None
    cls = type(parent)
    if hasattr(getattr(cls, leaf, None), "__set__"):  # a descriptor decides what is stored
        return None
    setter: Any = cls.__setattr__
    if setter is not object.__setattr__ and setter is not torch.nn.Module.__setattr__:  # its own hook must run
        return None
    return d  # type: ignore[no-any-return]


def _set(parent: Any, leaf: str, current: Any, v: float) -> None:
    """Write ``v`` where ``current`` (a number, checked) is: in place for a tensor, an entry, or an attribute."""
    if isinstance(current, torch.Tensor):
        with torch.no_grad():
            current.fill_(v)  # in place: a compiled graph or a buffer's users keep the same tensor
    elif leaf.isdigit() and not hasattr(parent, leaf):  # a list-like's entry
        parent[int(leaf)] = v
    else:
        setattr(parent, leaf, v)
