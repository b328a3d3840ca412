"""A kernel lives as long as its page: the kernel manager Voila runs under ``tdw serve``.

Voila gives every page visit a kernel and asks for it back only from the page's
``beforeunload`` beacon, which a crashed or killed tab, a browser that skips unload handlers
or a lost network never sends. Its idle cull is no backstop either: a dashboard whose page
has gone still looks active while its periodic callbacks run. So each kernel holds about
half a gigabyte until the cull, and a few dozen reloads fill a machine.

The server knows better than the page whether a page is there: while a page is open, its
kernel has a websocket connection. :class:`PageKernelManager` counts those (jupyter_server
already does, in ``_kernel_connections``) and shuts down a kernel that has had no open
connection, and no work in progress, for ``page_grace`` seconds. The grace covers a page
that is still loading, and a slow network's reconnect. Kernels waiting in Voila's preheated
pool have never had a page and are left alone, so the pool keeps its size.
"""

from __future__ import annotations

import time

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.ioloop import PeriodicCallback
from traitlets import Float

__all__ = ["PageKernelManager"]


class PageKernelManager(AsyncMappingKernelManager):
    """Shuts down a kernel once no page has been connected to it for ``page_grace`` s."""

    page_grace = Float(30.0, config=True,
                       help="Seconds a kernel lives on with no page connected and no work in "
                       "progress before it is shut down.")
    page_check_interval = Float(5.0, config=True,
                                help="Seconds between two checks for kernels whose page "
                                "has gone.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pageless_since: dict[str, float] = {}
        self._page_checker: PeriodicCallback | None = None

    async def _async_start_kernel(self, *args, **kwargs) -> str:
        kernel_id = await super()._async_start_kernel(*args, **kwargs)
        if self._page_checker is None:  # needs the server's running event loop
            self._page_checker = PeriodicCallback(self.release_pageless,
                                                  1000 * self.page_check_interval)
            self._page_checker.start()
        return kernel_id

    start_kernel = _async_start_kernel

    def _pooled(self) -> set[str]:
        """Kernels waiting in Voila's preheated pool (Voila's subclass of this class keeps
        them in ``_pools``: notebook -> futures of ``{"kernel_id": ...}``)."""
        waiting = set()
        for pool in getattr(self, "_pools", {}).values():
            for future in pool:
                if future.done() and not future.exception():
                    waiting.add(future.result().get("kernel_id"))
        return waiting

    def _watched(self, kernel_id: str) -> bool:
        """A page is connected, or the kernel is working (a page still being rendered)."""
        if self._kernel_connections.get(kernel_id, 0) > 0:
            return True
        kernel = self._kernels.get(kernel_id)
        return kernel is not None and getattr(kernel, "execution_state", "") == "busy"

    async def release_pageless(self) -> None:
        """One check: shut down every kernel whose page has been gone ``page_grace`` s."""
        now = time.monotonic()
        pooled = self._pooled()
        for kernel_id in list(self._kernels):
            if kernel_id in pooled or self._watched(kernel_id):
                self._pageless_since.pop(kernel_id, None)
                continue
            since = self._pageless_since.setdefault(kernel_id, now)
            if now - since < self.page_grace:
                continue
            self._pageless_since.pop(kernel_id, None)
            self.log.info("Releasing kernel %s: no page has been connected for %.0f s",
                          kernel_id, now - since)
            try:
                await ensure_async(self.shutdown_kernel(kernel_id))
            except KeyError:  # shut down meanwhile (the page's own unload beacon)
                pass
        for gone in set(self._pageless_since) - set(self._kernels):
            del self._pageless_since[gone]
