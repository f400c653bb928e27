"""Many param groups (layer-wise lr decay): every group gets the value simulate gives, on each block layout."""

from __future__ import annotations

from typing import Any

import pytest
from _helpers import Probe, TinyModule, group_values, make_trainer

import lightning_schedulers as ls
from lightning_schedulers.engine.bindings import WIDE


class Layered(TinyModule):
    def __init__(self, groups: int) -> None:
        super().__init__(groups=groups, lr=[0.1 * 0.9**j for j in range(groups)], n_samples=160, batch_size=4)


@pytest.mark.parametrize("groups", [3, WIDE, 24])
@pytest.mark.parametrize(
    "make",
    [
        lambda: ls.CosineAnnealingLR(T_max=30, eta_min=0.001, interval="step"),  # one column per group
        lambda: ls.StepLR(7, 0.5, interval="step"),  # one shared column times each group's lr
        lambda: ls.OneCycleLR(0.5),  # lr and momentum, one column per group each
    ],
    ids=["per-group", "shared", "onecycle"],
)
def test_every_group_holds_the_simulated_value_at_every_step(groups: int, make: Any) -> None:
    callback = make()
    probe = Probe(group_values())
    module = Layered(groups)
    make_trainer([callback, probe], max_epochs=2).fit(module)
    optimizer = Layered(groups).configure_optimizers()
    expected = callback.simulate(80, optimizers=[optimizer])
    expected = expected[:, :groups] if expected.ndim == 2 else expected[:, None]
    assert len(probe.rows) == 80
    for step, _, values in probe.rows:
        assert values == expected[step].tolist(), step
    assert len({tuple(v) for _, _, v in probe.rows}) > 10

