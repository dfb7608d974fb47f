"""How the `quietshop` commands talk to a person: expected failures in one line each.

A busy port, a missing database, a setting that must be set, or bad input is not a bug:
it gets one line on stderr saying what is wrong and what to do, and exit status 2. Only a
bug shows a traceback (and Typer is told never to show local variables, which could hold
a secret).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from quietshop.errors import EnvironmentProblem, QuietshopError

P = ParamSpec("P")
R = TypeVar("R")

errors = Console(stderr=True, soft_wrap=True)


def one_line(error: BaseException) -> str:
    if isinstance(error, ValidationError):  # a QUIETSHOP_* variable that does not parse
        first = error.errors()[0]
        name = "QUIETSHOP_" + "_".join(str(part) for part in first["loc"]).upper()
        return f"{name}: {first['msg']}"
    return str(error)


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so its expected failures end as one line and exit status 2."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (QuietshopError, EnvironmentProblem, ValidationError) as error:
            for line in one_line(error).splitlines():
                errors.print(f"[red]quietshop:[/red] {escape(line)}", highlight=False)
            raise typer.Exit(2) from None

    return run
