"""The command line every service shares: ``python -m services.X [COMMAND] [--help]``.

Without a command a service runs (``serve``); ``--help`` (or ``-h``) lists its commands and
every setting it reads, with the variable's name, its default and what it means, all taken
from the service's pydantic-settings class (its fields, their aliases and defaults, and the
``#:`` comments above them), so the help cannot drift from the code. An unknown command or
option is an error (exit 2). Nothing is started, and no setting is read, to print help.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
import textwrap
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import AliasChoices, AliasPath
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings


@dataclass(frozen=True)
class Setting:
    """One setting as an operator sets it."""

    names: tuple[str, ...]  # the environment variables, the first one preferred
    default: str  # as written in the environment, or "(required)" / "(computed)"
    doc: str = ""
    choices: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.names[0]


def _env_names(name: str, info: FieldInfo, prefix: str) -> tuple[str, ...]:
    alias: Any = info.validation_alias or info.alias
    if isinstance(alias, str):
        return (alias,)
    if isinstance(alias, AliasChoices):
        return tuple(c for c in alias.choices if isinstance(c, str)) or ((prefix + name).upper(),)
    if isinstance(alias, AliasPath):
        return (str(alias.path[0]),)
    return ((prefix + name).upper(),)


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return "(computed)"
    value = info.default
    if value is PydanticUndefined:
        return "(required)"
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@cache
def _field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment lines right above each field of ``cls`` (its own fields only)."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    source = textwrap.dedent("".join(lines))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    text = source.splitlines()
    found: dict[str, str] = {}
    for node in body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        comment: list[str] = []
        row = node.lineno - 2  # the line above, 0-based
        while row >= 0 and text[row].strip().startswith("#:"):
            comment.insert(0, text[row].strip()[2:].strip())
            row -= 1
        if comment:
            found[node.target.id] = " ".join(comment).replace("``", "")
    return found


def _doc(settings: type[BaseSettings], name: str, info: FieldInfo) -> str:
    if info.description:
        return info.description
    for cls in settings.__mro__:
        if (
            isinstance(cls, type)
            and issubclass(cls, BaseSettings)
            and name in cls.__dict__.get("__annotations__", {})
        ):
            comment = _field_comments(cls).get(name)
            if comment:
                return comment
    return ""


def _choices(info: FieldInfo) -> tuple[str, ...]:
    annotation = info.annotation
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    return ()


def settings_of(settings: type[BaseSettings]) -> list[Setting]:
    """Every setting ``settings`` reads, in the order of its fields."""
    prefix = str(settings.model_config.get("env_prefix") or "")
    return [
        Setting(
            names=_env_names(name, info, prefix),
            default=_default(info),
            doc=_doc(settings, name, info),
            choices=_choices(info),
        )
        for name, info in settings.model_fields.items()
    ]


def describe_settings(settings: type[BaseSettings], width: int = 100) -> str:
    """The settings section of a help text."""
    env_file = settings.model_config.get("env_file")
    where = f"the environment, then {env_file}" if env_file else "the environment"
    lines = [f"settings (read from {where}; the default after '='):"]
    for item in settings_of(settings):
        head = f"  {item.name}={item.default}"
        extra = []
        if len(item.names) > 1:
            extra.append("also " + ", ".join(item.names[1:]))
        if item.choices:
            extra.append("one of " + ", ".join(item.choices))
        doc = "; ".join([*extra, item.doc] if item.doc else extra)
        lines.append(head)
        if doc:
            lines += textwrap.wrap(
                doc, width - 6, initial_indent="      ", subsequent_indent="      "
            )
    return "\n".join(lines)


#: Where the parsed arguments keep the command to run: a name no option takes.
_RUN = "_command_to_run"


@dataclass(frozen=True)
class Command:
    """A subcommand: ``configure`` adds its options to its parser, ``run`` does it."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    configure: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    description: str = ""


@dataclass
class ServiceCli:
    """The command line of one service (``python -m services.<service>``)."""

    service: str
    description: str
    settings: type[BaseSettings]
    serve: Callable[[], None]
    commands: Sequence[Command] = ()
    #: Taken when the first argument is no command: e.g. extract's ``FILE...``.
    fallback: Command | None = None
    #: Says whether an argument that is no command belongs to the fallback.
    fallback_accepts: Callable[[str], bool] = field(default=lambda arg: False)

    @property
    def prog(self) -> str:
        return f"python -m services.{self.service}"

    def _all(self) -> list[Command]:
        serve = Command(
            "serve",
            f"run the {self.service} service (the default without a command)",
            self._serve,
            description=f"Runs the {self.service} service until SIGTERM or Ctrl-C.",
        )
        return [serve, *self.commands, *([self.fallback] if self.fallback else [])]

    def _serve(self, args: argparse.Namespace) -> int:
        self.serve()
        return 0

    def parser(self) -> argparse.ArgumentParser:
        commands = self._all()
        width = max(len(c.name) for c in commands)
        listing = "\n".join(f"  {c.name:<{width}}  {c.help}" for c in commands)
        parser = argparse.ArgumentParser(
            prog=self.prog,
            usage="%(prog)s [-h] [COMMAND [OPTIONS ...]]",
            description=textwrap.fill(self.description, 88),
            epilog=(
                f"commands (`{self.prog} COMMAND --help` for each one's options):\n{listing}\n\n"
                + describe_settings(self.settings)
            ),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        # The commands are listed once, in the epilog; argparse's own listing is hidden.
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS)
        for command in commands:
            child = sub.add_parser(
                command.name,
                prog=f"{self.prog} {command.name}",
                help=command.help,
                description=command.description or command.help,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            command.configure(child)
            child.set_defaults(**{_RUN: command.run})
        return parser

    def main(self, argv: Sequence[str] | None = None) -> int:
        args = list(sys.argv[1:] if argv is None else argv)
        names = {c.name for c in self._all()}
        if (
            self.fallback is not None
            and args
            and args[0] not in names
            and args[0] not in ("-h", "--help")
            and self.fallback_accepts(args[0])
        ):
            args.insert(0, self.fallback.name)
        parsed = self.parser().parse_args(args)
        run: Callable[[argparse.Namespace], int] = getattr(parsed, _RUN, self._serve)
        return run(parsed)
