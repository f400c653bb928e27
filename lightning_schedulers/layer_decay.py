"""Param groups for layer-wise lr decay: one group per (depth, weight decay), each with its ``lr_scale``.

Layer-wise decay (BEiT, MAE, timm's fine-tuning recipes) trains the layers near the input with a
smaller learning rate than those near the head: the parameters at depth ``d`` of ``L + 1`` depths
get ``lr * layer_decay ** (L - d)``. The groups carry that factor as ``lr_scale`` and the
schedulers write ``value * lr_scale`` into each group's ``lr`` (as timm's do, and every target
of this package on ``lr``), so one schedule drives every depth.

Examples:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Module()
    >>> net.embed = nn.Linear(2, 4)
    >>> net.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
    >>> net.head = nn.Linear(4, 1)
    >>> groups = param_groups_layer_decay(net, layer_decay=0.5, weight_decay=0.05, blocks="blocks")
    >>> [(g["name"], g["lr_scale"]) for g in groups][::2]
    [('layer_0_decay', 0.125), ('layer_1_decay', 0.25), ('layer_2_decay', 0.5), ('layer_3_decay', 1.0)]
    >>> optimizer = torch.optim.AdamW(groups, lr=1e-3)  # the scheduler writes lr = value * lr_scale
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Collection, Iterable
from typing import Any

from torch import nn

from lightning_schedulers._attributes import check_path
from lightning_schedulers._validation import check_float

__all__ = ["param_groups_layer_decay"]

_PREVIOUS = 99999.0
"""timm's ``MATCH_PREV_GROUP`` suffix: a parameter so marked joins the depth before it (a final norm)."""


def param_groups_layer_decay(
    model: nn.Module,
    *,
    lr: float | None = None,
    weight_decay: float = 0.05,
    layer_decay: float = 0.75,
    no_weight_decay_list: Collection[str] | None = None,
    blocks: str | None = None,
    min_scale: float = 0.0,
) -> list[dict[str, Any]]:
    """Param groups for layer-wise lr decay, each holding its ``lr_scale``; timm's ``param_groups_layer_decay``.

    Each trainable parameter goes to the group of its depth and of its weight decay: none for
    one-dimensional parameters (biases, norm weights) and for names matching
    ``no_weight_decay_list``, ``weight_decay`` for the others. A group holds ``lr_scale =
    max(min_scale, layer_decay ** (L - d))`` for depth ``d`` of ``0 .. L``, and a ``name``
    (``"layer_3_decay"``), which ``LearningRateMonitor`` logs it under and ``param_group_index``
    selects it by. Groups come in the order their first parameter appears in
    ``model.named_parameters()``.

    The depths, as timm (``timm.optim.param_groups_layer_decay``, which ``create_optimizer_v2(...,
    layer_decay=...)`` calls):

    * ``blocks=None``: the model's ``group_matcher(coarse=False)`` (every timm model has one) maps
      parameter names to depths with timm's rules: its regular expressions in order, the numbers
      they capture, a ``(99999,)`` suffix joining the depth before, the names it does not match
      (the head) deepest.
    * ``blocks="blocks"`` (the dotted path of the model's sequence of blocks, for a model without
      a ``group_matcher``): BEiT's and MAE's rule. The parameters listed before the blocks (the
      module's own parameters, such as a class token, come first, then the embedding) are depth
      0, those of block ``i`` depth ``i + 1``, and those after the blocks (final norm, head) depth
      ``n + 1`` for ``n`` blocks.

    Args:
        model: the model whose parameters are grouped.
        lr: written into every group as its ``lr`` when given; ``None`` leaves it to the
            optimizer's default (timm's groups carry no ``lr``). The groups' ``lr`` is the unscaled
            one: the scheduler writes ``value * lr_scale``, so an optimizer used without a
            scheduler of this package or timm's trains every depth at ``lr``.
        weight_decay: the weight decay of the parameters that have one.
        layer_decay: the factor between consecutive depths, in ``(0, 1]`` for a decay.
        no_weight_decay_list: names or ``fnmatch`` patterns of parameters without weight decay;
            ``None`` takes ``model.no_weight_decay()`` where the model has it (as timm's
            ``create_optimizer_v2`` passes it), else none.
        blocks: see above.
        min_scale: the smallest ``lr_scale`` (timm's ``min_scale``).

    Returns:
        A list of param-group dicts for a torch optimizer: ``params``, ``lr_scale``,
        ``weight_decay``, ``name`` (and ``lr`` when given).

    Raises:
        TypeError: ``model`` is not an ``nn.Module``, or an argument has the wrong type.
        ValueError: an argument is out of range, ``blocks`` does not name a module with children,
            or ``blocks=None`` for a model without ``group_matcher``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch nn.Module, got {model!r} ({type(model).__name__})")
    base_lr = None if lr is None else check_float("lr", lr, non_negative=True)
    decay = check_float("weight_decay", weight_decay, non_negative=True)
    factor = check_float("layer_decay", layer_decay, positive=True)
    floor = check_float("min_scale", min_scale, non_negative=True)
    patterns = _no_decay_patterns(model, no_weight_decay_list)
    names = [name for name, _ in model.named_parameters()]
    depth_of = _structural_depths(model, names, blocks) if blocks is not None else _matcher_depths(model, names)
    deepest = max(depth_of.values(), default=0)
    scales = [_scale(factor, deepest - d, floor) for d in range(deepest + 1)]
    groups: dict[str, dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim <= 1 or any(fnmatch.fnmatch(name, p) for p in patterns)
        depth = depth_of.get(name, deepest)
        key = f"layer_{depth}_{'no_decay' if no_decay else 'decay'}"
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "params": [],
                "lr_scale": scales[depth],
                "weight_decay": 0.0 if no_decay else decay,
                "name": key,
            }
            if base_lr is not None:
                group["lr"] = base_lr
        group["params"].append(param)
    return list(groups.values())


def _scale(factor: float, distance: int, floor: float) -> float:
    try:
        value = factor**distance
    except OverflowError:  # a growth factor over many depths
        raise ValueError(
            f"`layer_decay`={factor!r} overflows float64 over {distance} depths; a decay is in (0, 1]"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"`layer_decay`={factor!r} overflows float64 over {distance} depths; a decay is in (0, 1]")
    return max(floor, value)


def _no_decay_patterns(model: nn.Module, given: Collection[str] | None) -> list[str]:
    if given is None:
        find = getattr(model, "no_weight_decay", None)
        given = find() if callable(find) else ()
    if isinstance(given, str) or not isinstance(given, Iterable):
        raise TypeError(
            f"`no_weight_decay_list` must be a collection of parameter names or patterns, got {given!r} "
            f"({type(given).__name__})"
        )
    patterns = list(given)
    for i, p in enumerate(patterns):
        if not isinstance(p, str):
            raise TypeError(f"`no_weight_decay_list[{i}]` must be a str, got {p!r} ({type(p).__name__})")
    return patterns


def _structural_depths(model: nn.Module, names: list[str], blocks: str) -> dict[str, int]:
    """BEiT's rule: before the blocks 0, block ``i`` at ``i + 1``, after them ``n + 1``."""
    check_path("blocks", blocks)
    if "*" in blocks.split("."):
        raise ValueError(f"`blocks`={blocks!r} names one module (the sequence of blocks), not a pattern")
    container: Any = model
    for segment in blocks.split("."):
        container = getattr(container, segment, None)
        if container is None:
            raise ValueError(f"`blocks`={blocks!r} does not resolve on {type(model).__name__}: no {segment!r}")
    if not isinstance(container, nn.Module) or not len(container._modules):
        raise ValueError(
            f"`blocks`={blocks!r} must name a module holding the blocks as children (a ModuleList, Sequential), "
            f"got {type(container).__name__} with no child modules"
        )
    position = {key: i for i, key in enumerate(container._modules)}
    prefix = blocks + "."
    count = len(position)
    depths: dict[str, int] = {}
    seen = False
    for name in names:
        if name.startswith(prefix):
            seen = True
            depths[name] = position[name[len(prefix) :].split(".", 1)[0]] + 1
        else:
            depths[name] = count + 1 if seen else 0
    return depths


