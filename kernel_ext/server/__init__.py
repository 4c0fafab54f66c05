"""taskscope's Jupyter Server extension: the pop-out page, the pool list and websockets.

Enabled by jupyter-config/jupyter_server_config.d/taskscope.json (installed by pip into
<prefix>/etc/jupyter). The entry points live in `taskscope/__init__.py` and import this
package only when a server loads the extension.
"""
from __future__ import annotations

from typing import Any

__all__ = ["load"]


def load(serverapp: Any) -> None:
    """Register the handlers under the server's base_url and start following the registry."""
    from .handlers import handlers
    from .tracker import PoolTracker

    web_app = serverapp.web_app
    tracker = PoolTracker(serverapp.io_loop)
    web_app.settings["taskscope_tracker"] = tracker
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    tracker.start()
    serverapp.log.info("taskscope: server extension loaded (pools from %s)",
                       tracker.runtime_dir or "the Jupyter runtime directory")
