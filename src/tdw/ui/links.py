"""Deep links: a dashboard URL names what the page opens, and the page keeps its URL in step.

Voila gives a page's kernel its URL's query string (``QUERY_STRING``; a preheated kernel
gets it when the visit arrives, see :func:`~tdw.ui.visit.wait_for_visit`). :class:`Link`
reads it::

    workbench.ipynb?tab=Explore&variant=p59&epoch=1500
    workbench.ipynb?tab=Compare&variants=p59-ms1,p59-ms2&align=transition
    workbench.ipynb?tab=Compare&variants=p59-ms1,p59-ms2,p59-ms3&pool=model_seed&band=iqr
    explore.ipynb?variant=p59&epoch=1500

and the pages open that state. A value the page cannot honour (an unknown variant, an epoch
with no checkpoint) is named in a notice on the page, which then opens the nearest thing it
can. :class:`Address` writes the state back into the page's URL (``history.replaceState``,
no reload) as it changes, so a copied address reopens the same view. It writes only on a
Voila page: in JupyterLab the address belongs to Lab.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import param
from panel.custom import AnyWidgetComponent

__all__ = ["Link", "Address", "LINK_KEYS"]

LINK_KEYS = ("tab", "variant", "variants", "epoch", "align", "pool", "band")
"""The query parameters a link may carry, in the order an address writes them."""

_NO_POOL = "none"  # a link's pool of no parameter: every variant its own group
_IGNORED = ("token",)  # Jupyter's own: the server reads it, the page does not


@dataclass(frozen=True)
class Link:
    """What a dashboard URL asks the page to open; every field is optional.

    Attributes:
        tab: the workbench tab (Explore, Compare, Variants, Train, Analyze, Sweeps, or a
            family page's name such as init-gradients).
        variant: the variant Explore opens (an id or a unique prefix).
        variants: the variants Compare opens (ids or prefixes).
        epoch: the checkpoint Explore opens, or Compare's first variant.
        align: Compare's alignment ("epoch" or "transition").
        pool: the parameters Compare's groups pool over (the link opens groups); empty
            for none (``pool=none`` in the query).
        band: the groups' band ("minmax" or "iqr").
        problems: what in the query could not be read, one sentence each (the page shows
            them; the fields then hold only what could be).
    """

    tab: str | None = None
    variant: str | None = None
    variants: tuple[str, ...] = ()
    epoch: int | None = None
    align: str | None = None
    pool: tuple[str, ...] | None = None
    band: str | None = None
    problems: tuple[str, ...] = ()

    @classmethod
    def parse(cls, query: str | None) -> Link:
        """The link of a URL query string (with or without its leading ``?``).

        >>> link = Link.parse("?tab=Explore&variant=p59&epoch=1500")
        >>> link.tab, link.variant, link.epoch, link.variants, link.pool, link.problems
        ('Explore', 'p59', 1500, (), None, ())
        >>> Link.parse("variants=a,b,c&pool=none").pool, Link.parse("pool=model_seed").pool
        ((), ('model_seed',))
        >>> Link.parse("epoch=late").problems
        ("the link's epoch 'late' is not a whole number (e.g. epoch=1500)",)
        """
        fields: dict[str, Any] = {}
        problems = []
        for key, value in parse_qsl((query or "").lstrip("?"), keep_blank_values=True):
            value = value.strip()
            if key in _IGNORED or not value:
                continue
            if key not in LINK_KEYS:
                problems.append(f"the link's {key!r} is not one tdw reads; a link takes "
                                f"{', '.join(LINK_KEYS)}")
            elif key == "epoch":
                try:
                    fields["epoch"] = int(value)
                except ValueError:
                    problems.append(f"the link's epoch {value!r} is not a whole number "
                                    "(e.g. epoch=1500)")
            elif key == "variants":
                fields["variants"] = tuple(v.strip() for v in value.split(",") if v.strip())
            elif key == "pool":
                fields["pool"] = () if value == _NO_POOL else tuple(
                    v.strip() for v in value.split(",") if v.strip())
            else:
                fields[key] = value
        return cls(**fields, problems=tuple(problems))

    def query(self) -> str:
        """The query string of this link (no ``?``; empty for an empty link).

        >>> Link(tab="Compare", variants=("fam/a", "fam/b"), align="transition").query()
        'tab=Compare&variants=fam/a,fam/b&align=transition'
        """
        pairs = []
        for key in LINK_KEYS:
            value = getattr(self, key)
            if key == "variants":
                value = ",".join(value) or None
            elif key == "pool" and value is not None:
                value = ",".join(value) or _NO_POOL
            if value is not None:
                pairs.append((key, str(value)))
        return urlencode(pairs, safe="/,")  # ids keep their '/', lists their ','

    def with_(self, **changes: Any) -> Link:
        """A copy with ``changes`` (and no problems: those belonged to the URL read)."""
        return replace(self, **changes, problems=())


class Address(AnyWidgetComponent):
    """Keeps the page's address in step with ``query`` (no reload, no history entry).

    The link's parameters (:data:`LINK_KEYS`) in the address are replaced by ``query``'s;
    any other parameter of the address (Jupyter's token) is kept. Renders nothing.
    """

    _esm = Path(__file__).with_name("links.js")

    query = param.String(default="", doc="The query string the address should carry.")

    keys = param.List(default=list(LINK_KEYS), item_type=str, doc="""
        The parameters the address takes from query (the others stay as they are).""")

    def __init__(self, **params: Any) -> None:
        params.setdefault("height", 0)
        params.setdefault("width", 0)
        params.setdefault("margin", 0)
        super().__init__(**params)