def _matcher_depths(model: nn.Module, names: list[str]) -> dict[str, int]:
    """The depths by timm's rule: the model's ``group_matcher(coarse=False)``, its ordinals made consecutive."""
    make = getattr(model, "group_matcher", None)
    if not callable(make):
        raise ValueError(
            f"`blocks`=None takes the depths from the model's group_matcher(), and {type(model).__name__} has none "
            "(timm's models have one): pass `blocks`, the dotted path of its sequence of blocks, as blocks='blocks'"
        )
    ordinal = _ordinals(make(coarse=False))
    keys = {name: ordinal(name) for name in names}
    depth, last = -1, None
    depth_of_key: dict[tuple[float, ...], int] = {}
    for key in sorted(set(keys.values())):
        if last is None or key[-1] != _PREVIOUS:
            depth += 1
        depth_of_key[key] = depth
        last = key
    return {name: depth_of_key[key] for name, key in keys.items()}


def _ordinals(matcher: Any) -> Callable[[str], tuple[float, ...]]:
    """A parameter name's sort key under a timm group matcher (a dict of regular expressions, or a function)."""
    if callable(matcher):

        def call(name: str) -> tuple[float, ...]:
            key = matcher(name)
            return tuple(float(k) for k in key) if isinstance(key, Iterable) else (float(key),)

        return call
    if not isinstance(matcher, dict):
        raise TypeError(f"group_matcher() returned {matcher!r}; a dict of regular expressions or a function")
    compiled: list[tuple[re.Pattern[str], float, tuple[float, ...]]] = []
    for ordinal, spec in enumerate(matcher.values()):
        if spec is None:
            continue
        entries = spec if isinstance(spec, (list, tuple)) else [(spec, None)]
        for pattern, suffix in entries:
            compiled.append((re.compile(pattern), float(ordinal), tuple(float(s) for s in suffix or ())))

    def match(name: str) -> tuple[float, ...]:
        for regex, ordinal, suffix in compiled:
            found = regex.match(name)
            if found:
                captured = tuple(float(g) for g in found.groups() if g is not None)
                return (ordinal, *captured, *suffix)
        return (math.inf,)  # unmatched (the head): deepest

    return match
