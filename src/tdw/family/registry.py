"""The family registry: every family comes through the ``tdw.families`` entry-point group.

Each entry point names a :class:`~tdw.family.family.Family` object. The built-ins (the
folders of ``families/``, installed as ``tdw.families.<name>``) are entry points of tdw
itself, written by packaging for every folder; other packages add theirs the same way.
Built-ins load first, and nothing can replace a registered family: a name clash is an
error that names both origins.

>>> from tdw.family.registry import get_family
>>> get_family("modulo_addition_1l").title
'Modulo Addition 1-Layer'
"""

from __future__ import annotations

from importlib.metadata import entry_points

from tdw.errors import TdwError, UnknownNameError
from tdw.family.family import Family

__all__ = ["register", "get_family", "families", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "tdw.families"

_REGISTRY: dict[str, Family] = {}
_ORIGIN: dict[str, str] = {}
_loaded = False


def register(family: Family, *, origin: str = "python") -> Family:
    """Add ``family`` to the registry; a second family with the same name is refused."""
    if not isinstance(family, Family):
        raise TdwError(f"{origin}: register() needs a tdw.Family, got {type(family).__name__}")
    if family.name in _REGISTRY and _REGISTRY[family.name] is not family:
        raise TdwError(
            f"family {family.name!r} from {origin} clashes with the one from "
            f"{_ORIGIN[family.name]}; rename the new family"
        )
    _REGISTRY[family.name] = family
    _ORIGIN[family.name] = origin
    return family


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    points = sorted(entry_points(group=ENTRY_POINT_GROUP),
                    key=lambda ep: (not _builtin(ep.value), ep.name))
    for ep in points:
        origin = (f"built-in {ep.value}" if _builtin(ep.value) else f"entry point {ep.value}")
        try:
            family = ep.load()
        except Exception as exc:
            raise TdwError(f"family {ep.name!r} ({origin}) failed to load: {exc}") from exc
        register(family, origin=origin)


def _builtin(value: str) -> bool:
    return value.startswith("tdw.families.")


def families() -> dict[str, Family]:
    """Every registered family by name, built-ins first."""
    _load()
    return dict(_REGISTRY)


def get_family(name: str) -> Family:
    """The family called ``name``; an unknown name lists the known ones."""
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("family", name, list(_REGISTRY)) from None
