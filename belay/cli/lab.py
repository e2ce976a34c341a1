"""``belay lab``: the places of a labgrid lab (``belay lab places``) and freeing one this identity
holds (``belay lab release PLACE``), e.g. after a host died holding it: labgrid keeps an acquired
place acquired until it is released."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from belay.cli.common import EXIT_OK, CliError

if TYPE_CHECKING:
    from belay.container import Container
    from belay.transports.lab_client import LabClient, LabPlace


def _client(container: Container) -> LabClient:
    """labgrid's client, at the coordinator the configuration names (else ``$LG_COORDINATOR``)."""
    from belay.transports import LabOptions
    from belay.transports.lab_client import LabClient, LabSettings

    return LabClient(LabSettings.of(LabOptions.of(container.options())))


def cmd_lab(args: argparse.Namespace, container: Container) -> int:
    import anyio

    client = _client(container)
    if args.lab_command == "release":
        released: list[str]
        if (args.place is None) == (not args.all):
            raise CliError("belay lab release: give a PLACE or --all")
        if args.all:
            released = anyio.run(client.release_held)
        else:
            anyio.run(client.release, args.place)
            released = [args.place]
        sys.stdout.write("".join(f"released labgrid place {place}\n" for place in released))
        if not released:
            sys.stdout.write("this identity holds no labgrid place\n")
    else:
        sys.stdout.write(format_places(anyio.run(client.places)))
    return EXIT_OK


def format_places(places: list[LabPlace]) -> str:
    """The places as a table: name, tags, exporters, holder."""
    rows = [("PLACE", "TAGS", "EXPORTER", "HELD BY")]
    for place in places:
        tags = ",".join(f"{key}={value}" for key, value in place.tags.items()) or "-"
        rows.append((place.name, tags, ",".join(place.exporters) or "-", place.holder or "free"))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = (
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) for row in rows
    )
    return "".join(f"{line}  {row[3]}\n" for line, row in zip(lines, rows, strict=True))


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay lab places`` and ``belay lab release PLACE``."""
    lab = commands.add_parser(name, help="a labgrid lab: list its places, release one (labgrid-client on "
                              "PATH; the coordinator: $LG_COORDINATOR, else [tool.belay.lab])")  # fmt: skip
    verbs = lab.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND")
    verbs.add_parser("places", help="the lab's places: their tags, exporters, and who holds which")
    release = verbs.add_parser("release", help="release a place this identity holds (a dead host's), or all")
    release.add_argument("place", nargs="?", help="the place's name")
    release.add_argument("--all", action="store_true", help="every place this identity holds (a CI job's "
                         "cleanup step, on a runner that runs one job at a time)")  # fmt: skip
    lab.set_defaults(handler=cmd_lab)
