"""What a dashboard notebook does before it reads the store: wait for its visitor.

Under ``tdw serve``, Voila keeps a kernel preheated: it runs the dashboard notebook ahead of
any visit, so a page opens in seconds. A notebook that read the store then would show the
store as it was when the kernel was heated, maybe an hour earlier. So a dashboard imports
what it needs (the costly part), calls :func:`wait_for_visit`, and only then builds its page
from the store as it is now, and from the visit's URL (a :class:`~tdw.ui.links.Link`).
Outside a preheated Voila kernel (JupyterLab, papermill, a kernel Voila starts for the
visit) the call returns at once.
"""

from __future__ import annotations

import os

from tdw.ui.links import Link

__all__ = ["wait_for_visit"]


def wait_for_visit() -> Link:
    """Block a preheated Voila kernel until a page asks for it; return at once elsewhere.

    Returns the link the page's URL carries (``?tab=Explore&variant=p59&epoch=1500``); an
    empty link outside Voila.
    """
    from voila.utils import wait_for_request

    wait_for_request()  # returns at once unless Voila set VOILA_PREHEAT for this kernel
    return Link.parse(os.environ.get("QUERY_STRING", ""))
