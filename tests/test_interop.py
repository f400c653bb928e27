"""Coming from torch, HF transformers, timm, ignite and poutyne: the habits and behaviours users bring."""

from __future__ import annotations

import copy
import csv
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import (
    AfterValidation,
    Probe,
    RecordingLogger,
    ScriptedModule,
    TinyModule,
    assert_parity,
    group_values,
    make_trainer,
)
from lightning.pytorch.callbacks import Callback, LearningRateFinder, LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from test_torch_family import torch_trace
from torch.optim import lr_scheduler as tl

import lightning_schedulers as ls

warnings.filterwarnings("ignore", ".*lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`.*")


# ------------------------------------------------------------------ tensor hyperparameters
F01, F001 = float(torch.tensor(0.1)), float(torch.tensor(0.01))  # the float32 values the tensors hold


@pytest.mark.parametrize(
    ("ours", "theirs", "as_floats"),
    [
        (
            lambda: ls.OneCycleLR(max_lr=torch.tensor(0.1), total_steps=40, cycle_momentum=False),
            lambda opt: tl.OneCycleLR(opt, max_lr=torch.tensor(0.1), total_steps=40, cycle_momentum=False),
            lambda opt: tl.OneCycleLR(opt, max_lr=F01, total_steps=40, cycle_momentum=False),
        ),
        (
            lambda: ls.CyclicLR(base_lr=torch.tensor(0.01), max_lr=torch.tensor(0.1), step_size_up=5),
            # torch's tensor path aliases base_lr to the group's lr tensor, which it then fills in
            # place, so its base drifts with the lr (0.01, 0.028, 0.0568, ...): compared on floats only.
            None,
            lambda opt: tl.CyclicLR(opt, base_lr=F001, max_lr=F01, step_size_up=5),
        ),
        (
            lambda: ls.CosineAnnealingLR(T_max=10, eta_min=torch.tensor(0.01)),
            lambda opt: tl.CosineAnnealingLR(opt, T_max=10, eta_min=torch.tensor(0.01)),
            lambda opt: tl.CosineAnnealingLR(opt, T_max=10, eta_min=F001),
        ),
    ],
)
def test_zero_dim_tensor_hyperparameters_are_accepted_as_torch_accepts_them(ours, theirs, as_floats) -> None:  # type: ignore[no-untyped-def]
    values = ours().simulate(40, initial=0.1).reshape(40, -1)[:, :1]
    # torch keeps the lr a float32 tensor and computes in float32; ours computes in float64 from
    # the value the tensor holds: equal to torch's float path, and to its tensor path in float32.
    assert_parity(values, torch_trace(as_floats, 40, lrs=[0.1])[:, :1])
    if theirs is not None:
        assert_parity(values, torch_trace(theirs, 40, lrs=[0.1])[:, :1], rtol=1e-6)


def test_a_tensor_with_several_elements_is_refused_naming_the_argument() -> None:
    with pytest.raises(TypeError, match=r"`max_lr` must be a real number, got tensor\(\[0.1000, 0.2000\]\)"):
        ls.OneCycleLR(max_lr=torch.tensor([0.1, 0.2]))


# ------------------------------------------------------------------ poutyne's iteration
def test_phase_and_policy_iterate_like_poutyne() -> None:
    import poutyne

    ours = [
        ls.Phase(lr=ls.linspace(0.0, 1.0, 3), momentum=ls.cosinespace(0.95, 0.85, 3)),
        ls.Phase(lr=ls.linspace(1.0, 0.5, 2), momentum=ls.linspace(0.85, 0.9, 2)),
    ]
    theirs = [
        poutyne.Phase(lr=poutyne.linspace(0.0, 1.0, 3), momentum=poutyne.cosinespace(0.95, 0.85, 3)),
        poutyne.Phase(lr=poutyne.linspace(1.0, 0.5, 2), momentum=poutyne.linspace(0.85, 0.9, 2)),
    ]
    for mine, reference in zip(ours, theirs, strict=True):
        rows, expected = list(mine), list(reference)
        assert [list(r) for r in rows] == [list(r) for r in expected]
        assert_parity([list(r.values()) for r in rows], [list(r.values()) for r in expected])
    for initial in (0, 2, 5):
        policy, reference_policy = (
            ls.OptimizerPolicy(ours, initial_step=initial),
            poutyne.OptimizerPolicy(theirs, initial_step=initial),
        )
        rows, expected = list(policy), list(reference_policy)
        assert len(rows) == len(expected) == 5 - initial
        assert_parity([list(r.values()) for r in rows], [list(r.values()) for r in expected])
        assert list(policy) == rows  # iterating reads, it does not advance anything


