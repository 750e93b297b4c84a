"""Run every model answer's self-check under many case seeds, as the grader's secret seed would.

    python scripts/sweep_case_seeds.py                  # seeds 0-199, every assignment
    python scripts/sweep_case_seeds.py --seeds 0 1000 --only 09 10

A checker draws its cases from ``case_rng`` (dlcourse.checks.tools), whose seed the grader
replaces with a secret one per submission. A check that fails a right answer for one
seed in a thousand fails a real student now and then: a square matrix taken for a
transposed one, a statistical test with too little margin. This script finds them.
The slow-by-design tasks (7.6, 7.7, 10.4: they train) are left out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from checker_testing import model_answers  # noqa: E402

from dlcourse import checks  # noqa: E402
from dlcourse.assign.notebooks import read_assignment  # noqa: E402
from dlcourse.checks import tools  # noqa: E402

SLOW = {"7.6", "7.7", "10.4"}


def sweep(path: Path, seeds: range) -> list[tuple[str, int, str]]:
    """(task, seed, message) for every seed under which a model answer of ``path`` fails."""
    answers = model_answers(path.stem)
    failures = []
    for task in read_assignment(path).tasks:
        if task.manual or task.task in SLOW:
            continue
        entry = checks.registry(task.task)
        objects = [answers[name] for name in entry.uses]
        start = time.perf_counter()
        for seed in seeds:
            tools._case_seed = seed
            result = checks.check(task.task, *objects, verbose=False)
            if not result.passed:
                failures.append((task.task, seed, result.message))
        print(f"{task.task:>5}: {len(seeds)} seeds in {time.perf_counter() - start:.1f} s")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=(0, 200), metavar=("FROM", "TO"))
    parser.add_argument("--only", nargs="*", default=[], help="assignment numbers, e.g. 09")
    args = parser.parse_args()
    seeds = range(*args.seeds)
    failures = []
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        if not args.only or path.name[:2] in args.only:
            failures += sweep(path, seeds)
    for task, seed, message in failures:
        print(f"FAILED {task} with case seed {seed}: {message}")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
