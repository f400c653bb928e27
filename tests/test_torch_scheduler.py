"""``TorchScheduler``: any LRScheduler-style scheduler, equal to Lightning's own ``configure_optimizers`` path."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from _helpers import Crash, Probe, TinyModule, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.optim import lr_scheduler as tl

import lightning_schedulers as ls


def hf_cosine_with_warmup(step: int, warmup: int = 5, total: int = 32) -> float:
    # HF transformers' get_cosine_schedule_with_warmup lr_lambda, written out.
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))


def hf_like(optimizer: torch.optim.Optimizer) -> tl.LRScheduler:
    return tl.LambdaLR(optimizer, hf_cosine_with_warmup)


class Halving(tl.LRScheduler):
    """A user's own scheduler: halves every group's lr every 3 steps, recursively."""

    def get_lr(self) -> list[float]:  # type: ignore[override]
        if self.last_epoch > 0 and self.last_epoch % 3 == 0:
            return [group["lr"] * 0.5 for group in self.optimizer.param_groups]
        return [group["lr"] for group in self.optimizer.param_groups]


def read(trainer: Any, module: Any) -> list[float]:
    return [float(g[k]) for g in trainer.optimizers[0].param_groups for k in ("lr", "momentum")]


class Lightning(TinyModule):
    """The reference: the same factory's scheduler returned from configure_optimizers."""

    def __init__(self, factory: Any = None, interval: str = "step") -> None:
        super().__init__(groups=2, lr=[0.1, 0.2], optimizer_kwargs={"momentum": 0.9})
        self.factory, self.interval = factory, interval

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        if self.factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.factory(optimizer), "interval": self.interval},
        }


