"""Matplotlib helpers, imported only when a plot is asked for (matplotlib is the ``plot`` extra)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def require_pyplot() -> Any:
    """Import ``matplotlib.pyplot`` or raise ``ModuleNotFoundError`` naming the ``plot`` extra.

    ``ModuleNotFoundError`` (an ``ImportError``) is what ignite raises there, so code that catches
    either keeps working.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - exercised by monkeypatching in tests
        raise ModuleNotFoundError(
            "plotting needs matplotlib, which is not installed: `pip install matplotlib` "
            "(or, from a clone of the repository, `pip install -e '.[plot]'`)",
            name="matplotlib",
        ) from err
    return plt


def plot_columns(data: np.ndarray, labels: Sequence[str], *, xlabel: str, ax: Axes | None = None) -> Axes:
    """Plot each column of ``data`` against its event index, one labelled line per column."""
    plt = require_pyplot()
    if ax is None:
        _, ax = plt.subplots()
    columns = data.reshape(len(data), -1)
    x = np.arange(len(data))
    for j, label in enumerate(labels):
        ax.plot(x, columns[:, j], label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("value")
    if labels:
        ax.legend()
    return ax
