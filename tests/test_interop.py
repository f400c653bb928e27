"""Coming from torch, HF transformers, timm, ignite and poutyne: the habits and behaviours users bring."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from _helpers import TinyModule, assert_parity, make_trainer
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
