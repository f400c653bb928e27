"""Moved to :mod:`lightning_schedulers.engine.bindings`; this name is kept for imports written against 0.2."""

from lightning_schedulers.engine.bindings import BLOCK, Active, Binding, make_binding

__all__ = ["BLOCK", "Active", "Binding", "make_binding"]
