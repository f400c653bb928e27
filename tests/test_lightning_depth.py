"""Conflicts, LearningRateMonitor order, several optimizers, manual optimization, torch.compile."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _helpers import Probe, TinyModule, make_trainer
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from torch import nn

import lightning_schedulers as ls
from lightning_schedulers.schedules import Cosine, Linear


# ------------------------------------------------------------------ conflicts
def test_two_callbacks_on_the_same_target_are_refused_naming_both() -> None:
    a = ls.StepLR(3)
    b = ls.ScheduleCallback(Linear(0.0, 1.0, 10))
    with pytest.raises(
        ValueError, match=r"StepLR\(step_size=3.*\) and ScheduleCallback\(.*\) both drive lr of optimizer 0"
    ):
        make_trainer([a, b], max_epochs=1).fit(TinyModule())


def test_momentum_and_betas_are_the_same_target() -> None:
    a = ls.CyclicLR(0.01, 0.1)  # cycles betas[0] on Adam
    b = ls.ScheduleCallback(Linear(0.9, 0.8, 5), target="momentum")
    with pytest.raises(ValueError, match=r"both drive betas\[0\] of optimizer 0 param group 0"):
        make_trainer([a, b], max_epochs=1).fit(TinyModule(optimizer="Adam"))


def test_disjoint_targets_compose() -> None:
    lr = ls.StepLR(1, interval="step", param_group_index=0)
    lr2 = ls.StepLR(2, interval="step", param_group_index=1)
    wd = ls.ScheduleCallback(Linear(0.0, 0.1, 8), target="weight_decay")
    attr = ls.ExpStateScheduler(1.0, 0.9, "kl_weight", create_new=True)
    make_trainer([lr, lr2, wd, attr], max_epochs=1).fit(TinyModule(groups=2))


class WithTorchScheduler(TinyModule):
    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 2)}


def test_a_scheduler_from_configure_optimizers_on_the_same_key_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"ExponentialLR\(.*\) and the StepLR returned by configure_optimizers both drive lr"
    ):
        make_trainer([ls.ExponentialLR(0.9)], max_epochs=1).fit(WithTorchScheduler())
    make_trainer([ls.ScheduleCallback(Linear(0.9, 0.5, 4), target="momentum")], max_epochs=1).fit(WithTorchScheduler())


# ------------------------------------------------------------------ LearningRateMonitor order
@pytest.mark.parametrize("monitor_first", [True, False])
def test_learning_rate_monitor_logs_fresh_values_in_any_order(tmp_path: Path, monitor_first: bool) -> None:
    cb = ls.ScheduleCallback(Cosine(0.1, 0.0, 32))
    monitor = LearningRateMonitor(logging_interval="step")
    callbacks: list[pl.Callback] = [monitor, cb] if monitor_first else [cb, monitor]
    logger = CSVLogger(tmp_path, name="run", version=0)
    make_trainer(callbacks, max_epochs=2, logger=logger, log_every_n_steps=1).fit(TinyModule())
    with open(tmp_path / "run" / "version_0" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # One series named "lr-SGD", the monitor's (ours leaves it that name), logged at its batch start
    # at every step: every row must be fresh, whatever the order of the callbacks.
    expected = cb.simulate(32)
    seen = [(int(r["step"]), float(r["lr-SGD"])) for r in rows if r.get("lr-SGD")]
    assert len(seen) == 32
    for step, value in seen:
        assert value == expected[step]


# ------------------------------------------------------------------ several optimizers, manual optimization
class TwoOptimizers(TinyModule):
    """Manual optimization with two optimizers (a GAN-like loop): Adam for layer 0, SGD for layer 1."""

    def __init__(self) -> None:
        super().__init__(groups=2)
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        for opt in self.optimizers():  # type: ignore[union-attr]
            opt.zero_grad()
            loss = nn.functional.mse_loss(self(x), y)
            self.manual_backward(loss)
            opt.step()

    def configure_optimizers(self) -> Any:
        return [
            torch.optim.Adam(self.layers[0].parameters(), lr=0.01),
            torch.optim.SGD(self.layers[1].parameters(), lr=0.1, momentum=0.9),
        ]


def test_manual_optimization_two_optimizers_by_index_and_by_name(tmp_path: Path) -> None:
    adam = ls.ScheduleCallback(Linear(0.0, 0.01, 20), target=ls.ParamGroup("lr", optimizer="Adam"))
    sgd = ls.CosineAnnealingLR(T_max=40, interval="step", optimizer=1)
    probe = Probe(lambda trainer, m: [float(o.param_groups[0]["lr"]) for o in trainer.optimizers])
    logger = CSVLogger(tmp_path, name="run", version=0)
    make_trainer([adam, sgd, probe], max_epochs=1, logger=logger, log_every_n_steps=1).fit(TwoOptimizers())
    # Two optimizer steps per batch: the global step advances by 2, but each schedule follows the
    # steps of its own optimizer (one per batch).
    assert [s for s, _, _ in probe.rows] == list(range(0, 32, 2))
    a, b = adam.simulate(16), sgd.simulate(16, initial=0.1)
    for batch, (_, _, (lr_adam, lr_sgd)) in enumerate(probe.rows):
        assert lr_adam == a[batch]
        assert lr_sgd == b[batch]
    with open(tmp_path / "run" / "version_0" / "metrics.csv", newline="") as handle:
        names = set(next(csv.reader(handle)))
    assert {"lr-Adam", "lr-SGD"} <= names


def test_optimizer_name_must_be_unique_and_exist() -> None:
    with pytest.raises(
        ValueError, match=r"`optimizer`='RMSprop' matches no optimizer; the trainer has \['0: Adam', '1: SGD'\]"
    ):
        make_trainer([ls.StepLR(2, optimizer="RMSprop")], max_epochs=1).fit(TwoOptimizers())

    class TwoAdams(TwoOptimizers):
        def configure_optimizers(self) -> Any:
            return [torch.optim.Adam(self.layers[0].parameters()), torch.optim.Adam(self.layers[1].parameters())]

    with pytest.raises(ValueError, match=r"`optimizer`='Adam' matches 2 optimizers; use an index"):
        make_trainer([ls.StepLR(2, optimizer="Adam")], max_epochs=1).fit(TwoAdams())
    with pytest.raises(ValueError, match=r"`optimizer` must be an index or a non-empty optimizer class name"):
        ls.StepLR(2, optimizer="")


# ------------------------------------------------------------------ torch.compile
class Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.register_buffer("temperature", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) / self.temperature


class CompiledModule(TinyModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = Scaled()
        self.compiles = 0

        def counting_backend(gm: Any, example_inputs: Any) -> Any:
            self.compiles += 1
            return gm.forward

        torch._dynamo.reset()
        self.compiled = torch.compile(self.net, backend=counting_backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.compiled(x)  # type: ignore[no-any-return]

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.net.parameters(), lr=0.01)


def test_a_scheduled_buffer_does_not_recompile_a_compiled_module() -> None:
    module = CompiledModule()
    buffer = module.net.temperature
    cb = ls.ScheduleCallback({ls.Attribute("net.temperature"): Cosine(2.0, 0.5, 50)})
    probe = Probe(lambda trainer, m: [float(m.net.temperature)])
    make_trainer([cb, probe], max_steps=50, max_epochs=-1).fit(module)
    assert len(probe.rows) == 50
    assert len({v[0] for _, _, v in probe.rows}) > 40  # the value really changed every step
    assert module.net.temperature is buffer
    assert module.compiles <= 1
    np.testing.assert_allclose([v[0] for _, _, v in probe.rows], cb.simulate(50), rtol=1e-6)
