"""The web console: a FastAPI app with server-rendered pages, a JSON API and /metrics.

Started by ``synthgate serve``. It holds no rule of its own: every action
calls the function in :mod:`synthgate.release` that the command line calls.
"""

from synthgate.web._app import CONSOLE_CSP, create_app
from synthgate.web._deps import USER_HEADER, WebConfig

__all__ = ["CONSOLE_CSP", "USER_HEADER", "WebConfig", "create_app"]
