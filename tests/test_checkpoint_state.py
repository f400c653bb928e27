"""Checkpoint state: round trips, validation, changed setups, longer fits, reused instances, plateau resumes."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from _helpers import Crash, Probe, ScriptedModule, TinyModule, group_values, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from test_resume import FACTORIES, ResumeModule

import lightning_schedulers as ls
from lightning_schedulers.schedules import Linear


def crash_and_checkpoint(tmp_path: Path, callbacks: list[Any], at: int, module: Any = None, **kwargs: Any) -> Path:
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=at, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer([*callbacks, ckpt, Crash(at)], enable_checkpointing=True, **kwargs).fit(module or TinyModule())
    return next(tmp_path.glob("*.ckpt"))


# ------------------------------------------------------------------ round trip and validation
def test_state_loaded_and_not_yet_used_round_trips(tmp_path: Path) -> None:
    # A finished run resumed (no training happens) and saved again keeps the captured lrs.
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    make_trainer([ls.StepLR(1, 0.5), ckpt], max_epochs=2, enable_checkpointing=True).fit(TinyModule())
    first = torch.load(tmp_path / "last.ckpt", weights_only=True)
    cb = ls.StepLR(1, 0.5)
    key = cb.state_key
    cb.load_state_dict(first["callbacks"][key])
    assert cb.state_dict() == first["callbacks"][key]
    again = tmp_path / "again"
    trainer = make_trainer(
        [cb, ModelCheckpoint(dirpath=again, save_last=True)], max_epochs=2, enable_checkpointing=True
    )
    trainer.fit(TinyModule(), ckpt_path=tmp_path / "last.ckpt")
    trainer.save_checkpoint(again / "saved.ckpt")
    second = torch.load(again / "saved.ckpt", weights_only=True)
    assert second["callbacks"][key]["bases"] == [[0.1]]
    # Resuming that checkpoint with a longer fit continues from the original lr, not the decayed one.
    probe = Probe(group_values())
    make_trainer([ls.StepLR(1, 0.5), probe], max_epochs=4).fit(TinyModule(), ckpt_path=again / "saved.ckpt")
    assert {r[2][0] for r in probe.rows if r[1] == 3} == {0.1 * 0.5**3}


def valid_state() -> dict[str, Any]:
    cb = ls.ReduceLROnPlateau("val_loss", base=ls.StepLR(2, interval="step"))
    make_trainer([cb], max_epochs=1, limit_val_batches=1).fit(ScriptedModule([1.0], per_validation=16))
    return cb.state_dict()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda s: s.clear(), r"missing \['version', 'config', 'bases', 'offset', 'events_total', 'extra'\]"),
        (lambda s: s["extra"]["plateau"].pop("best"), r"extra\['plateau'\] is .*KeyError: 'best'"),
        (lambda s: s["extra"]["plateau"].update(num_bad_epochs="abc"), r"extra\['plateau'\] is .*ValueError"),
        (lambda s: s.update(bases=[["0.1"]]), r"bases\[0\] is \['0.1'\], not a list of finite numbers"),
        (lambda s: s.update(offset=-3), r"offset is -3"),
        (lambda s: s.update(targets=["lr@optimizer0", "x"]), r"targets is .* for 1 bases"),
        (lambda s: s["extra"].update(multipliers=[2.0]), r"extra\['multipliers'\] is \[2.0\]"),
        (lambda s: s.update(version=7), r"unknown version 7"),
    ],
)
def test_malformed_state_is_a_clear_error_naming_the_callback(edit: Any, problem: str) -> None:
    state = copy.deepcopy(valid_state())
    edit(state)
    cb = ls.ReduceLROnPlateau("val_loss", base=ls.StepLR(2, interval="step"))
    with pytest.raises(ValueError, match=rf"ReduceLROnPlateau.load_state_dict: .*\({problem}"):
        cb.load_state_dict(state)


# ------------------------------------------------------------------ a changed setup
def test_a_target_added_on_resume_is_refused_not_recaptured(tmp_path: Path) -> None:
    path = crash_and_checkpoint(tmp_path, [ls.StepLR(4, 0.5, interval="step")], at=10)
    grown = ls.ScheduleCallback(
        {
            ls.ParamGroup("lr", relative=True): Linear(1.0, 0.0, 100),
            ls.ParamGroup("momentum", relative=True): Linear(1.0, 0.5, 100),
        }
    )
    grown.__dict__["_state_key"] = ls.StepLR(4, 0.5, interval="step").state_key  # same key, other targets
    with pytest.raises(ValueError, match=r"holds no start value for \['momentum@optimizer0'\].*on_resume='restart'"):
        make_trainer([grown], max_epochs=2).fit(TinyModule(optimizer_kwargs={"momentum": 0.9}), ckpt_path=path)


def test_the_matching_targets_keep_their_captured_values(tmp_path: Path) -> None:
    # The same callback with a changed argument: the captured lr (0.1) is kept, not the decayed one.
    path = crash_and_checkpoint(tmp_path, [ls.StepLR(4, 0.5, interval="step")], at=10)
    probe = Probe(group_values())
    with pytest.warns(UserWarning, match="different configuration"):
        make_trainer([ls.StepLR(4, 0.25, interval="step"), probe], max_epochs=2).fit(TinyModule(), ckpt_path=path)
    assert probe.rows[0][2][0] == 0.1 * 0.25 ** (10 // 4)


def test_a_changed_interval_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = crash_and_checkpoint(tmp_path, [ls.StepLR(4, 0.5, interval="step")], at=10)
    epoch = ls.StepLR(4, 0.5, interval="epoch")
    epoch.__dict__["_state_key"] = ls.StepLR(4, 0.5, interval="step").state_key
    with pytest.raises(ValueError, match=r"interval='step', clock='optimizer' and this callback has interval='epoch'"):
        make_trainer([epoch], max_epochs=2).fit(TinyModule(), ckpt_path=path)


def test_a_longer_fit_under_continue_warns_with_the_on_resume_choices(tmp_path: Path) -> None:
    path = crash_and_checkpoint(tmp_path, [ls.OneCycleLR(max_lr=0.5)], at=10, max_epochs=2)
    with pytest.warns(
        UserWarning, match=r"64 steps long, but the resumed schedule was sized for 32.*'rescale'.*'restart'"
    ):
        make_trainer([ls.OneCycleLR(max_lr=0.5, on_resume="continue")], max_epochs=4).fit(TinyModule(), ckpt_path=path)


# ------------------------------------------------------------------ a reused instance
def test_a_reused_plateau_callback_acts_as_a_fresh_one() -> None:
    script = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.6, 0.7]

    def fit(cb: Any) -> list[float]:
        probe = Probe(group_values())
        make_trainer([cb, probe], max_epochs=8, limit_val_batches=1).fit(ScriptedModule(script, per_validation=16))
        return [r[2][0] for r in probe.rows]

    reused = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=1, save_history=True)
    fresh = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=1, save_history=True)
    first = fit(reused)
    assert fit(reused) == first == fit(fresh)
    assert reused.history == fresh.history  # this fit's rows only
    assert min(first) < 0.1  # it did reduce


# ------------------------------------------------------------------ stateful lr_lambda, negative values
class Decay:
    """A callable object with state, as torch's LambdaLR saves and restores it."""

    def __init__(self) -> None:
        self.rate = 0.9

    def __call__(self, step: int) -> float:
        return float(self.rate**step)


