"""The loop adapter (callback.bind) against the Trainer callback: same values, exact resume, plateau, optimizers."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import torch
from _helpers import Probe, ScriptedModule, TinyModule, make_trainer
from test_resume import FACTORIES, ResumeModule, read_all
from torch import nn

import lightning_schedulers as ls
from lightning_schedulers.schedules import Linear

EPOCHS = 2


class _Reader:
    """``read_all`` without a Trainer: the loop's optimizer and module."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizers = [optimizer]


def trainer_rows(make: Callable[[], Any]) -> list[tuple[int, int, list[float]]]:
    probe = Probe(read_all)
    make_trainer([make(), probe], max_epochs=EPOCHS).fit(ResumeModule())
    return probe.rows


def loop_rows(
    make: Callable[[], Any], *, stop_at: int | None = None, state: dict[str, Any] | None = None
) -> tuple[list[tuple[int, int, list[float]]], dict[str, Any] | None]:
    """A plain PyTorch loop over the module's data; with ``stop_at``, returns the saved state at that step."""
    module = ResumeModule()
    optimizer = module.configure_optimizers()
    callback = make()
    total = EPOCHS * (module.n_samples // module.batch_size)
    bound = callback.bind(optimizer, module=module, total_steps=total, total_epochs=EPOCHS)
    start = 0
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        module.kl_weight = state["kl_weight"]
        module.tau.fill_(state["tau"])
        bound.load_state_dict(state["schedule"])
        start = state["schedule"]["loop"]["steps"]
    rows = []
    step = 0
    for epoch in range(EPOCHS):
        for x, y in module.train_dataloader():
            if step >= start:
                rows.append((step, epoch, read_all(_Reader(optimizer), module)))
                if step == stop_at:
                    buffer = io.BytesIO()
                    torch.save(
                        {
                            "optimizer": optimizer.state_dict(),
                            "schedule": bound.state_dict(),
                            "kl_weight": module.kl_weight,
                            "tau": float(module.tau),
                        },
                        buffer,
                    )
                    buffer.seek(0)
                    return rows, torch.load(buffer, weights_only=True)
                optimizer.zero_grad()
                nn.functional.mse_loss(module(x), y).backward()
                optimizer.step()
                bound.step()
            step += 1
        if step > start:
            bound.epoch_end()
    return rows, None


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_loop_writes_what_the_trainer_writes_bit_for_bit(name: str) -> None:
    expected = trainer_rows(FACTORIES[name])
    ours, _ = loop_rows(FACTORIES[name])
    assert ours == expected
    assert len({tuple(row[2]) for row in ours}) > 1  # something was scheduled


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_loop_resumes_exactly_from_a_saved_state(name: str) -> None:
    full, _ = loop_rows(FACTORIES[name])
    head, state = loop_rows(FACTORIES[name], stop_at=11)
    assert state is not None and head == full[:12]
    resumed, _ = loop_rows(FACTORIES[name], state=state)
    assert resumed == full[11:]


def test_plateau_in_a_loop_equals_the_trainer(tmp_path: Any) -> None:
    script = [1.0, 0.9, 0.95, 0.97, 0.99, 0.98, 0.5, 0.6]

    def make() -> ls.ReduceLROnPlateau:
        return ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=1, base=ls.WarmupCosineLR(warmup_steps=3))

    probe = Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
    module = ScriptedModule(script, per_validation=4, groups=2, lr=[0.1, 0.2])
    make_trainer([make(), probe], max_epochs=2, val_check_interval=4).fit(module)

    loop_module = ScriptedModule(script, per_validation=4, groups=2, lr=[0.1, 0.2])
    optimizer = loop_module.configure_optimizers()
    bound = make().bind(optimizer, total_steps=32)
    rows = []
    for step in range(32):
        rows.append((step, step // 16, [float(g["lr"]) for g in optimizer.param_groups]))
        optimizer.step()
        done = step + 1
        bound.step(metrics={"val_loss": script[done // 4 - 1]} if done % 4 == 0 else None)
    assert rows == probe.rows
    assert len({row[2][0] for row in rows}) > 5


def test_plateau_without_the_metric_names_what_it_got() -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    bound = ls.ReduceLROnPlateau("val_loss", patience=0).bind(optimizer)
    with pytest.raises(KeyError, match=r"monitor 'val_loss' is not among the logged metrics \['loss'\]"):
        bound.step(metrics={"loss": 1.0})


def test_a_fraction_without_total_steps_says_what_to_pass() -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match=r"pass bind\(\.\.\., total_steps=N\)"):
        ls.WarmupCosineLR(warmup_steps=0.1).bind(optimizer)
    with pytest.raises(ValueError, match=r"pass bind\(\.\.\., total_epochs=N\)"):
        ls.OneCycleLR(1.0, interval="epoch").bind(optimizer)


class TwoOptimizers(TinyModule):
    def __init__(self) -> None:
        super().__init__(groups=2)
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        first, second = self.optimizers()  # type: ignore[misc]
        x, y = batch
        for optimizer, layer in ((first, self.layers[0]), (second, self.layers[1])):
            optimizer.zero_grad()
            self.manual_backward(nn.functional.mse_loss(layer(x), y))
            optimizer.step()

    def configure_optimizers(self) -> Any:
        return [
            torch.optim.SGD(self.layers[0].parameters(), lr=0.1),
            torch.optim.Adam(self.layers[1].parameters(), lr=0.01),
        ]


def two_lrs(trainer: Any, module: Any) -> list[float]:
    return [float(o.param_groups[0]["lr"]) for o in trainer.optimizers]


def test_two_optimizers_in_a_loop_equal_manual_optimization_in_a_trainer() -> None:
    def make() -> list[Any]:
        return [ls.StepLR(5, 0.5, interval="step", optimizer=0), ls.WarmupCosineLR(4, optimizer=1)]

    probe = Probe(two_lrs)
    make_trainer([*make(), probe], max_epochs=2).fit(TwoOptimizers())

    module = TwoOptimizers()
    optimizers = module.configure_optimizers()
    first, second = make()
    bound = [first.bind(optimizers, total_steps=32), second.bind(optimizers, total_steps=32)]
    rows = []
    for step in range(32):
        rows.append((step, step // 16, [float(o.param_groups[0]["lr"]) for o in optimizers]))
        for optimizer, schedule in zip(optimizers, bound, strict=True):
            optimizer.step()
            schedule.step()
    # Lightning's global_step counts both optimizers' steps under manual optimization.
    assert [row[2] for row in rows] == [row[2] for row in probe.rows]


def test_an_attribute_needs_the_module_and_a_fabric_wrapper_is_unwrapped() -> None:
    from lightning.fabric import Fabric

    fabric = Fabric(accelerator="cpu", devices=1)
    module = ResumeModule()
    model, optimizer = fabric.setup(module, module.configure_optimizers())
    callback = ls.ScheduleCallback({"lr": Linear(0.0, 1.0, 4), ls.Attribute("kl_weight"): Linear(1.0, 0.0, 4)})
    with pytest.raises(ValueError, match="no module was given; pass module="):
        callback.bind(optimizer)
    bound = callback.bind(optimizer, module=model)
    for _ in range(2):
        optimizer.step()
        bound.step()
    assert module.kl_weight == 0.5
    assert [g["lr"] for g in module.configure_optimizers().param_groups] != [0.5, 0.5]
    assert bound.values["kl_weight"] == 0.5
    assert bound.values["lr-SGD/pg1"] == 0.5 and bound.values["lr-SGD/pg2"] == 0.5


def test_the_loop_logs_with_the_trainers_names_and_cadence() -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    calls: list[tuple[int, dict[str, float]]] = []
    bound = ls.StepLR(3, 0.5, interval="step").bind(
        optimizer, log_fn=lambda metrics, step: calls.append((step, dict(metrics))), log_every_n_steps=4
    )
    for _ in range(9):
        optimizer.step()
        bound.step()
    assert [step for step, _ in calls] == [0, 4, 8]
    assert calls[1] == (4, {"lr-SGD": 0.1 * 0.5})


def test_state_from_a_loop_is_refused_when_edited() -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    bound = ls.StepLR(3, interval="step").bind(optimizer)
    state = bound.state_dict()
    state["loop"] = {"steps": -1, "epochs": 0}
    with pytest.raises(ValueError, match=r"loop is \{'steps': -1"):
        bound.load_state_dict(state)
