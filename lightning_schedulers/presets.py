"""Presets, kept at their first import path: :mod:`lightning_schedulers.schedules.presets` holds them."""

from lightning_schedulers.schedules.presets import *  # noqa: F403
from lightning_schedulers.schedules.presets import __all__ as __all__