def test_iterating_a_phase_of_a_fraction_of_training_says_it_has_no_length_yet() -> None:
    with pytest.raises(ValueError, match="fraction of training"):
        list(ls.Phase(0.5, lr=ls.schedules.Constant(0.1)))


# ------------------------------------------------------------------ ignite's param_history
class KL(TinyModule):
    def __init__(self) -> None:
        super().__init__()
        self.kl = 1.0


def ignite_history(attach: Any, epochs: int, batches: int = 16) -> list[Any]:
    from ignite.engine import Engine

    engine = Engine(lambda e, b: None)
    name = attach(engine)
    engine.run([0] * batches, max_epochs=epochs)
    return [v[0] if isinstance(v, list) else v for v in engine.state.param_history[name]]


def test_save_history_keeps_what_ignites_param_history_keeps() -> None:
    from ignite.engine import Events
    from ignite.handlers import param_scheduler as ips
    from ignite.handlers import state_param_scheduler as isps

    def state(engine: Any) -> str:
        isps.ExpStateScheduler(1.0, 0.5, "kl", save_history=True, create_new=True).attach(
            engine, Events.EPOCH_COMPLETED
        )
        return "kl"

    def cyclical(engine: Any) -> str:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        engine.add_event_handler(
            Events.ITERATION_STARTED, ips.LinearCyclicalScheduler(optimizer, "lr", 0.0, 1.0, 10, save_history=True)
        )
        return "lr"

    # A state scheduler: the values written after each epoch (no row for the value at the start).
    ours = ls.ExpStateScheduler(1.0, 0.5, "kl", interval="epoch", save_history=True)
    make_trainer([ours], max_epochs=3).fit(KL())
    assert [h["kl"] for h in ours.history] == ignite_history(state, 3)
    # An optimizer scheduler: the value each iteration trained with (none for the value held after).
    cyc = ls.LinearCyclicalScheduler("lr", 0.0, 1.0, 10, save_history=True)
    make_trainer([cyc], max_epochs=2).fit(TinyModule())
    assert_parity([h["lr-SGD"] for h in cyc.history], ignite_history(cyclical, 2))


# ------------------------------------------------------------------ keys: tuple entries, names
def read_csv_header(path: Path) -> list[str]:
    with open(path, newline="") as handle:
        return next(csv.reader(handle))


class AdamW(TinyModule):
    def __init__(self, groups: int = 2, named: bool = False) -> None:
        super().__init__(groups=groups)
        self.named = named

    def configure_optimizers(self) -> Any:
        groups = [{"params": layer.parameters()} for layer in self.layers]
        if self.named:
            for i, group in enumerate(groups):
                group["name"] = f"block{i}"
        return torch.optim.AdamW(groups, lr=0.01, betas=(0.9, 0.999), weight_decay=0.01)


def betas(trainer: Any, module: Any) -> list[float]:
    return [float(v) for g in trainer.optimizers[0].param_groups for v in g["betas"]]


def test_each_entry_of_betas_is_a_target_of_its_own() -> None:
    beta1 = ls.schedules.Linear(0.95, 0.85, 16)
    beta2 = ls.schedules.Cosine(0.99, 0.999, 16)
    cb = ls.ScheduleCallback({"betas[0]": beta1, "betas[1]": beta2})
    probe = Probe(betas)
    make_trainer([cb, probe], max_epochs=1).fit(AdamW())
    for step, _, values in probe.rows:
        assert values == [beta1.value(step), beta2.value(step)] * 2
    # The tuples stay tuples, as torch's optimizers hold them.
    assert all(isinstance(g["betas"], tuple) for g in make_adamw().param_groups)


def make_adamw() -> torch.optim.Optimizer:
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], betas=(0.9, 0.999))


