"""When values change, compared with Lightning's own scheduler path in real fits: epoch-interval steps,
epochs cut short by ``max_steps``, fits without (or with empty) validation, unusual metric values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import TinyModule, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from test_plateau_epoch_end import KWARGS, EpochMetric, WithValidation, per_batch_lrs
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers.lightning.decisions import missing_metric_message


class TorchStepLR(TinyModule):
    """Lightning's path: torch's StepLR (epoch interval) from configure_optimizers."""

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.5)}


def final_lr(module: TinyModule, callbacks: list[Any], **kwargs: Any) -> float:
    trainer = make_trainer(callbacks, **kwargs)
    trainer.fit(module)
    return float(trainer.optimizers[0].param_groups[0]["lr"])


def test_an_epoch_interval_schedule_cut_short_by_max_steps_leaves_what_lightning_leaves() -> None:
    # 16 batches an epoch; max_steps=20 stops in epoch 1: Lightning does not step the epoch scheduler.
    ours = final_lr(TinyModule(), [ls.StepLR(1, 0.5)], max_epochs=3, max_steps=20)
    theirs = final_lr(TorchStepLR(), [], max_epochs=3, max_steps=20)
    assert ours == theirs == 0.1 * 0.5
    # A fit that ends with its last epoch steps it, on both paths.
    assert final_lr(TinyModule(), [ls.StepLR(1, 0.5)], max_epochs=2) == final_lr(TorchStepLR(), [], max_epochs=2)


class SavedLR(ModelCheckpoint):
    """Records the lr a checkpoint holds when it is written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lrs: list[tuple[int, float]] = []

    def _save_checkpoint(self, trainer: Any, filepath: str) -> None:
        self.lrs.append((trainer.global_step, float(trainer.optimizers[0].param_groups[0]["lr"])))
        super()._save_checkpoint(trainer, filepath)


def test_a_checkpoint_at_an_epochs_last_batch_holds_the_stepped_value_as_lightnings(tmp_path: Path) -> None:
    def saved(module: TinyModule, callbacks: list[Any], folder: str) -> list[tuple[int, float]]:
        checkpoint = SavedLR(dirpath=tmp_path / folder, every_n_train_steps=16, save_top_k=-1)
        make_trainer([*callbacks, checkpoint], max_epochs=3, enable_checkpointing=True).fit(module)
        return checkpoint.lrs

    ours = saved(TinyModule(), [ls.StepLR(1, 0.5)], "ours")
    theirs = saved(TorchStepLR(), [], "theirs")
    assert ours == theirs == [(16, 0.05), (32, 0.025), (48, 0.0125)]


def test_a_plateau_decides_nothing_after_an_epoch_cut_short_by_max_steps() -> None:
    # 4 batches an epoch; max_steps=10 stops in epoch 2, whose metric is never logged (skip): Lightning
    # takes no decision there, so strict=True must not raise either.
    kwargs = dict(max_steps=10)
    cb = ls.ReduceLROnPlateau("train_metric", **KWARGS)
    ours = per_batch_lrs(EpochMetric("epoch_end", skip=(2,)), [cb], **kwargs)
    theirs = per_batch_lrs(EpochMetric("epoch_end", skip=(2,), lightning=KWARGS), [], **kwargs)
    assert ours == theirs
    assert cb.state.decisions == 2


class ValidationStepOnly(EpochMetric):
    """A validation_step, but fit() gets no val dataloader (the module defines none)."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", torch.tensor(1.0))


def test_a_validation_step_without_a_val_dataloader_decides_at_each_epoch_end_as_lightning() -> None:
    cb = ls.ReduceLROnPlateau("train_metric", **KWARGS)
    ours = per_batch_lrs(ValidationStepOnly("step"), [cb])
    theirs = per_batch_lrs(ValidationStepOnly("step", lightning=KWARGS), [])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert min(theirs) < 0.1 / 4


def test_a_monitor_never_logged_without_validation_fails_at_the_first_epochs_end() -> None:
    class Counting(ValidationStepOnly):
        epochs_seen = 0

        def on_train_epoch_start(self) -> None:
            type(self).epochs_seen += 1

    with pytest.raises(KeyError, match=r"at the end of a training epoch, monitor 'val_los' .*\['train_metric'\]"):
        per_batch_lrs(Counting("step"), [ls.ReduceLROnPlateau("val_los")])
    assert Counting.epochs_seen == 1


class EmptyValidation(WithValidation):
    def val_dataloader(self) -> Any:
        return DataLoader(TensorDataset(self.x[:0], self.y[:0]), batch_size=4)


def test_an_empty_val_dataloader_switches_to_epoch_end_decisions_and_says_so_at_once() -> None:
    cb = ls.ReduceLROnPlateau("train_metric", **KWARGS)
    with pytest.warns(UserWarning, match="its dataloader has no batches.*deciding at the end of each training epoch"):
        ours = per_batch_lrs(EmptyValidation("step"), [cb])
    theirs = per_batch_lrs(EmptyValidation("step", lightning=KWARGS), [])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    strict = ls.ReduceLROnPlateau("train_metric", check_on_train_epoch_end=False)
    with pytest.raises(ValueError, match=r"no batches.*check_on_train_epoch_end=False.*strict=False"):
        per_batch_lrs(EmptyValidation("step"), [strict])


class SameFloat(EpochMetric):
    """Writes the very same Python float object into callback_metrics at every epoch's end."""

    VALUE = 7.0

    def on_train_epoch_end(self) -> None:
        self.trainer.callback_metrics["plain"] = self.VALUE  # type: ignore[index]


def test_the_same_float_object_written_again_counts_as_a_new_value() -> None:
    cb = ls.ReduceLROnPlateau("plain", factor=0.5, patience=0)
    per_batch_lrs(SameFloat("none"), [cb])
    assert cb.state.decisions == 10  # one decision an epoch; no "stale" value skipped


class TwoElementMetric(EpochMetric):
    def on_train_epoch_end(self) -> None:
        self.trainer.callback_metrics["vec"] = torch.tensor([1.0, 2.0])  # type: ignore[index]


def test_a_metric_that_is_not_one_number_names_the_monitor_and_the_callback() -> None:
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: monitor 'vec' is a tensor of shape \(2,\)"):
        per_batch_lrs(TwoElementMetric("none"), [ls.ReduceLROnPlateau("vec")])


def test_a_monitor_only_this_rank_logged_says_rank_zero_lacks_it() -> None:
    message = missing_metric_message("ReduceLROnPlateau", "val_loss", ["val_loss"], "after a validation run", "x")
    assert "logged on this rank but not on rank zero" in message
    assert "did you mean" not in message


def test_the_base_class_is_not_a_callback_to_configure() -> None:
    with pytest.raises(TypeError, match=r"SchedulerCallback is the base of the scheduler callbacks; use"):
        ls.SchedulerCallback(interval="step")
    assert "interval" in str(ls.SchedulerCallback.__signature__)  # type: ignore[attr-defined]
