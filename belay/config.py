"""belay's configuration: a dict, then a file, then ``BELAY_*`` variables (each over the last).

The file is the first found from the working directory upwards: a ``belay.toml``, or a
``pyproject.toml`` with a ``[tool.belay]`` table. Both hold the same keys::

    [tool.belay]
    call_timeout = 5.0                 # any SessionOptions field
    journal_path = "logs/belay.jsonl"  # relative to the file's directory
    port = "lab"                       # the default port (as $BELAY_PORT)

    [tool.belay.ports]                 # aliases, usable wherever a port is named
    lab = "rfc2217://10.0.0.5:4000"

    [tool.belay.lab]                   # a labgrid lab (the lab_* options)
    coordinator = "lab-host:20408"     # lab_coordinator; $LG_COORDINATOR is over it
    wait = 60                          # lab_wait: seconds to wait for a place

The result is one plain dict, ``{"options": {...}, "ports": {...}, "port": ...}``, which
:func:`belay.container.from_config` hands the container.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from belay.options import ENV_PREFIX, OptionError, SessionOptions, env_name, env_values

FILE_NAME = "belay.toml"
OPTION_NAMES = frozenset(field.name for field in fields(SessionOptions))
LAB_KEYS = {"coordinator": "lab_coordinator", "wait": "lab_wait", "share": "lab_share"}
"""``[tool.belay.lab]``'s keys, and the options they set."""


class ConfigError(ValueError):
    """A configuration that cannot be used; its text names the file or variable and the key."""


def find_config_file(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``belay.toml``, or ``pyproject.toml`` holding ``[tool.belay]``, from ``start``
    (default: the working directory) upwards; ``None`` when there is none."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / FILE_NAME).is_file():
            return folder / FILE_NAME
        pyproject = folder / "pyproject.toml"
        if _mentions_belay(pyproject) and "belay" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def _mentions_belay(pyproject: Path) -> bool:
    """Whether ``pyproject`` may hold ``[tool.belay]``: most projects' do not even name belay,
    and then TOML's parser (~10 ms to import) is not needed."""
    try:
        return b"belay" in pyproject.read_bytes()
    except OSError:
        return False


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The configuration in ``path`` (a ``belay.toml`` or a ``pyproject.toml``), normalised.
    Raises :class:`ConfigError` for a file that is not TOML or holds unknown keys."""
    path = Path(path)
    document = _read_toml(path)
    table = document.get("tool", {}).get("belay", document if path.name == FILE_NAME else {})
    config = normalise(table, str(path))
    journal = config["options"].get("journal_path")
    if isinstance(journal, str) and journal and not Path(journal).is_absolute():
        config["options"]["journal_path"] = str(path.parent / journal)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only where a configuration file may be: most runs read none

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def env_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The configuration ``BELAY_*`` variables give: ``BELAY_CALL_TIMEOUT`` and the other
    option names (and labgrid's ``LG_COORDINATOR``), and ``BELAY_PORT``."""
    env = os.environ if environ is None else environ
    table: dict[str, Any] = dict(env_values(env))
    if env.get(ENV_PREFIX + "PORT"):
        table["port"] = env[ENV_PREFIX + "PORT"]
    return normalise(table, "the environment")


def normalise(table: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``table`` (flat, as in ``[tool.belay]``) split into options, port aliases and the default
    port; ``[lab]``'s keys become ``lab_*`` options. Raises :class:`ConfigError` naming ``source``
    for unknown keys or non-text aliases."""
    unknown = sorted(set(table) - OPTION_NAMES - {"ports", "port", "lab"})
    if unknown:
        raise ConfigError(f"{source}: unknown belay settings: {', '.join(unknown)}")
    ports = table.get("ports", {})
    if not isinstance(ports, Mapping) or not all(isinstance(v, str) for v in ports.values()):
        raise ConfigError(f"{source}: ports must map alias names to port strings")
    config: dict[str, Any] = {"options": {k: v for k, v in table.items() if k in OPTION_NAMES}}
    config["options"].update(_lab_options(table.get("lab", {}), source))
    config["ports"] = dict(ports)
    if table.get("port") is not None:
        config["port"] = str(table["port"])
    return config


def _lab_options(lab: Any, source: str) -> dict[str, Any]:
    """``[lab]``'s values by the options they set; raises :class:`ConfigError` for unknown keys."""
    if not isinstance(lab, Mapping):
        raise ConfigError(f"{source}: lab must be a table (coordinator, wait, share)")
    unknown = sorted(set(lab) - set(LAB_KEYS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown lab settings: {', '.join(unknown)} (known: coordinator, wait, share)"
        )
    return {LAB_KEYS[key]: value for key, value in lab.items()}


def check_options(options: Mapping[str, Any], source: str) -> None:
    """Raise :class:`ConfigError` in one line, naming ``source`` (a file; for the environment,
    the variable), where an option of ``options`` cannot be used."""
    try:
        SessionOptions.from_mapping(options)
    except OptionError as error:
        where = env_name(error.name) if source == "the environment" else source
        raise ConfigError(f"{where}: {error}") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source}: {error}") from None


def merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised configurations combined, each later one over the ones before it."""
    merged: dict[str, Any] = {"options": {}, "ports": {}}
    for layer in layers:
        merged["options"].update(layer.get("options", {}))
        merged["ports"].update(layer.get("ports", {}))
        if layer.get("port") is not None:
            merged["port"] = layer["port"]
    return merged


def load_config(
    values: Mapping[str, Any] | None = None,
    *,
    start: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    use_file: bool = True,
) -> dict[str, Any]:
    """``values`` (flat, as in ``[tool.belay]``), then the file found from ``start`` upwards
    (unless ``use_file`` is false), then the ``BELAY_*`` variables of ``environ``.

    Raises :class:`ConfigError` for an unusable file, key or option value.
    """
    layers = [normalise(values or {}, "the given settings")]
    sources = ["the given settings"]
    found = find_config_file(start) if use_file else None
    if found is not None:
        layers.append(read_config_file(found))
        sources.append(str(found))
    layers.append(env_config(environ))
    sources.append("the environment")
    for layer, source in zip(layers, sources, strict=True):
        check_options(layer["options"], source)
    config = merge(*layers)
    config["file"] = None if found is None else str(found)
    return config


__all__ = [
    "ConfigError",
    "check_options",
    "env_config",
    "find_config_file",
    "load_config",
    "merge",
    "normalise",
    "read_config_file",
]
