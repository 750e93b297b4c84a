"""Command line: ``python -m dlcourse.assign {build,grade,release} ...`` (see ``--help``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlcourse.assign.notebooks import AssignmentError


def _build(args: argparse.Namespace) -> int:
    from dlcourse.assign.build import build, points_table, update_points_section

    results, orphans = build(args.solutions, args.exercises, check=True)
    if args.points:
        table = points_table([r.assignment for r in results])
        if args.docs is None:
            print(table)
            return 0
        text = args.docs.read_text(encoding="utf-8")
        updated = update_points_section(text, table)
        if args.check:
            if updated != text:
                print(f"stale: the points table in {args.docs}; rerun without --check")
                return 1
            return 0
        args.docs.write_text(updated, encoding="utf-8")
        print(f"updated the points table in {args.docs}")
        return 0
    if not args.check:
        results, orphans = build(args.solutions, args.exercises)
    stale = [r for r in results if r.changed]
    if args.check:
        for r in stale:
            print(f"stale: {r.target} differs from what {r.assignment.path} generates")
        for orphan in orphans:
            print(f"stale: {orphan} has no solutions notebook")
        if stale or orphans:
            print("run: python -m dlcourse.assign build", file=sys.stderr)
            return 1
        print(f"exercises are up to date ({len(results)} assignments)")
        return 0
    for r in results:
        print(f"{'wrote' if r.changed else 'unchanged'}: {r.target}")
    for orphan in orphans:
        print(f"removed: {orphan} (no solutions notebook)")
    return 0


def _report(scores: Path, rows: list[dict[str, str]]) -> int:
    """Gradebook, manual sheet and feedback next to ``scores``; problems printed loudly."""
    from dlcourse.assign.gradebook import ManualScoreError, write_report

    try:
        alarms = write_report(scores, rows)
    except ManualScoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    folder = scores.parent
    print(f"gradebook: {folder / 'gradebook.csv'}; feedback: {folder / 'feedback'}/")
    print(f"manual scores: fill in {folder / 'manual.csv'}, then run: merge {scores}")
    for alarm in alarms:
        print(f"!! {alarm}")
    return 1 if alarms else 0


def _merge(args: argparse.Namespace) -> int:
    from dlcourse.assign.gradebook import read_csv

    return _report(args.scores, read_csv(args.scores))


def _grade(args: argparse.Namespace) -> int:
    from dlcourse.assign.grade import csv_rows, grade_folder, print_summary, write_csv
    from dlcourse.assign.runner import Limits
    from dlcourse.assign.sandbox import SandboxUnavailable

    limits = Limits(
        timeout=args.timeout,
        cell_timeout=args.cell_timeout or args.timeout,
        memory_mb=args.memory_mb,
        max_output_mb=args.max_output_mb,
        task_timeout=args.task_timeout,
        file_mb=args.file_mb,
        processes=args.processes,
    )
    try:
        grades = grade_folder(
            args.submissions, args.solutions, limits, print, jobs=args.jobs, sandbox=args.sandbox
        )
    except SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_csv(grades, args.out)
    print_summary(grades)
    print(f"scores written to {args.out}")
    return _report(args.out, csv_rows(grades))


def _release(args: argparse.Namespace) -> int:
    from dlcourse.assign.release import find_overlaps, overlap_report, release

    files = release(
        args.out, root=args.root, solutions=args.solutions, force=args.force, through=args.through
    )
    solutions = args.solutions if args.solutions is not None else args.root / "solutions"
    which = "all lessons" if args.through is None else f"lessons up to {args.through:02d}"
    print(f"student bundle written to {args.out} ({which}, {len(files)} files, no solutions)")
    print(overlap_report(find_overlaps(args.out, solutions)))
    return 0


def parser() -> argparse.ArgumentParser:
    import dlcourse.assign

    main = argparse.ArgumentParser(
        prog="python -m dlcourse.assign",
        description=dlcourse.assign.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = main.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="generate exercises/ from solutions/")
    b.add_argument("--solutions", type=Path, default=Path("solutions"))
    b.add_argument("--exercises", type=Path, default=Path("exercises"))
    b.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    b.add_argument("--points", action="store_true", help="print the points table, build nothing")
    b.add_argument("--docs", type=Path, default=None, help="with --points: update this file")
    b.set_defaults(run=_build)

    g = sub.add_parser("grade", help="grade a folder of submitted notebooks")
    g.add_argument("submissions", type=Path, help="folder searched for *.ipynb (recursively)")
    g.add_argument(
        "--solutions", type=Path, default=Path("solutions"), help="tasks, points, hidden tests"
    )
    g.add_argument("--out", type=Path, default=Path("scores.csv"), help="the CSV to write")
    g.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    g.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell")
    g.add_argument(
        "--task-timeout", type=float, default=60, help="seconds to judge one task (own process)"
    )
    g.add_argument("--memory-mb", type=int, default=4096, help="address-space limit (Linux)")
    g.add_argument("--file-mb", type=int, default=1024, help="largest file a kernel may write")
    g.add_argument(
        "--processes", type=int, default=256, help="processes and threads per sandboxed kernel"
    )
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at once")
    g.add_argument("--max-output-mb", type=float, default=5.0, help="output kept per cell")
    sealing = g.add_mutually_exclusive_group()
    sealing.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="require the bubblewrap sandbox (default: use it where it works, else warn)",
    )
    sealing.add_argument(
        "--no-sandbox",
        dest="sandbox",
        action="store_false",
        help="grade without a sandbox (refused as root): only for submissions you trust",
    )
    g.set_defaults(run=_grade)

    m = sub.add_parser(
        "merge", help="rebuild gradebook and feedback from scores.csv and manual.csv (no regrading)"
    )
    m.add_argument("scores", type=Path, help="the per-task CSV a grade run wrote")
    m.set_defaults(run=_merge)

    r = sub.add_parser("release", help="write the student bundle (no solutions)")
    r.add_argument("out", type=Path)
    r.add_argument("--root", type=Path, default=Path("."), help="the course folder")
    r.add_argument("--solutions", type=Path, default=None, help="default: ROOT/solutions")
    r.add_argument("--force", action="store_true", help="replace OUT if it exists")
    r.add_argument(
        "--through",
        type=int,
        default=None,
        metavar="NN",
        help="the last lesson to include (lessons and exercises 00…NN); default: all",
    )
    r.set_defaults(run=_release)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except AssignmentError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