class ChangeRate(Crash):
    def on_train_batch_start(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if trainer.global_step == 5:
            for cb in trainer.callbacks:
                if isinstance(cb, ls.LambdaLR):
                    cb.lr_lambda.rate = 0.5
        super().on_train_batch_start(trainer, pl_module, *args)


def test_callable_object_state_is_saved_and_restored_as_torch_does(tmp_path: Path) -> None:
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=8, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer(
            [ls.LambdaLR(Decay(), interval="step"), ckpt, ChangeRate(8)], max_epochs=2, enable_checkpointing=True
        ).fit(TinyModule())
    path = next(tmp_path.glob("*.ckpt"))
    saved = torch.load(path, weights_only=True)["callbacks"]
    assert next(iter(saved.values()))["extra"]["lr_lambdas"] == [{"rate": 0.5}]
    # torch's LambdaLR saves the same thing
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    fn = Decay()
    fn.rate = 0.5
    assert torch.optim.lr_scheduler.LambdaLR(opt, fn).state_dict()["lr_lambdas"] == [{"rate": 0.5}]
    probe, fresh = Probe(group_values()), Decay()
    make_trainer([ls.LambdaLR(fresh, interval="step"), probe], max_epochs=2).fit(TinyModule(), ckpt_path=path)
    assert fresh.rate == 0.5
    assert probe.rows[0][2][0] == pytest.approx(0.1 * 0.5**8)


def test_a_negative_lr_is_refused_before_it_is_written() -> None:
    cb = ls.ScheduleCallback(Linear(0.1, -0.1, 10))
    probe = Probe(group_values())
    with pytest.raises(ValueError, match=r"'lr-SGD' \(lr@optimizer0\) gave the negative value -0.0199\d* at step 6"):
        make_trainer([cb, probe], max_epochs=1).fit(TinyModule())
    assert min(r[2][0] for r in probe.rows) >= 0


# ------------------------------------------------------------------ plateau
class NoValidation(TinyModule):
    def training_step(self, batch: Any, batch_idx: int) -> Any:
        loss = super().training_step(batch, batch_idx)
        self.log("val_loss", loss)
        return loss


def test_plateau_without_a_validation_loop_decides_at_each_epoch_end() -> None:
    # As Lightning steps a plateau scheduler of configure_optimizers (tests/test_plateau_epoch_end.py).
    cb = ls.ReduceLROnPlateau("val_loss")
    make_trainer([cb], max_epochs=3).fit(NoValidation())
    assert cb.state.decisions == 3


class SometimesLogged(ScriptedModule):
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        if (self.trainer.global_step // self.per_validation) % 2 == 1:  # validations 0, 2, 4, ... log nothing
            super().validation_step(batch, batch_idx)


def test_a_validation_that_did_not_log_the_monitor_decides_nothing() -> None:
    # Logged at validations 0, 2, 4, 6 (values 1.0 each): best, then 3 non-improvements.
    cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0)
    with pytest.warns(UserWarning, match="ended without logging 'val_loss'; it takes no decision"):
        make_trainer([cb], max_epochs=8, limit_val_batches=1).fit(SometimesLogged([1.0] * 8, per_validation=16))
    assert cb.state.decisions == 4
    assert cb.state_dict()["extra"]["multipliers"] == [0.125]


def test_checkpoint_right_before_a_validation_warns_that_its_decision_is_lost(tmp_path: Path) -> None:
    script = [1.0, 1.1, 1.2, 0.5, 0.6, 0.7, 0.8, 0.9]

    def make() -> list[Any]:
        return [ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=1)]

    kwargs = dict(max_epochs=8, limit_val_batches=1)
    path = crash_and_checkpoint(tmp_path, make(), at=32, module=ScriptedModule(script, per_validation=16), **kwargs)
    with pytest.warns(UserWarning, match=r"decision 2 on 'val_loss'\) is lost.*ModelCheckpoint\(monitor=...\)"):
        make_trainer(make(), **kwargs).fit(ScriptedModule(script, per_validation=16), ckpt_path=path)