def test_betas_entries_everywhere_a_key_is_accepted() -> None:
    optimizer = make_adamw()
    for cb in (
        ls.LinearCyclicalScheduler("betas[1]", 0.99, 0.999, 4),
        ls.ScheduleCallback({ls.ParamGroup("betas[1]"): ls.schedules.Constant(0.98)}),
        ls.OptimizerPolicy([ls.Phase(**{"betas[1]": ls.linspace(0.99, 0.999, 4)})]),
    ):
        bound = cb._bindings()[0].target.bind([optimizer])
        bound.write([0.995])
        assert optimizer.param_groups[0]["betas"] == (0.9, 0.995)
        assert bound.read() == [0.995]


def test_a_tuple_valued_key_says_to_pick_an_entry_and_bad_entries_are_named() -> None:
    optimizer = make_adamw()
    with pytest.raises(
        ValueError, match=r"'betas' holds \(0.9, 0.999\) in param group 0 of AdamW; .*'betas\[0\]', 'betas\[1\]'"
    ):
        ls.ParamGroup("betas").bind([optimizer])
    with pytest.raises(KeyError, match=r"'betas\[2\]'.*holds \(0.9, 0.999\) under 'betas', which has no entry 2"):
        ls.ParamGroup("betas[2]").bind([optimizer])
    with pytest.raises(KeyError, match=r"'lr\[0\]'.*holds .* under 'lr', which has no entry 0"):
        ls.ParamGroup("lr[0]").bind([optimizer])
    with pytest.raises(ValueError, match=r"`key`='betas\[x\]' is neither a param-group key nor an entry"):
        ls.ParamGroup("betas[x]")


def test_momentum_and_betas0_are_one_target_for_conflicts() -> None:
    optimizer = make_adamw()
    assert ls.ParamGroup("momentum").claims([optimizer]) == ls.ParamGroup("betas[0]").claims([optimizer])
    assert ls.ParamGroup("betas[1]").claims([optimizer]) != ls.ParamGroup("betas[0]").claims([optimizer])


@pytest.mark.parametrize("named", [False, True])
def test_logged_names_are_learning_rate_monitors_for_every_key(tmp_path: Path, named: bool) -> None:
    # Reference: the names LearningRateMonitor(log_momentum=True, log_weight_decay=True) logs.
    monitor_logger = CSVLogger(tmp_path, name="monitor", version=0)
    monitor = LearningRateMonitor(log_momentum=True, log_weight_decay=True)
    make_trainer([monitor], max_epochs=1, logger=monitor_logger).fit(AdamW(named=named))
    theirs = {k for k in read_csv_header(tmp_path / "monitor" / "version_0" / "metrics.csv")} - {"step", "epoch"}
    ours_logger = CSVLogger(tmp_path, name="ours", version=0)
    cb = ls.ScheduleCallback(
        {
            "lr": ls.schedules.Constant(0.01),
            "momentum": ls.schedules.Constant(0.9),
            "weight_decay": ls.schedules.Constant(0.01),
        }
    )
    make_trainer([cb], max_epochs=1, logger=ours_logger).fit(AdamW(named=named))
    ours = set(read_csv_header(tmp_path / "ours" / "version_0" / "metrics.csv")) - {"step", "epoch"}
    assert ours == theirs
    assert ("lr-AdamW/block0-momentum" if named else "lr-AdamW/pg2-weight_decay") in ours


def test_with_a_learning_rate_monitor_no_two_series_share_a_name(tmp_path: Path) -> None:
    def steps_by_name(callbacks: list[Any]) -> dict[str, list[int]]:
        logger = RecordingLogger()
        make_trainer(callbacks, max_epochs=1, logger=logger, log_every_n_steps=1).fit(AdamW())
        out: dict[str, list[int]] = {}
        for step, metrics in logger.rows:
            for name in metrics:
                out.setdefault(name, []).append(step)
        return out

    alone = steps_by_name([LearningRateMonitor(log_momentum=True)])
    cb = ls.ScheduleCallback({"lr": ls.schedules.Linear(0.01, 0.0, 16), "betas[1]": ls.schedules.Constant(0.99)})
    both = steps_by_name([cb, LearningRateMonitor(log_momentum=True)])
    # The monitor's series are exactly what it logs alone (ours adds no point to them); ours adds
    # only the series it has no name for.
    assert {k: v for k, v in both.items() if k in alone} == alone
    assert set(both) - set(alone) == {"lr-AdamW/pg1-betas.1", "lr-AdamW/pg2-betas.1"}


