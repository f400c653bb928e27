"""Test markers: ``numeric`` for the tests whose numbers could depend on numpy's SIMD kernels.

``.ci/run`` runs ``-m numeric`` a second time with ``NPY_DISABLE_CPU_FEATURES=X86_V4`` on a CPU with
AVX-512, so that both of numpy's paths (AVX-512 and AVX2) are tested on one machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NUMERIC_FILES = {
    "test_schedules.py",
    "test_pure_layer.py",
    "test_hostile_arguments.py",
    "test_torch_family.py",
    "test_ignite_family.py",
    "test_other_families.py",
    "test_plateau.py",
    "test_fractions.py",
    "test_preview.py",
    "test_callback.py",
    "test_resume.py",
    "test_ema.py",
    "test_train_longer.py",
    "test_token_clock.py",
    "test_timm_plateau.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(config.rootpath.resolve()).parts
        if parts[-1] in NUMERIC_FILES or parts[0] == "lightning_schedulers":  # the package: its doctests
            item.add_marker(pytest.mark.numeric)
