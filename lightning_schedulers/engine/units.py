"""Samples and tokens: how many units a batch holds, for ``clock="samples"`` and ``clock="tokens"``.

A run counted in samples or tokens reads a clock that holds the units consumed before the
optimizer step now training: every micro-batch of every rank counted. Each rank adds up what its
micro-batches hold (:func:`batch_units`); when the optimizer steps, the ranks' sums are added
together (one collective per optimizer step, none when ``count`` is an int: every rank then holds
the same) and the clock moves by that total.

Examples:
    >>> import torch
    >>> batch_units((torch.zeros(8, 3), torch.zeros(8)), None, 0)
    8
    >>> batch_units({"input_ids": torch.zeros(4, 128)}, lambda b: b["input_ids"].numel(), 0)
    512
    >>> batch_units("anything", 256, 0)
    256
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

__all__ = ["Count", "batch_units", "check_count", "checked_units", "first_tensor_size", "sum_over_ranks"]

Count = int | Callable[[Any], int]
"""``count=``: the samples or tokens a batch holds on this rank (a function of the batch, or a constant)."""


def check_count(value: Any, clock: str) -> Count | None:
    """``count=`` as given: a non-negative int, a function of the batch, or ``None`` (the default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not (isinstance(value, int) or callable(value)):
        raise TypeError(
            f"`count` must be a non-negative int (the {clock} every batch holds) or a function of the batch "
            f"returning one, got {value!r}"
        )
    if isinstance(value, int) and value < 0:
        raise ValueError(f"`count` must be a non-negative int, got {value!r}")
    if clock not in ("samples", "tokens"):
        raise ValueError(
            f"`count`={value!r} counts samples or tokens; it needs clock='samples' or 'tokens', got clock={clock!r}"
        )
    counted: Count = value
    return counted


def first_tensor_size(batch: Any) -> int | None:
    """The first dimension of the first tensor found in ``batch`` (tuples, lists, dicts searched in order)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() > 0 else 1
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        for item in batch:
            size = first_tensor_size(item)
            if size is not None:
                return size
    return None


def batch_units(batch: Any, count: Count | None, batch_idx: int, unit: str = "samples") -> int:
    """The units ``batch`` holds on this rank: ``count`` applied, or the size of its first tensor.

    A result that is not a non-negative integer is an error naming the batch index.
    """
    if isinstance(count, int):
        return count
    if count is None:
        if unit == "tokens":
            raise ValueError(
                "clock='tokens' needs `count`: a function of the batch giving the tokens it holds on this rank "
                "(for example `count=lambda batch: int(batch['attention_mask'].sum())`), or an int when every "
                "batch holds the same"
            )
        size = first_tensor_size(batch)
        if size is None:
            raise ValueError(
                f"clock='samples': batch {batch_idx} holds no tensor to take its size from; pass `count`, a "
                "function of the batch giving the samples it holds"
            )
        return size
    return checked_units(count(batch), batch_idx, unit)


def checked_units(result: Any, batch_idx: int, unit: str = "samples") -> int:
    """What a ``count`` function returned for batch ``batch_idx``, as a non-negative int, or a clear error."""
    if type(result) is int and result >= 0:  # the common answer, checked first (once a batch)
        return result
    if isinstance(result, torch.Tensor) and result.numel() == 1 and not result.is_floating_point():
        result = int(result.item())
    if isinstance(result, bool) or not isinstance(result, int) or result < 0:
        raise ValueError(
            f"`count` returned {result!r} for batch {batch_idx}; it must return a non-negative int (the {unit} the "
            "batch holds on this rank)"
        )
    return result


def sum_over_ranks(units: int, device: torch.device | None = None) -> int:
    """Every rank's ``units`` added: one all-reduce of one int64 where torch.distributed runs, else ``units``.

    No barrier before it (Lightning's ``Strategy.reduce`` adds one: two collectives a step).
    ``device``: where the tensor lives (a CUDA device for NCCL); by default the backend's.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return units
    if torch.distributed.get_world_size() == 1:
        return units
    if device is None:
        nccl = torch.distributed.get_backend() == "nccl"
        device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
    total = torch.tensor(units, dtype=torch.int64, device=device)
    torch.distributed.all_reduce(total)
    return int(total.item())