FACTORIES = {
    "OneCycleLR": (functools.partial(tl.OneCycleLR, max_lr=[0.5, 1.0], total_steps=32), "step"),
    "HF cosine with warmup": (hf_like, "step"),
    "own LRScheduler": (Halving, "step"),
    "CosineAnnealingWarmRestarts per epoch": (functools.partial(tl.CosineAnnealingWarmRestarts, T_0=2), "epoch"),
    "CyclicLR": (functools.partial(tl.CyclicLR, base_lr=0.01, max_lr=0.1, step_size_up=5), "step"),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_values_equal_lightnings_configure_optimizers_path_bit_for_bit(name: str) -> None:
    factory, interval = FACTORIES[name]
    ours, theirs = Probe(read), Probe(read)
    make_trainer([ls.TorchScheduler(factory, interval=interval), ours], max_epochs=2).fit(Lightning())
    make_trainer([theirs], max_epochs=2).fit(Lightning(factory, interval))
    assert ours.rows == theirs.rows


def test_simulate_steps_a_copy_and_equals_torch_on_a_real_optimizer() -> None:
    cb = ls.TorchScheduler(FACTORIES["OneCycleLR"][0])
    optimizer = torch.optim.SGD(
        [{"params": [torch.zeros(1, requires_grad=True)], "lr": v} for v in (0.1, 0.2)], momentum=0.9
    )
    scheduler = FACTORIES["OneCycleLR"][0](optimizer)
    expected = []
    for _ in range(32):
        expected.append([g["lr"] for g in optimizer.param_groups] + [g["momentum"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert cb.simulate(32, initial=[0.1, 0.2]).tolist() == expected


class Unrestorable(Halving):
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        raise RuntimeError("this scheduler's state cannot be restored")


@pytest.mark.parametrize(
    "factory", [FACTORIES["OneCycleLR"][0], hf_like, Unrestorable], ids=["state", "lambda", "replay"]
)
def test_resume_mid_epoch_equals_the_uninterrupted_fit(tmp_path: Path, factory: Any) -> None:
    full = Probe(read)
    make_trainer([ls.TorchScheduler(factory), full], max_epochs=2).fit(Lightning())
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=11, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer(
            [ls.TorchScheduler(factory), checkpoint, Crash(at_step=13)], max_epochs=2, enable_checkpointing=True
        ).fit(Lightning())
    resumed = Probe(read)
    make_trainer([ls.TorchScheduler(factory), resumed], max_epochs=2).fit(
        Lightning(), ckpt_path=str(tmp_path / "epoch=0-step=11.ckpt")
    )
    assert resumed.rows == full.rows[11:]


def test_it_is_refused_next_to_another_scheduler_of_the_same_key() -> None:
    with pytest.raises(ValueError, match=r"both drive lr of optimizer 0"):
        make_trainer([ls.TorchScheduler(hf_like), ls.StepLR(2)], max_epochs=1).fit(Lightning())
    with pytest.raises(ValueError, match=r"returned by configure_optimizers both drive lr"):
        make_trainer([ls.TorchScheduler(hf_like)], max_epochs=1).fit(Lightning(hf_like))


def test_logs_under_learning_rate_monitors_names_and_says_what_a_factory_must_build(tmp_path: Path) -> None:
    cb = ls.TorchScheduler(FACTORIES["OneCycleLR"][0], save_history=True)
    make_trainer([cb], max_epochs=1).fit(Lightning())
    assert set(cb.history[0]) == {
        "step",
        "epoch",
        "lr-SGD/pg1",
        "lr-SGD/pg2",
        "lr-SGD/pg1-momentum",
        "lr-SGD/pg2-momentum",
    }
    with pytest.raises(TypeError, match=r"`factory` must build an LRScheduler-style object"):
        ls.TorchScheduler(lambda optimizer: 0.1).simulate(3)
    with pytest.raises(TypeError, match=r"`factory` must be callable"):
        ls.TorchScheduler(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"built torch's ReduceLROnPlateau, .*Use ls.ReduceLROnPlateau\(monitor"):
        make_trainer([ls.TorchScheduler(tl.ReduceLROnPlateau)], max_epochs=1).fit(Lightning())


class Counting(tl.StepLR):
    steps = 0

    def step(self, *args: Any, **kwargs: Any) -> None:
        type(self).steps += 1
        super().step(*args, **kwargs)


def test_a_restorable_scheduler_resumes_from_its_state_without_stepping_again(tmp_path: Path) -> None:
    factory = functools.partial(Counting, step_size=4, gamma=0.5)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=11, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer(
            [ls.TorchScheduler(factory), checkpoint, Crash(at_step=13)], max_epochs=2, enable_checkpointing=True
        ).fit(Lightning())
    Counting.steps = 0
    resumed = Probe(read)
    make_trainer([ls.TorchScheduler(factory), resumed], max_epochs=2).fit(
        Lightning(), ckpt_path=str(tmp_path / "epoch=0-step=11.ckpt")
    )
    # Built once (its own first step) and stepped for the 21 steps after 11: no replay of the first 11.
    assert Counting.steps == 1 + 21
    assert [r[2][0] for r in resumed.rows] == [0.1 * 0.5 ** (step // 4) for step in range(11, 32)]


def test_a_changed_partial_is_not_loaded_with_the_old_arguments(tmp_path: Path) -> None:
    # Both factories are ExponentialLR partials (one state key); the checkpoint's scheduler state
    # holds gamma=0.5, which must not be loaded into the gamma=0.9 scheduler.
    def make(gamma: float) -> ls.TorchScheduler:
        return ls.TorchScheduler(functools.partial(tl.ExponentialLR, gamma=gamma))

    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=6, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer([make(0.5), ckpt, Crash(6)], enable_checkpointing=True).fit(Lightning())
    probe = Probe(read)
    with pytest.warns(UserWarning, match=r"gamma=0.5\).*gamma=0.9\).*not loaded.*stepped from the start to step 6"):
        make_trainer([make(0.9), probe]).fit(Lightning(), ckpt_path=next(tmp_path.glob("*.ckpt")))
    for step, _, values in probe.rows:
        assert values[0] == pytest.approx(0.1 * 0.9**step, rel=1e-12), step
