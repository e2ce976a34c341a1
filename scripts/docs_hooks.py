"""MkDocs hooks: the pages that are made from the code, so that they cannot drift from it.

``<!-- belay:cli-reference -->`` in a page becomes every ``belay`` command's help, read from the
parsers the command line itself builds (``belay.cli.COMMANDS``, in ``belay --help``'s order,
with the sub-commands of ``fs`` and ``lab``). ``<!-- belay:api-reference -->`` becomes one
mkdocstrings block per public name (``belay.__all__``, grouped by the module that defines it),
so a name added to the public surface is documented by the next build.

``mkdocs.yml`` names this file under ``hooks:``; ``tests/docs/test_reference.py`` renders both.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

CLI_MARKER = "<!-- belay:cli-reference -->"
API_MARKER = "<!-- belay:api-reference -->"
HELP_WIDTH = "78"

# The public names by what they are for; every name of ``belay.__all__`` falls in one group.
API_GROUPS: dict[str, tuple[str, ...]] = {
    "Blocking sessions: `belay.connect`": ("belay.blocking",),
    "Sessions and their manager": (
        "belay.session.manager",
        "belay.session.session",
        "belay.session.functions.tasks",
        "belay.session.tracker",
        "belay.session.state",
        "belay.session.records",
    ),
    "One board: `Device`": ("belay.device", "belay.board_info"),
    "Options": ("belay.options",),
    "Errors": ("belay.errors",),
}

# Classes whose public-by-name methods include the machinery the manager and the blocking layer
# call (begin, mark_lost, run_value, ...): their reference lists what a user calls.
MEMBERS: dict[str, tuple[str, ...]] = {
    "DeviceSession": (
        "port",
        "session_id",
        "created_at",
        "state",
        "is_active",
        "capabilities",
        "device_info",
        "resources",
        "fs",
        "exec",
        "eval",
        "task",
        "thread",
        "setup",
        "teardown",
        "timer",
        "proxy",
        "output",
        "board_stats",
    ),
    "BlockingSession": ("exec", "eval", "proxy", "task", "thread", "setup", "teardown", "timer", "close"),
}

# Sphinx roles the docstrings use (:class:`~belay.X`): shown as the code they name.
ROLE = re.compile(r":(?:class|meth|func|mod|data|attr|exc|obj):\s*(<code>)~?")


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _commands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``parser``'s sub-commands as (name, one-line help, parser), aliases left out."""
    sub = _subparsers(parser)
    if sub is None:
        return []
    return [(choice.dest, choice.help or "", sub.choices[choice.dest]) for choice in sub._choices_actions]


def _help(parser: argparse.ArgumentParser) -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH  # the same text whatever terminal builds the site
    try:
        return parser.format_help().rstrip()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def _aliases(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    sub = _subparsers(parser)
    found: dict[str, list[str]] = {}
    if sub is not None:
        for name, each in sub.choices.items():
            found.setdefault(each.prog.rsplit(" ", 1)[-1], [])
            if each.prog.rsplit(" ", 1)[-1] != name:
                found[each.prog.rsplit(" ", 1)[-1]].append(name)
    return found


def cli_reference() -> str:
    """Markdown for every ``belay`` command: a heading, its one line, its ``--help``."""
    from belay.cli import build_parser

    parser = build_parser()
    aliases = _aliases(parser)
    out = ["## `belay`", "", "```text", _help(parser), "```", ""]
    for name, summary, command in _commands(parser):
        out += [f"## `belay {name}`", "", f"{summary[:1].upper()}{summary[1:]}."]
        if aliases.get(name):
            out += ["", "Also spelled " + ", ".join(f"`belay {alias}`" for alias in aliases[name]) + "."]
        out += ["", "```text", _help(command), "```", ""]
        for verb, verb_summary, verb_parser in _commands(command):
            out += [f"### `belay {name} {verb}`", "", f"{verb_summary[:1].upper()}{verb_summary[1:]}."]
            out += ["", "```text", _help(verb_parser), "```", ""]
    return "\n".join(out)


def api_reference() -> str:
    """Markdown with one mkdocstrings block per name of ``belay.__all__``, by group."""
    import belay

    by_module = belay._PUBLIC
    grouped = {module for modules in API_GROUPS.values() for module in modules}
    missing = set(by_module) - grouped
    if missing:
        raise RuntimeError(f"docs_hooks.API_GROUPS has no group for {sorted(missing)}")
    out: list[str] = []
    for title, modules in API_GROUPS.items():
        out += [f"## {title}", ""]
        for module in modules:
            for name in by_module[module]:
                out += [f"::: {module}.{name}", "    options:", "      heading_level: 3"]
                if name in MEMBERS:
                    out += ["      members:", *(f"        - {member}" for member in MEMBERS[name])]
                out.append("")
    return "\n".join(out)


def on_page_content(html: str, **kwargs: Any) -> str:
    """The MkDocs hook: a Sphinx role before inline code is dropped (the code stays)."""
    return ROLE.sub(r"\1", html)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """The MkDocs hook: the markers replaced by what the code says today."""
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    if API_MARKER in markdown:
        markdown = markdown.replace(API_MARKER, api_reference())
    return markdown
