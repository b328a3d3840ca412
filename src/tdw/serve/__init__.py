"""Serving the dashboards with Voila: no visible code, nothing fetched from the internet, and
a kernel per page that lives as long as the page.

* :mod:`.config`: :class:`ServeConfig`, what is served, where and to whom;
* :mod:`.offline`: the ``tdw_offline`` Voila template and its mirror of Panel's assets;
* :mod:`.kernels`: the kernel manager that gives a kernel back when its page goes;
* :mod:`.server`: the Voila command line and process.

The policy (what holds a kernel, when it is released, the settings) is in docs/serving.md.
"""

from tdw.serve.config import ServeConfig, dashboards_dir, new_token
from tdw.serve.offline import voila_share
from tdw.serve.server import (
    Server,
    check_port_free,
    resident_megabytes,
    serve,
    voila_command,
    voila_env,
)

__all__ = ["ServeConfig", "Server", "check_port_free", "dashboards_dir", "new_token",
           "resident_megabytes", "serve", "voila_command", "voila_env", "voila_share"]
