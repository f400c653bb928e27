"""The generic ScheduleCallback inside real ``Trainer.fit`` runs."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _helpers import Probe, TinyModule, group_values, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from lightning_schedulers import Attribute, ParamGroup, ScheduleCallback
from lightning_schedulers.schedules import Constant, Cosine, Exponential, Linear, Step, sequence

WARMUP_COSINE = sequence([Linear(0.0, 0.2, 5), Cosine(0.2, 0.01, 20)], durations=[5])


def _assert_rows_match(probe: Probe, expected: np.ndarray, clock: str = "step") -> None:
    assert probe.rows, "the probe saw no batch"
    table = expected.reshape(len(expected), -1)
    for step, epoch, values in probe.rows:
        t = step if clock == "step" else epoch
        assert values == list(table[t]), (clock, t, values, table[t])


def test_step_interval_single_schedule_every_group() -> None:
    cb = ScheduleCallback(WARMUP_COSINE)
    probe = Probe(group_values())
    make_trainer([cb, probe], max_epochs=2).fit(TinyModule(groups=3))
    assert len(probe.rows) == 32
    _assert_rows_match(probe, cb.simulate(32, initial=[0.1, 0.1, 0.1]))
    assert probe.rows[0][2] == [0.0, 0.0, 0.0]
    assert probe.rows[5][2] == [0.2, 0.2, 0.2]


def test_per_group_schedules_and_relative_target() -> None:
    per_group = [Step(1.0, 0.5, 4), Linear(1.0, 0.0, 10), Constant(2.0)]
    cb = ScheduleCallback(per_group, target=ParamGroup("lr", relative=True))
    probe = Probe(group_values())
    make_trainer([cb, probe], max_epochs=2).fit(TinyModule(groups=3, lr=[0.1, 0.2, 0.3]))
    expected = np.stack(
        [0.1 * 0.5 ** (np.arange(32) // 4), 0.2 * np.clip(1 - np.arange(32) / 10, 0, 1), np.full(32, 0.6)], axis=1
    )
    _assert_rows_match(probe, cb.simulate(32, initial=[0.1, 0.2, 0.3]))
    for step, _, values in probe.rows:
        np.testing.assert_allclose(values, expected[step], rtol=1e-15)


def test_epoch_interval_holds_f_epoch_while_epoch_trains() -> None:
    cb = ScheduleCallback(Step(1.0, 0.5, 1), target=ParamGroup("lr", relative=True), interval="epoch")
    probe = Probe(group_values())
    make_trainer([cb, probe], max_epochs=4).fit(TinyModule(lr=0.4))
    for _, epoch, values in probe.rows:
        assert values == [0.4 * 0.5**epoch]
    assert {epoch for _, epoch, _ in probe.rows} == {0, 1, 2, 3}


def test_gradient_accumulation_follows_optimizer_steps() -> None:
    cb = ScheduleCallback(Linear(0.0, 1.0, 10), save_history=True)
    probe = Probe(group_values())
    trainer = make_trainer([cb, probe], max_epochs=1, accumulate_grad_batches=4)
    trainer.fit(TinyModule(n_samples=64, batch_size=4))  # 16 batches -> 4 optimizer steps
    steps = [step for step, _, _ in probe.rows]
    assert steps == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    _assert_rows_match(probe, cb.simulate(4))
    # One row per optimizer step; the value for step 4, written when step 3 completes, is held after
    # the fit but neither logged nor kept: no step trains with it.
    assert [row["step"] for row in cb.history] == [0.0, 1.0, 2.0, 3.0]


class AttrModule(TinyModule):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kl_weight = 0.0
        self.loss_fn = torch.nn.Module()
        self.loss_fn.temperature = 5.0  # type: ignore[assignment]
        self.register_buffer("tau", torch.tensor(1.0))


def _read_attrs(trainer: pl.Trainer, module: pl.LightningModule) -> list[float]:
    return [module.kl_weight, module.loss_fn.temperature, float(module.tau)]  # type: ignore[union-attr]


def test_attribute_targets_plain_nested_and_buffer() -> None:
    module = AttrModule()
    tau = module.tau
    cb = ScheduleCallback(
        {
            Attribute("kl_weight"): Linear(0.0, 1.0, 8),
            Attribute("loss_fn.temperature", relative=True): Exponential(1.0, 0.5, steps=4),
            Attribute("tau"): Cosine(1.0, 0.25, 16),
        }
    )
    probe = Probe(_read_attrs)
    make_trainer([cb, probe], max_epochs=2).fit(module)
    expected = cb.simulate(32, initial=5.0)
    for step, _, (kl, temp, buf) in probe.rows:
        assert kl == expected[step, 0]
        assert temp == expected[step, 1]
        assert buf == pytest.approx(expected[step, 2], rel=1e-7)  # float32 buffer
    assert module.tau is tau  # same tensor object throughout
    assert dict(module.named_buffers())["tau"] is tau


def test_tensor_lr_is_updated_in_place_during_fit() -> None:
    module = TinyModule(optimizer="Adam", tensor_lr=True, lr=0.01)
    seen: list[int] = []

    class Identity(pl.Callback):
        def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
            seen.append(id(trainer.optimizers[0].param_groups[0]["lr"]))

    cb = ScheduleCallback(Linear(0.0, 0.05, 10))
    probe = Probe(group_values())
    make_trainer([cb, probe, Identity()], max_epochs=1).fit(module)
    assert len(set(seen)) == 1
    _assert_rows_match(probe, cb.simulate(16).astype(np.float32).astype(np.float64))


def test_create_new_attribute_is_created_and_scheduled() -> None:
    module = TinyModule()
    cb = ScheduleCallback({Attribute("beta", create_new=True): Linear(0.0, 1.0, 4)})
    probe = Probe(lambda trainer, m: [m.beta])  # type: ignore[attr-defined]
    trainer = make_trainer([cb, probe], max_epochs=1)
    trainer.fit(module)
    _assert_rows_match(probe, cb.simulate(16))
    # A second fit of the same module by the same callback may reuse the attribute it created.
    make_trainer([cb], max_epochs=1).fit(module)
    with pytest.raises(AttributeError, match=r"`create_new=True` but attribute 'beta' already exists"):
        make_trainer([ScheduleCallback({Attribute("beta", create_new=True): Constant(1.0)})], max_epochs=1).fit(module)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("every", [1, 3])
def test_logged_csv_values_equal_applied_values(tmp_path: Path, every: int) -> None:
    cb = ScheduleCallback({"lr": WARMUP_COSINE, Attribute("kl_weight"): Linear(0.0, 1.0, 10)}, save_history=True)
    logger = CSVLogger(tmp_path, name="run", version=0)
    module = AttrModule(groups=2)
    calls: list[Any] = []
    module.log = lambda *a, **k: calls.append(a)  # type: ignore[method-assign]
    make_trainer([cb], max_epochs=2, logger=logger, log_every_n_steps=every).fit(module)
    rows = [r for r in _read_csv(tmp_path / "run" / "version_0" / "metrics.csv") if r.get("lr-SGD/pg1")]
    expected = cb.simulate(32, initial=[0.1, 0.1])
    assert expected.shape == (32, 3)  # one column per param group, one for the attribute
    logged_steps = [int(r["step"]) for r in rows]
    assert logged_steps == list(range(0, 32, every))
    for r in rows:
        step = int(r["step"])
        assert float(r["lr-SGD/pg1"]) == expected[step, 0]
        assert float(r["lr-SGD/pg2"]) == expected[step, 1]
        assert float(r["kl_weight"]) == expected[step, 2]
    assert calls == []  # never pl_module.log
    assert [h["step"] for h in cb.history] == list(map(float, range(32)))


def test_epoch_interval_logs_each_write_on_the_global_step_axis(tmp_path: Path) -> None:
    cb = ScheduleCallback(Step(0.1, 0.5, 1), interval="epoch", name="my_lr")
    logger = CSVLogger(tmp_path, name="run", version=0)
    make_trainer([cb], max_epochs=3, logger=logger, log_every_n_steps=50).fit(TinyModule())
    rows = [r for r in _read_csv(tmp_path / "run" / "version_0" / "metrics.csv") if r.get("my_lr")]
    assert [(int(r["step"]), float(r["my_lr"])) for r in rows] == [
        (0, 0.1),
        (16, 0.05),
        (32, 0.025),  # the value written after the last epoch is held but not logged
    ]


def test_logging_disabled_logs_nothing(tmp_path: Path) -> None:
    cb = ScheduleCallback(Constant(0.1), logging_enabled=False)
    logger = CSVLogger(tmp_path, name="run", version=0)
    make_trainer([cb], max_epochs=1, logger=logger, log_every_n_steps=1).fit(TinyModule())
    metrics = tmp_path / "run" / "version_0" / "metrics.csv"
    assert not metrics.exists() or all("lr-SGD" not in r for r in _read_csv(metrics))


def test_checkpoint_state_is_plain_and_resume_keeps_captured_bases(tmp_path: Path) -> None:
    schedule = Exponential(1.0, 0.5, steps=8)
    full_cb = ScheduleCallback(schedule, target=ParamGroup("lr", relative=True))
    full = Probe(group_values())
    make_trainer([full_cb, full], max_epochs=3).fit(TinyModule(lr=0.3))

    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=20, save_top_k=-1)
    first_cb = ScheduleCallback(schedule, target=ParamGroup("lr", relative=True))
    make_trainer([first_cb, ckpt], max_steps=20, enable_checkpointing=True).fit(TinyModule(lr=0.3))
    path = next(tmp_path.glob("*step=20*.ckpt"))
    payload = torch.load(path, weights_only=True)  # plain values only
    state = payload["callbacks"][first_cb.state_key]
    assert state["bases"] == [[0.3]]

    resumed_cb = ScheduleCallback(schedule, target=ParamGroup("lr", relative=True))
    resumed = Probe(group_values())
    # A fresh module whose optimizer would start at a different lr: the stored base wins.
    make_trainer([resumed_cb, resumed], max_epochs=3).fit(TinyModule(lr=0.3), ckpt_path=path)
    assert resumed.rows[0][0] == 20
    full_by_step = {step: values for step, _, values in full.rows}
    for step, _, values in resumed.rows:
        assert values == full_by_step[step]


def test_resume_with_changed_configuration_warns(tmp_path: Path) -> None:
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=4)
    make_trainer([ScheduleCallback(Linear(0.0, 1.0, 10)), ckpt], max_steps=4, enable_checkpointing=True).fit(
        TinyModule()
    )
    path = next(tmp_path.glob("*.ckpt"))
    with pytest.warns(UserWarning, match="different configuration"):
        make_trainer([ScheduleCallback(Linear(0.0, 2.0, 10))], max_steps=8).fit(TinyModule(), ckpt_path=path)


def test_state_keys_tell_instances_apart() -> None:
    a = ScheduleCallback(Constant(0.1))
    b = ScheduleCallback(Constant(0.1), target="weight_decay")
    c = ScheduleCallback(Constant(0.1), interval="epoch")
    assert len({a.state_key, b.state_key, c.state_key}) == 3


def test_non_finite_value_is_refused_not_written() -> None:
    module = AttrModule()
    module.kl_weight = 1e300
    cb = ScheduleCallback({Attribute("kl_weight", relative=True): Constant(1e10)})
    with pytest.raises(FloatingPointError, match=r"'kl_weight' gave inf at step 0"):
        make_trainer([cb], max_epochs=1).fit(module)
    assert module.kl_weight == 1e300


@pytest.mark.parametrize(
    ("callback", "error", "match"),
    [
        (lambda: ScheduleCallback(Constant(0.1), target="momentun"), KeyError, r"no key 'momentun'"),
        (lambda: ScheduleCallback({Attribute("kl"): Constant(0.1)}), AttributeError, r"'kl' does not resolve"),
        (lambda: ScheduleCallback([Constant(0.1)] * 2), ValueError, r"has 1 param group\(s\) but 2 schedules"),
        (
            lambda: ScheduleCallback({"lr": Constant(0.1), "weight_decay": Constant(0.0)}, name="x"),
            ValueError,
            r"`name`='x' names a single target, but this callback drives 2",
        ),
        (lambda: ScheduleCallback(Constant(0.1), target=ParamGroup("lr", optimizer=1)), ValueError, r"out of range"),
    ],
)
def test_setup_errors_name_what_exists(callback, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        make_trainer([callback()], max_epochs=1).fit(TinyModule())


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda: ScheduleCallback(Constant(0.1), interval="steps"),
            ValueError,
            r"`interval` must be one of .* got 'steps'",
        ),
        (lambda: ScheduleCallback(0.1), TypeError, r"must be a Schedule or a non-empty list of Schedules.*got 0.1"),
        (lambda: ScheduleCallback([]), TypeError, r"non-empty list"),
        (lambda: ScheduleCallback({}), ValueError, r"empty mapping"),
        (lambda: ScheduleCallback({"lr": Constant(0.1)}, target="lr"), ValueError, r"`target`='lr' cannot be combined"),
        (
            lambda: ScheduleCallback({"lr": Constant(1.0), ParamGroup("lr"): Constant(2.0)}),
            ValueError,
            r"appears twice",
        ),
        (lambda: ScheduleCallback({3: Constant(1.0)}), TypeError, r"`schedule` must name targets .* got 3"),
        (lambda: ScheduleCallback(Constant(0.1), save_history=1), TypeError, r"`save_history` must be a bool, got 1"),
        (
            lambda: ScheduleCallback(Constant(0.1), name=""),
            TypeError,
            r"`name` must be a non-empty str or None, got ''",
        ),
        (lambda: ScheduleCallback({Attribute("a"): [Constant(1.0)] * 2}), ValueError, r"holds one value; got 2"),
    ],
)
def test_constructor_errors(make, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        make()


def test_simulate_shapes_and_initial() -> None:
    single = ScheduleCallback(Linear(0.0, 1.0, 4))
    assert single.simulate(5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert single.simulate(3, initial=[1.0, 2.0]).shape == (3, 2)
    relative = ScheduleCallback(Linear(1.0, 0.0, 4), target=ParamGroup("lr", relative=True))
    np.testing.assert_array_equal(relative.simulate(5, initial=[2.0, 4.0])[:, 1], [4.0, 3.0, 2.0, 1.0, 0.0])
    assert single.simulate(0).shape == (0,)
    with pytest.raises(ValueError, match=r"`num_events` must be >= 0, got -1"):
        single.simulate(-1)
    with pytest.raises(ValueError, match=r"`initial` must be finite, got nan"):
        single.simulate(3, initial=math.nan)
    with pytest.raises(ValueError, match=r"`initial` has 3 values but lr@optimizer0 has 2 schedules"):
        ScheduleCallback([Constant(1.0)] * 2).simulate(3, initial=[1.0] * 3)


def test_plot_returns_axes(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    cb = ScheduleCallback({"lr": WARMUP_COSINE, Attribute("kl"): Linear(0.0, 1.0, 10)})
    ax = cb.plot(30)
    assert isinstance(ax, Axes)
    assert [line.get_label() for line in ax.get_lines()] == ["lr-optimizer0", "kl"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), cb.simulate(30)[:, 0])
    ax.figure.savefig(tmp_path / "schedule.png")
    assert (tmp_path / "schedule.png").stat().st_size > 0


def test_plot_without_matplotlib_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # The package is not on the public index: the message gives an install line that works.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ModuleNotFoundError, match=r"`pip install matplotlib`") as caught:
        ScheduleCallback(Constant(1.0)).plot(3)
    assert caught.value.name == "matplotlib"