def test_a_tensor_target_logs_the_value_it_holds(tmp_path: Path) -> None:
    class Temperature(TinyModule):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("temperature", torch.tensor(1.0))  # float32

    cb = ls.ScheduleCallback({ls.Attribute("temperature"): ls.schedules.Linear(1.0, 0.1, 16)})
    logger = RecordingLogger()
    make_trainer([cb], max_epochs=1, logger=logger, log_every_n_steps=1).fit(Temperature())
    for step, metrics in logger.rows:
        if "temperature" in metrics:
            held = float(torch.tensor(ls.schedules.Linear(1.0, 0.1, 16).value(step), dtype=torch.float32))
            assert metrics["temperature"] == held


# ------------------------------------------------------------------ torch habits
def test_passing_an_optimizer_as_torch_does_says_the_callback_takes_it_from_the_trainer() -> None:
    optimizer = make_adamw()
    for make in (lambda: ls.StepLR(optimizer, step_size=30), lambda: ls.OneCycleLR(optimizer, max_lr=0.1)):
        with pytest.raises(TypeError, match=r"is a Lightning callback: it takes the optimizer from the trainer"):
            make()
    with pytest.raises(TypeError, match=r"StepLR is a Lightning callback.*optimizer=<index or class name>"):
        ls.StepLR(step_size=30, optimizer=optimizer)  # type: ignore[arg-type]


def test_a_misspelt_keyword_names_the_public_class_and_the_closest_argument() -> None:
    with pytest.raises(
        TypeError, match=r"^StepLR\(\): got an unexpected keyword argument 'gama' \(did you mean 'gamma'\?\)"
    ):
        ls.StepLR(step_size=2, gama=0.5)  # type: ignore[call-arg]
    with pytest.raises(
        TypeError, match=r"^LambdaLR\(\): got an unexpected keyword argument 'intervall' \(did you mean 'interval'"
    ):
        ls.LambdaLR(lambda e: 1.0, intervall="step")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^ExpStateScheduler\(\): too many positional arguments"):
        ls.ExpStateScheduler(1.0, 0.5, "kl", False, False, 3)  # type: ignore[misc]


def test_signatures_list_the_common_keyword_arguments() -> None:
    import inspect

    for cls, own in (
        (ls.StepLR, "step_size"),
        (ls.LinearCyclicalScheduler, "cycle_size"),
        (ls.WarmupCosineLR, "warmup_steps"),
    ):
        parameters = inspect.signature(cls).parameters
        assert own in parameters
        assert {"interval", "optimizer", "name", "save_history", "logging_enabled", "on_resume", "clock"} <= set(
            parameters
        )
        assert all(p.kind is not p.VAR_KEYWORD for p in parameters.values())


# ------------------------------------------------------------------ ignite: warmup around any optimizer scheduler
@pytest.mark.parametrize("end_value", [None, 0.3])
def test_warmup_around_a_concat_scheduler_equals_ignites(end_value: float | None) -> None:
    from ignite.engine import Engine, Events
    from ignite.handlers import param_scheduler as ips

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    concat = ips.ConcatScheduler(
        [
            ips.LinearCyclicalScheduler(optimizer, "lr", 0.1, 0.5, 10),
            ips.CosineAnnealingScheduler(optimizer, "lr", 0.5, 0.01, 20),
        ],
        durations=[10],
    )
    warmup = ips.create_lr_scheduler_with_warmup(concat, 0.0, 5, warmup_end_value=end_value, save_history=True)
    engine = Engine(lambda e, b: None)
    engine.add_event_handler(Events.ITERATION_STARTED, warmup)
    engine.run([0] * 40, max_epochs=1)
    reference = [v[0] for v in engine.state.param_history["lr"]]
    ours = ls.create_lr_scheduler_with_warmup(
        ls.ConcatScheduler(
            [ls.LinearCyclicalScheduler("lr", 0.1, 0.5, 10), ls.CosineAnnealingScheduler("lr", 0.5, 0.01, 20)],
            durations=[10],
        ),
        0.0,
        5,
        warmup_end_value=end_value,
    )
    assert_parity(ours.simulate(40, initial=0.1), reference)


# ------------------------------------------------------------------ SWA
@pytest.mark.parametrize(("strategy", "epochs"), [("cos", 3), ("linear", 4), ("cos", 0), ("linear", 1)])
def test_swalr_equals_torchs(strategy: str, epochs: int) -> None:
    from torch.optim.swa_utils import SWALR

    reference = torch_trace(
        lambda o: SWALR(o, swa_lr=[0.05, 0.02, 0.01], anneal_epochs=epochs, anneal_strategy=strategy), 20
    )
    ours = ls.SWALR([0.05, 0.02, 0.01], anneal_epochs=epochs, anneal_strategy=strategy)
    assert_parity(ours.simulate(20, initial=[0.1, 0.05, 0.3]), reference)


