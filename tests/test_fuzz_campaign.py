"""A fixed-seed fuzz campaign over every public constructor: 0 crashes and 0 unclear errors.

Each of the 1,200 calls replaces one argument of a constructor's valid call (the ``BASE`` table of
``test_hostile_arguments``) by a drawn hostile value: the fixed list there, floats and ints of any
magnitude (huge multipliers, fractions of training next to 0 and 1), and small lists, tuples and
mappings of them. The call passes when what it builds works (finite values at events up to 10**12)
or when it raises ``TypeError``/``ValueError`` naming the argument and repeating the value, at
construction or when used. Any other exception (or a hang) is a crash; a ``TypeError`` or
``ValueError`` that does not name the argument and value is an unclear error.
"""

from __future__ import annotations

import collections
import math
import random
from typing import Any

from test_hostile_arguments import BASE, HOSTILE, arguments_of, check_error_names, exercise, time_limit

CALLS = 1200
SEED = 23


def draw(rng: random.Random, depth: int = 0) -> Any:
    """A hostile value: the fixed list, any magnitude, near-1 multipliers, small containers."""
    k = rng.random()
    if k < 0.3:
        return rng.choice(HOSTILE)
    if k < 0.5:  # log-uniform magnitude, either sign
        v = 10.0 ** rng.uniform(-30, 308)
        return v if rng.random() < 0.7 else -v
    if k < 0.65:  # multipliers and fractions of training next to 1, and huge ones
        return rng.choice(
            [1.0 + 10.0 ** rng.uniform(-12, 0), 1.0 - 10.0 ** rng.uniform(-12, 0), 10.0 ** rng.uniform(0, 30)]
        )
    if k < 0.8:
        return rng.choice(
            [rng.randint(-10, 10), 2 ** rng.randint(0, 80), -(2 ** rng.randint(0, 80)), 10 ** rng.randint(0, 400)]
        )
    if k < 0.9 and depth < 2:
        return [draw(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return rng.choice(
        [(1, 2), (3, 1), {}, {"lr": 1.0}, b"x", "cos", 1j, math.pi, [(0, 1.0), (0, 2.0)], ((5, 1.0), (2, 0.0))]
    )


def run_campaign(seed: int, calls: int) -> tuple[collections.Counter[str], list[str]]:
    """Outcome counts (named, named late, ok, crash, unclear) and a line per failure."""
    rng = random.Random(seed)
    names = sorted(BASE)
    counts: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    for _ in range(calls):
        name = rng.choice(names)
        build, valid = BASE[name]
        argument = rng.choice(arguments_of(build, valid))
        value = draw(rng)
        stage = "construction"
        try:
            with time_limit(10):
                try:
                    built = build(**{**valid, argument: value})
                except (TypeError, ValueError) as error:
                    check_error_names(error, argument, value)
                    counts["named"] += 1
                    continue
                stage = "use"
                try:
                    exercise(built)
                    counts["ok"] += 1
                except (TypeError, ValueError) as error:
                    check_error_names(error, argument, value)
                    counts["named late"] += 1
        except AssertionError as error:
            counts["unclear"] += 1
            failures.append(f"unclear: {name}({argument}={value!r}) at {stage}: {error}")
        except Exception as error:  # every other exception is a crash
            counts["crash"] += 1
            failures.append(f"crash: {name}({argument}={value!r}) at {stage}: {type(error).__name__}: {error}")
    return counts, failures


def test_fixed_seed_campaign_has_no_crash_and_no_unclear_error() -> None:
    counts, failures = run_campaign(SEED, CALLS)
    summary = f"{CALLS} calls: {counts['crash']} crashes, {counts['unclear']} unclear errors; {dict(counts)}"
    print(summary)
    assert sum(counts.values()) == CALLS
    assert not failures, summary + "\n" + "\n".join(failures)
