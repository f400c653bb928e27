"""Reference scheduler modules loaded from the installed libraries, without their heavy package imports.

``import timm.scheduler`` imports ``timm`` (and through it torchvision), and ``deepspeed.runtime``
imports DeepSpeed's accelerator machinery; the scheduler files themselves need only torch (and,
for DeepSpeed, a logger). These helpers load just those files from the installed distributions
(the ``deepspeed`` test extra; ``timm`` is installed with ``--no-deps`` by the test command, since
its torchvision dependency from PyPI does not load against the CPU torch wheel and, imported by
torchmetrics, breaks ``import lightning``), under private module names, and leave ``sys.modules``
as they found it.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from pathlib import Path
from typing import Any

_CACHE: dict[str, types.ModuleType] = {}


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # finds the top-level package without importing it
    if spec is None or spec.origin is None:
        hint = "pip install --no-deps 'timm>=1.0'" if name == "timm" else "pip install -e '.[dev]'"
        raise ModuleNotFoundError(f"the reference library {name!r} is not installed ({hint})")
    return Path(spec.origin).parent


def _load(alias: str, path: Path, stubs: dict[str, types.ModuleType]) -> types.ModuleType:
    """Execute ``path`` as module ``alias`` with ``stubs`` in ``sys.modules`` meanwhile (and only meanwhile)."""
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        spec = importlib.util.spec_from_file_location(alias, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[alias] = module
        spec.loader.exec_module(module)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return module


def timm_scheduler(name: str) -> Any:
    """``timm.scheduler.<name>`` (``cosine_lr``, ``tanh_lr``, ``step_lr``, ``multistep_lr``, ``poly_lr``)."""
    key = f"timm:{name}"
    if key not in _CACHE:
        folder = _package_dir("timm") / "scheduler"
        package = types.ModuleType("_ref_timm_scheduler")
        package.__path__ = [str(folder)]
        sys.modules["_ref_timm_scheduler"] = package
        base = _CACHE.get("timm:scheduler") or _load("_ref_timm_scheduler.scheduler", folder / "scheduler.py", {})
        _CACHE["timm:scheduler"] = base
        # multistep_lr.py imports its base class absolutely (timm.scheduler.scheduler).
        timm_stub = types.ModuleType("timm")
        timm_stub.__path__ = []
        sched_stub = types.ModuleType("timm.scheduler")
        sched_stub.__path__ = []
        stubs = {"timm": timm_stub, "timm.scheduler": sched_stub, "timm.scheduler.scheduler": base}
        if "timm" in sys.modules:  # the real package is imported: use it
            stubs = {}
        _CACHE[key] = _load(f"_ref_timm_scheduler.{name}", folder / f"{name}.py", stubs)
    return _CACHE[key]


def deepspeed_lr_schedules() -> Any:
    """``deepspeed.runtime.lr_schedules``, with a stub ``deepspeed.utils.logger``."""
    key = "deepspeed:lr_schedules"
    if key not in _CACHE:
        path = _package_dir("deepspeed") / "runtime" / "lr_schedules.py"
        stubs: dict[str, types.ModuleType] = {}
        if "deepspeed.utils" not in sys.modules:
            ds = types.ModuleType("deepspeed")
            ds.__path__ = []
            utils = types.ModuleType("deepspeed.utils")
            utils.logger = logging.getLogger("deepspeed-reference")  # type: ignore[attr-defined]
            stubs = {"deepspeed": ds, "deepspeed.utils": utils}
        _CACHE[key] = _load("_ref_deepspeed_lr_schedules", path, stubs)
    return _CACHE[key]