class WithTorchCosine(TinyModule):
    """The reference: Lightning's own path, torch's CosineAnnealingLR per step, replaced by SWA's SWALR."""

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        scheduler = tl.CosineAnnealingLR(optimizer, T_max=64, eta_min=0.001)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def lr_and_epoch(trainer: Any, module: Any) -> list[float]:
    return [float(g["lr"]) for g in trainer.optimizers[0].param_groups]


def test_a_scheduler_hands_the_lr_over_to_stochastic_weight_averaging_at_its_start_epoch() -> None:
    from lightning.pytorch.callbacks import StochasticWeightAveraging

    def swa() -> StochasticWeightAveraging:
        return StochasticWeightAveraging(swa_lrs=0.02, swa_epoch_start=3, annealing_epochs=1)

    ours, theirs = Probe(lr_and_epoch), Probe(lr_and_epoch)
    with pytest.warns(UserWarning):  # Lightning's own note on SWA and the scheduler it swaps
        make_trainer([theirs, swa()], max_epochs=4).fit(WithTorchCosine())
    cb = ls.CosineAnnealingLR(T_max=64, eta_min=0.001, interval="step")
    make_trainer([cb, ours, swa()], max_epochs=4).fit(TinyModule())
    # Epochs 0-1 follow the cosine; from epoch 2 (swa_epoch_start=3, 1-based) SWA's SWALR alone.
    assert [r[:2] for r in ours.rows] == [r[:2] for r in theirs.rows]
    for mine, reference in zip(ours.rows, theirs.rows, strict=True):
        assert mine[2] == pytest.approx(reference[2], rel=1e-12)
    assert {r[2][0] for r in ours.rows if r[1] >= 3} == {0.02}  # annealed to swa_lr, held


# ------------------------------------------------------------------ checkpoints restored into a running fit
class FinderAtEpoch(LearningRateFinder):
    """Lightning's documented fine-tuning use of the finder: run it again at given epochs."""

    def __init__(self, epochs: list[int]) -> None:
        super().__init__(num_training_steps=5)
        self.epochs = epochs

    def on_fit_start(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch in self.epochs:
            self.lr_find(trainer, pl_module)


def test_a_learning_rate_finder_run_mid_fit_leaves_the_schedule_and_its_state_alone() -> None:
    script = [3.0, 2.0, 2.5, 2.6, 2.7, 2.8]

    def fit(extra: list[Any]) -> tuple[list[float], Any]:
        cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0, base=ls.StepLR(1, 0.9))
        after = AfterValidation()
        module = ScriptedModule(script, per_validation=16)
        module.lr = 0.1
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*not enough points.*")
            make_trainer([cb, *extra, after], max_epochs=6).fit(module)
        return [v[0] for _, v in after.rows], cb

    plain, _ = fit([])
    found, cb = fit([FinderAtEpoch([2, 4])])
    np.testing.assert_allclose(found, plain, rtol=1e-12, atol=0)
    assert min(plain) < 0.1 * 0.9**5  # reductions happened after the finder runs
    live = cb.state.state_dict()
    assert cb.state_dict()["extra"]["plateau"] == live and live["decisions"] == 6


class RollBack(Callback):
    """Restores the optimizer's state saved at epoch 1 when epoch 3 starts (optimizer.load_state_dict)."""

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        optimizer = trainer.optimizers[0]
        if trainer.current_epoch == 1:
            self.saved = copy.deepcopy(optimizer.state_dict())
        if trainer.current_epoch == 3:
            optimizer.load_state_dict(self.saved)  # new param-group dicts


def test_an_optimizer_state_loaded_mid_fit_is_written_to_from_the_next_batch() -> None:
    cb = ls.CosineAnnealingLR(T_max=64, interval="step")
    probe = Probe(group_values())
    make_trainer([RollBack(), cb, probe], max_epochs=4).fit(TinyModule())
    assert [r[2][0] for r in probe.rows] == pytest.approx(cb.simulate(64, initial=0.1).tolist(), rel=1e-12)
