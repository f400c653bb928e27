"""Training longer (or shorter) than the checkpoint planned: ``on_resume="replan"``, the default.

Each test trains a fit, resumes one of its checkpoints into a fit of another length, and compares
the lr a probe reads at every batch with a closed form written here: the phase in progress goes on
from the value applied last, stretched to its end in the plan for the new length, and that plan
applies from there.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import Probe, TinyModule, assert_parity, group_values, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint

import lightning_schedulers as ls
from lightning_schedulers.schedules import fraction

LR = 0.1


def run(
    make: Callable[[], ls.SchedulerCallback],
    max_steps: int,
    tmp_path: Path | None = None,
    every: int = 0,
    ckpt: Path | None = None,
) -> dict[int, float]:
    """lr at every step of a fit of ``max_steps`` (resumed from ``ckpt``), checkpoints every ``every`` steps."""
    probe = Probe(group_values())
    callbacks: list[Any] = [make(), probe]
    kwargs: dict[str, Any] = {}
    if every:
        callbacks.append(ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=every, save_top_k=-1))
        kwargs["enable_checkpointing"] = True
    make_trainer(callbacks, max_steps=max_steps, max_epochs=-1, **kwargs).fit(
        TinyModule(), ckpt_path=None if ckpt is None else str(ckpt)
    )
    return {step: values[0] for step, _, values in probe.rows}


def cosine(t: float, total: float) -> float:
    return LR * (1 + math.cos(math.pi * t / total)) / 2


def test_a_cosine_over_the_fit_anneals_from_where_it_is_to_the_new_end(tmp_path: Path) -> None:
    def make() -> ls.SchedulerCallback:
        return ls.CosineAnnealingLR(T_max=fraction(1.0), interval="step")

    first = run(make, 20, tmp_path, every=10)
    longer = run(make, 40, ckpt=tmp_path / "epoch=0-step=10.ckpt")
    assert sorted(longer) == list(range(10, 40))
    assert longer[10] == first[10]  # no jump: the value the checkpointed fit applied
    expected = [cosine(10 + (t - 10) * (20 - 10) / (40 - 10), 20) for t in range(10, 40)]
    assert_parity([longer[t] for t in range(10, 40)], expected)
    assert longer[39] < 1e-3 * LR  # it reaches the floor at the new end


def test_a_shorter_fit_squeezes_the_phase_in_progress(tmp_path: Path) -> None:
    def make() -> ls.SchedulerCallback:
        return ls.CosineAnnealingLR(T_max=fraction(1.0), interval="step")

    first = run(make, 40, tmp_path, every=10)
    shorter = run(make, 20, ckpt=tmp_path / "epoch=0-step=10.ckpt")
    assert shorter[10] == first[10]
    expected = [cosine(10 + (t - 10) * (40 - 10) / (20 - 10), 40) for t in range(10, 20)]
    assert_parity([shorter[t] for t in range(10, 20)], expected)


def wsd() -> ls.SchedulerCallback:
    return ls.WarmupStableDecayLR(warmup_steps=4, decay_steps=fraction(0.25))


def test_wsd_extended_in_its_stable_phase_equals_the_longer_plan_bit_for_bit(tmp_path: Path) -> None:
    run(wsd, 20, tmp_path, every=10)
    longer = run(wsd, 40, ckpt=tmp_path / "epoch=0-step=10.ckpt")
    planned = run(wsd, 40)  # planned with the new length from the start
    np.testing.assert_array_equal([longer[t] for t in range(10, 40)], [planned[t] for t in range(10, 40)])
    assert longer[30] == LR and longer[31] < LR  # the decay is the new plan's: the last quarter of 40


def test_wsd_extended_during_its_decay_stretches_the_decay(tmp_path: Path) -> None:
    first = run(wsd, 20, tmp_path, every=16)
    longer = run(wsd, 40, ckpt=tmp_path / "epoch=0-step=16.ckpt")
    assert longer[16] == first[16]
    # The decay (linear from LR at 15 to 0 at 20) goes on from 16, now ending at 40.
    expected = [LR * (1 - (16 + (t - 16) * (20 - 16) / (40 - 16) - 15) / 5) for t in range(16, 40)]
    assert_parity([longer[t] for t in range(16, 40)], expected)


def test_the_replanned_fit_resumes_exactly_and_says_what_it_did(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def make() -> ls.SchedulerCallback:
        return ls.WarmupCosineLR(warmup_steps=fraction(0.1))

    run(make, 20, tmp_path / "a", every=10)
    with caplog.at_level(logging.INFO):
        longer = run(make, 40, tmp_path / "b", every=25, ckpt=tmp_path / "a" / "epoch=0-step=10.ckpt")
    notes = [r.getMessage() for r in caplog.records if "checkpoint planned" in r.getMessage()]
    assert len(notes) == 1
    assert "this fit is 40 steps long and the checkpoint planned 20; from step 10" in notes[0]
    assert "continues the phase in progress" in notes[0] and "now ending at 40" in notes[0]
    # A checkpoint of the longer fit resumes it exactly (the re-plan is in the checkpoint), silently.
    caplog.clear()
    with caplog.at_level(logging.INFO), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = run(make, 40, ckpt=tmp_path / "b" / "epoch=1-step=25.ckpt")
    assert not [r for r in caplog.records if "checkpoint planned" in r.getMessage()]
    assert not [w for w in caught if "WarmupCosineLR" in str(w.message)]
    np.testing.assert_array_equal([again[t] for t in range(25, 40)], [longer[t] for t in range(25, 40)])


def test_a_fit_resumed_at_the_end_of_its_plan_holds_the_last_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def make() -> ls.SchedulerCallback:
        return ls.WarmupCosineLR(warmup_steps=2, min_factor=0.1)

    first = run(make, 20, tmp_path, every=20)
    with caplog.at_level(logging.INFO):
        longer = run(make, 30, ckpt=tmp_path / "epoch=1-step=20.ckpt")
    assert_parity(list(longer.values()), [0.1 * LR] * len(longer))
    assert first[19] > longer[20]
    assert any("had run its course by event 20" in r.getMessage() for r in caplog.records)


def test_the_other_policies_are_still_there(tmp_path: Path) -> None:
    def make(policy: str) -> Callable[[], ls.SchedulerCallback]:
        return lambda: ls.CosineAnnealingLR(T_max=fraction(1.0), interval="step", on_resume=policy)  # type: ignore[arg-type]

    run(make("replan"), 20, tmp_path, every=10)
    ckpt = tmp_path / "epoch=0-step=10.ckpt"
    with pytest.warns(UserWarning, match="on_resume='continue' keeps that length"):
        kept = run(make("continue"), 40, ckpt=ckpt)
    assert_parity([kept[t] for t in range(10, 20)], [cosine(t, 20) for t in range(10, 20)])
    rescaled = run(make("rescale"), 40, ckpt=ckpt)
    assert_parity([rescaled[t] for t in range(10, 40)], [cosine(t, 40) for t in range(10, 40)])


def test_a_schedule_with_explicit_lengths_that_decays_to_its_end_warns_once_where_it_ends() -> None:
    from lightning_schedulers.schedules import Constant, Linear, join

    decay = ls.ScheduleCallback(join([Constant(LR), Linear(LR, 0.0, 6)], [4]), "lr")
    with pytest.warns(UserWarning, match=r"step 10 is past the end of the schedule \(10 steps\)") as caught:
        values = run(lambda: decay, 16)
    assert len([w for w in caught if "past the end" in str(w.message)]) == 1
    assert values[10] == 0.0 and values[9] > 0.0
    # A warmup to a constant holds its value by design: no warning.
    with warnings.catch_warnings(record=True) as caught_warmup:
        warnings.simplefilter("always")
        run(lambda: ls.ScheduleCallback(Linear(0.0, LR, 5), "lr"), 16)
    assert not [w for w in caught_warmup if "past the end" in str(w.message)]


@pytest.mark.parametrize(("planned", "now"), [(20, 40), (40, 20)])
def test_every_class_resumed_into_a_fit_of_another_length_continues_without_a_jump(
    tmp_path: Path, planned: int, now: int
) -> None:
    # Each class of the resume suite: a fit checkpointed at step 10, resumed into a longer (shorter) fit
    # with the default policy. The first values of the longer fit are the ones the checkpointed fit held
    # at step 10 (for a schedule planned for the fit, as well as for one with explicit lengths).
    from test_resume import FACTORIES, ResumeModule, read_all

    jumps = {}
    for key, make in sorted(FACTORIES.items()):
        folder = tmp_path / key
        first = Probe(read_all)
        checkpoint = ModelCheckpoint(dirpath=folder, every_n_train_steps=10, save_top_k=-1)
        make_trainer([make(), first, checkpoint], max_steps=planned, max_epochs=-1, enable_checkpointing=True).fit(
            ResumeModule()
        )
        longer = Probe(read_all)
        make_trainer([make(), longer], max_steps=now, max_epochs=-1).fit(
            ResumeModule(), ckpt_path=str(folder / "epoch=0-step=10.ckpt")
        )
        held = next(values for step, _, values in first.rows if step == 10)
        assert longer.rows[0][0] == 10 and len(longer.rows) == now - 10, key
        assert all(math.isfinite(v) for _, _, values in longer.rows for v in values), key
        if longer.rows[0][2] != held:
            jumps[key] = (held, longer.rows[0][2])
    assert not jumps, jumps
