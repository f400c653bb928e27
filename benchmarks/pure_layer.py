"""The pure layer, measured: ``simulate`` against plain numpy, ``value(10**12)``, import times.

1. ``simulate`` of 1,000,000 steps against a plain numpy formula of the same shape, written out here
   (the textbook form, no validation; a piecewise shape evaluates each piece on its own slice of
   the sorted steps, as ours does, and one cosine per step), interleaved round after round in one
   process; medians and the ratio ours / numpy.
2. ``value(10**12)`` for every schedule class of the pure layer: median microseconds per call.
3. Import times, in fresh interpreters: ``lightning_schedulers.schedules`` (the pure layer), the
   package itself (lazy), and the package with its first callback (torch and Lightning load).

Run: ``python benchmarks/pure_layer.py`` (about a minute on 2 CPU cores; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from lightning_schedulers import schedules as s
from lightning_schedulers.schedules import presets


def medians(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Run every contender once per round, interleaved; return the median of each."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            samples[name].append(run())
    return {name: statistics.median(values) for name, values in samples.items()}


def timed(fn: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return run


# ------------------------------------------------------------------ 1. simulate against numpy
def simulate_cases(n: int) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    import lightning_schedulers as ls

    w = n // 100

    def np_cosine() -> object:
        t = np.arange(n, dtype=np.float64)
        return 0.001 + (0.1 - 0.001) * (1 + np.cos(np.pi * t / n)) / 2

    def np_cyclical() -> object:
        t = np.arange(n, dtype=np.float64)
        e = t % (n // 4)
        return 0.1 + ((0.001 - 0.1) / 2) * (1 - np.cos(np.pi * e / (n // 4)))

    def np_warmup_cosine() -> object:
        # Each phase's formula on its own steps (a sorted axis splits into slices): no branch is
        # evaluated where it is not taken.
        t = np.arange(n, dtype=np.float64)
        out = np.empty(n)
        out[:w] = 0.1 * (t[:w] / w)
        out[w:] = 0.1 * (0.5 * (1 + np.cos(np.pi * (t[w:] - w) / (n - w))))
        return out

    def one_cycle(t: np.ndarray, start: float, peak: float, end: float) -> np.ndarray:
        # torch's two phases, each annealed with torch's cosine on its own steps, as above.
        up = 0.3 * n - 1
        k = int(up) + 1  # the steps <= up
        out = np.empty(n)
        out[:k] = peak + (start - peak) / 2 * (np.cos(np.pi * (t[:k] / up)) + 1)
        out[k:] = end + (peak - end) / 2 * (np.cos(np.pi * ((t[k:] - up) / (n - 1 - up))) + 1)
        return out

    def np_one_cycle() -> object:
        return one_cycle(np.arange(n, dtype=np.float64), 0.004, 0.1, 4e-7)

    def np_one_cycle_momentum() -> object:
        t = np.arange(n, dtype=np.float64)
        return np.stack([one_cycle(t, 0.004, 0.1, 4e-7), one_cycle(t, 0.95, 0.85, 0.95)], axis=1)

    def np_step() -> object:
        t = np.arange(n, dtype=np.float64)
        return 0.1 * 0.5 ** np.floor(t / (n // 10))

    cosine = ls.ScheduleCallback(s.Cosine(0.1, 0.001, n))
    cyclical = ls.CosineAnnealingScheduler("lr", 0.1, 0.001, cycle_size=n // 4)
    warmup = ls.WarmupCosineLR(warmup_steps=w, total_steps=n)
    one_cycle_lr = ls.OneCycleLR(max_lr=0.1, total_steps=n, cycle_momentum=False)
    one_cycle_both = ls.OneCycleLR(max_lr=0.1, total_steps=n)  # lr and momentum: shape (n, 2)
    step = ls.StepLR(step_size=n // 10, gamma=0.5, interval="step")
    return {
        "cosine (ScheduleCallback)": (lambda: cosine.simulate(n), np_cosine),
        "ignite cosine cycles": (lambda: cyclical.simulate(n), np_cyclical),
        "warmup-cosine (WarmupCosineLR)": (lambda: warmup.simulate(n, initial=0.1), np_warmup_cosine),
        "OneCycleLR": (lambda: one_cycle_lr.simulate(n), np_one_cycle),
        "OneCycleLR (lr and momentum)": (lambda: one_cycle_both.simulate(n), np_one_cycle_momentum),
        "StepLR": (lambda: step.simulate(n, initial=0.1), np_step),
    }


def bench_simulate(n: int, rounds: int) -> list[tuple[str, float, float]]:
    rows = []
    for name, (ours, plain) in simulate_cases(n).items():
        result = medians({"ours": timed(ours), "numpy": timed(plain)}, rounds)
        rows.append((name, result["ours"] * 1e9 / n, result["numpy"] * 1e9 / n))
    return rows


# ------------------------------------------------------------------ 2. value(10**12)
CATALOGUE: dict[str, s.Schedule] = {
    "Constant": s.Constant(0.3),
    "Linear": s.Linear(0.0, 1.0, 1000),
    "Cosine": s.Cosine(1.0, 0.0, 10**6),
    "Cosine(periodic=True)": s.Cosine(1.0, 0.0, 1000, periodic=True),
    "Exponential": s.Exponential(1.0, 0.999, steps=10),
    "Step": s.Step(1.0, 0.5, 1000),
    "MultiStep": s.MultiStep(1.0, 0.5, (10, 100, 1000)),
    "Polynomial": s.Polynomial(1.0, 0.0, 1000, power=2.0),
    "PowerRamp": s.PowerRamp(1.0, 0.0, 1000, power=0.5),
    "InverseSqrt": s.InverseSqrt(1.0, warmup_steps=4000),
    "PiecewiseLinear": s.PiecewiseLinear([(0, 0.0), (100, 1.0), (1000, 0.1)]),
    "Join (warmup, cosine)": s.join([s.Linear(0.0, 1.0, 100), s.Cosine(1.0, 0.0, 10**6)], boundaries=[100]),
    "Product": s.Product((s.Cosine(1.0, 0.0, 1000), s.Exponential(1.0, 0.99))),
    "Scale": s.Scale(s.Linear(0.0, 1.0, 10), 0.1),
    "Clamp": s.Clamp(s.Linear(-1.0, 2.0, 30), lower=0.0, upper=1.0),
    "Shift": s.Shift(s.Cosine(1.0, 0.0, 50), 7),
    "Lambda (a user function)": s.Lambda(math.sqrt),
    "Space (linspace)": s.linspace(0.1, 1.0, 1000),
    "CosineRestarts(mult=2)": s.CosineRestarts(1.0, 0.0, period=10, mult=2),
    "Cyclic(exp_range)": s.Cyclic(0.1, 1.0, 2000, 2000, mode="exp_range", gamma=0.99999),
    "OneCycle": s.OneCycle(0.004, 0.1, 4e-7, total_steps=10**6),
    "CosineCycles(cycle_mult=1.5)": s.CosineCycles(
        1.0, 0.0, cycle_steps=100, cycle_mult=1.5, cycle_decay=0.9, cycle_limit=50
    ),
    "CyclicalAnneal(start_value_mult=0.9)": s.CyclicalAnneal(
        "cosine", 0.1, 0.001, cycle_size=100, start_value_mult=0.9
    ),
    "CyclicalAnneal(cycle_mult=1.5)": s.CyclicalAnneal("cosine", 0.1, 0.001, cycle_size=100, cycle_mult=1.5),
    "warmup_cosine preset": presets.warmup_cosine(1.0, total_steps=10**6, warmup_steps=1000),
}


def bench_far_value(calls: int) -> list[tuple[str, float]]:
    rows = []
    for label, schedule in CATALOGUE.items():
        schedule.value(10**12)  # a table a schedule keeps is built once
        samples = []
        for _ in range(calls):
            start = time.perf_counter()
            schedule.value(10**12)
            samples.append(time.perf_counter() - start)
        rows.append((label, statistics.median(samples) * 1e6))
    return rows


# ------------------------------------------------------------------ 3. import times
IMPORTS = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import lightning_schedulers.schedules": "import lightning_schedulers.schedules",
    "import lightning_schedulers (lazy)": "import lightning_schedulers",
    "python -m lightning_schedulers --help": None,
    "lightning_schedulers.StepLR (torch + Lightning)": "import lightning_schedulers; lightning_schedulers.StepLR",
}


def bench_imports(rounds: int) -> dict[str, float]:
    def command(code: str | None) -> list[str]:
        if code is None:
            return [sys.executable, "-m", "lightning_schedulers", "--help"]
        return [sys.executable, "-c", code]

    def run(code: str | None) -> Callable[[], float]:
        return timed(lambda: subprocess.run(command(code), check=True, capture_output=True))

    return medians({name: run(code) for name, code in IMPORTS.items()}, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    q = parser.parse_args().quick
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    n = 100_000 if q else 1_000_000
    print(f"\n1. simulate({n:,}) against a plain numpy formula of the same shape (ns per step, median)")
    print("| schedule | ours | numpy | ours / numpy |")
    print("|---|---|---|---|")
    for name, ours, plain in bench_simulate(n, rounds=3 if q else 9):
        print(f"| {name} | {ours:.1f} | {plain:.1f} | {ours / plain:.2f} |")

    print("\n2. value(10**12) per schedule class (microseconds per call, median)")
    print("| schedule | us |")
    print("|---|---|")
    for name, us in bench_far_value(calls=50 if q else 500):
        print(f"| `{name}` | {us:.1f} |")

    print("\n3. import times in a fresh interpreter (milliseconds, median)")
    print("| what | ms |")
    print("|---|---|")
    for name, seconds in bench_imports(rounds=3 if q else 7).items():
        print(f"| {name} | {seconds * 1e3:.0f} |")


if __name__ == "__main__":
    main()