def test_checkpoints_saved_after_validation_resume_with_the_same_decisions(tmp_path: Path) -> None:
    script = [1.0, 1.1, 1.2, 0.5, 0.6, 0.7, 0.8, 0.9]
    kwargs: dict[str, Any] = dict(max_epochs=8, limit_val_batches=1)
    full = Probe(group_values())
    make_trainer([ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=1), full], **kwargs).fit(
        ScriptedModule(script, per_validation=16)
    )
    ckpt = ModelCheckpoint(dirpath=tmp_path, monitor="val_loss", save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer(
            [ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=1), ckpt, Crash(70)],
            enable_checkpointing=True,
            **kwargs,
        ).fit(ScriptedModule(script, per_validation=16))
    path = max(tmp_path.glob("*.ckpt"), key=lambda p: torch.load(p, weights_only=True)["global_step"])
    resumed = Probe(group_values())
    make_trainer([ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=1), resumed], **kwargs).fit(
        ScriptedModule(script, per_validation=16), ckpt_path=path
    )
    start = resumed.rows[0][0]
    assert start == 64
    assert resumed.rows == [r for r in full.rows if r[0] >= start]


class FlatLoss(ScriptedModule):
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", 1.0)


def test_a_reduction_inside_an_accumulation_window_applies_from_the_next_step() -> None:
    # Validation every 3 batches, 2 batches per optimizer step: the decision after batch 3 falls
    # between the two micro-batches of step 1; both micro-batches of a step see one value.
    cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0)
    probe = Probe(group_values())
    module = FlatLoss([], per_validation=1)
    make_trainer([cb, probe], max_epochs=1, accumulate_grad_batches=2, val_check_interval=3, limit_val_batches=1).fit(
        module
    )
    by_step: dict[int, set[float]] = {}
    for step, _, values in probe.rows:
        by_step.setdefault(step, set()).add(values[0])
    assert all(len(v) == 1 for v in by_step.values()), by_step
    assert min(min(v) for v in by_step.values()) < 0.1  # reductions happened


def test_a_checkpoint_validated_first_is_not_resumed_by_a_later_fit_without_it(tmp_path: Path) -> None:
    # trainer.validate(ckpt_path=...) restores callback states too; the next fit starts afresh.
    script = [3.0, 2.0, 2.5, 2.6, 2.7, 2.8]
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1)
    cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0)
    make_trainer([cb, ckpt], max_epochs=6, enable_checkpointing=True).fit(ScriptedModule(script, per_validation=16))
    assert cb.state.decisions == 6 and cb.state_dict()["extra"]["multipliers"] == [0.5**4]
    reused = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0)
    make_trainer([reused]).validate(ScriptedModule(script, per_validation=16), ckpt_path=ckpt.best_model_path)
    probe = Probe(group_values())
    make_trainer([reused, probe], max_epochs=2).fit(ScriptedModule(script, per_validation=16))
    assert {r[2][0] for r in probe.rows} == {0.1}  # 3.0 then 2.0: no reduction in a fresh fit
    assert reused.state.decisions == 2


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_state_written_by_0_1_resumes_without_a_changed_configuration_warning(tmp_path: Path, name: str) -> None:
    # 0.1 wrote version-1 states (no interval, clock, targets, slots or steps) whose `config` was
    # another repr of the same configuration: nothing changed, so nothing to warn about.
    callback = FACTORIES[name]()
    make_trainer([callback], max_epochs=1, max_steps=5).fit(ResumeModule())
    state = callback.state_dict()
    old = {k: state[k] for k in ("config", "bases", "offset", "events_total", "extra")}
    old.update(version=1, config=f"<0.1 repr of {name}>")
    resumed = FACTORIES[name]()
    resumed.load_state_dict(old)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*different configuration.*")
        make_trainer([resumed], max_epochs=1, max_steps=6).fit(ResumeModule())
    assert resumed.state_dict()["version"] == 2
