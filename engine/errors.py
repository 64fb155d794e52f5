"""Errors the engine raises, each with a message a worker or process owner can act on.

The web app turns these into pages or JSON in one place; nothing else should leak out.
"""

from __future__ import annotations

from dataclasses import dataclass


class KinflowError(Exception):
    """Base class: ``str(error)`` is a sentence fit to show to a person."""


class NotFound(KinflowError):
    """The case, task or version does not exist (or the actor may not know it does)."""


class TaskNotFound(NotFound):
    pass


class CaseNotFound(NotFound):
    pass


class VersionNotFound(NotFound):
    pass


class NotAllowed(KinflowError):
    """The actor's roles or assignment do not let them do this."""


class TaskNotReady(KinflowError):
    """The task exists but is not waiting for a person (cancelled, or not yet reached)."""


class TaskAlreadyCompleted(TaskNotReady):
    """Someone else completed the task first."""


class ConcurrentChange(KinflowError):
    """The case changed underneath this request; reload and try again."""


class CaseNotActive(KinflowError):
    """The case is completed, cancelled or in error, so nothing more can happen on it."""


class FormInvalid(KinflowError):
    """Submitted data does not match the task's form; ``errors`` maps field path to message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        listed = "; ".join(f"{field}: {message}" for field, message in errors.items())
        super().__init__(f"The form has {len(errors)} problem(s): {listed}")


class SandboxViolation(KinflowError):
    """An expression or script from a diagram tried something the sandbox forbids."""


class ScriptError(KinflowError):
    """An expression or script from a diagram failed while running."""


@dataclass(frozen=True)
class Problem:
    """One reason a document cannot be deployed, located as precisely as we can."""

    file: str
    element: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.element:
            where += f": {self.element}"
        return f"{where}: {self.message}"


class ValidationFailed(KinflowError):
    """A deploy was refused; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
