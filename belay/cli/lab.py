"""``belay lab``: the places of a labgrid lab (``belay lab places``) and freeing one this identity
holds (``belay lab release PLACE``), e.g. after a host died holding it: labgrid keeps an acquired
place acquired until it is released."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from belay.cli.common import EXIT_OK

if TYPE_CHECKING:
    from belay.container import Container


async def _places() -> str:
    from belay.transports.lab_client import LabClient, LabSettings

    return await LabClient(LabSettings.from_env()).places()


async def _release(place: str) -> None:
    from belay.transports.lab_client import LabClient, LabSettings

    await LabClient(LabSettings.from_env()).release(place)


def cmd_lab(args: argparse.Namespace, container: Container) -> int:
    import anyio

    if args.lab_command == "release":
        anyio.run(_release, args.place)
        sys.stdout.write(f"released labgrid place {args.place}\n")
    else:
        sys.stdout.write(anyio.run(_places))
    return EXIT_OK


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay lab places`` and ``belay lab release PLACE``."""
    lab = commands.add_parser(name, help="a labgrid lab: list its places, release one (labgrid-client on "
                              "PATH, the coordinator at $LG_COORDINATOR)")  # fmt: skip
    verbs = lab.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND")
    verbs.add_parser("places", help="the lab's places, their tags, and who holds which")
    release = verbs.add_parser("release", help="release a place this identity holds (a dead host's)")
    release.add_argument("place", help="the place's name")
    lab.set_defaults(handler=cmd_lab)
