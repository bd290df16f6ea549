"""Parse Meltano command lines with Meltano's own CLI, without running them.

Run by ``tests/cli/test_readme.py`` with the Python of Meltano's environment: it reads a JSON
list of argument lists (each without the leading ``meltano``) on stdin and prints, for
each, either the command path and its parsed parameters, or Click's error message. For
``meltano add`` it also prints the plugin type Meltano gives each name, since a name it
cannot place (``loader`` in ``meltano add loader target-postgres``) becomes a utility
rather than an error.
"""

from __future__ import annotations

import json
import sys
import typing as t
import warnings

import click
from meltano.cli import cli
from meltano.cli.utils import infer_plugin_type


def _plain(value: t.Any) -> t.Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def parse(argv: list[str]) -> dict[str, t.Any]:
    """The command path and parameters of ``meltano <argv>``; Click errors propagate."""
    context = cli.make_context("meltano", list(argv), obj={"project": None})
    command: click.Command = cli
    path = ["meltano"]
    with warnings.catch_warnings():  # Click 8.2 deprecates protected_args, still needed
        warnings.simplefilter("ignore")
        rest = [*context.protected_args, *context.args]
        while isinstance(command, click.Group) and rest:
            name, sub, tail = command.resolve_command(context, rest)
            if sub is None:
                raise click.UsageError(f"no such command {name!r}")
            path.append(sub.name or "")
            context = sub.make_context(sub.name, tail, parent=context)
            command = sub
            rest = [*getattr(context, "protected_args", []), *context.args]
    params = {name: _plain(value) for name, value in context.params.items()}
    result: dict[str, t.Any] = {"path": path, "params": params}
    if path[1:] == ["add"]:
        given = context.params.get("plugin_type")
        result["plugin_types"] = [
            (given or infer_plugin_type(name)).singular for name in context.params["plugin"]
        ]
    return result


def main() -> None:
    answers = []
    for argv in json.load(sys.stdin):
        try:
            answers.append({"argv": argv, "parsed": parse(argv)})
        except click.ClickException as error:
            answers.append({"argv": argv, "error": error.format_message()})
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
