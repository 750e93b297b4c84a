"""Instructor tools: generate exercises, grade submissions, release a student bundle.

Run from the course folder (COURSE §6; the instructor guide is ``docs/instructors.md``)::

    python -m dlcourse.assign build            # solutions/*.ipynb -> exercises/*.ipynb
    python -m dlcourse.assign build --check    # fail if exercises/ is out of date
    python -m dlcourse.assign grade SUBMISSIONS/ --out scores.csv
    python -m dlcourse.assign release OUT/     # lessons + exercises, no solutions

Modules: :mod:`~dlcourse.assign.notebooks` (reading tasks and fences),
:mod:`~dlcourse.assign.build` (the generator), :mod:`~dlcourse.assign.runner`
(executing a notebook with limits), :mod:`~dlcourse.assign.grade` (scores),
:mod:`~dlcourse.assign.release` (the student bundle).
"""

from dlcourse.assign.notebooks import Assignment, AssignmentError, Task, read_assignment

__all__ = ["Assignment", "AssignmentError", "Task", "read_assignment"]
