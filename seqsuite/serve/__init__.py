"""``seqsuite serve``: trained runs behind an HTTP JSON API (FastAPI on uvicorn).

Needs the ``serve`` extra (``pip install '.[serve]'`` in the checkout, or the wheel's). :func:`serve` runs the
server; :func:`create_app` builds the application for tests or another ASGI server.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the install
    from ..errors import UserError, install_extra

    raise UserError(
        f"seqsuite serve needs the serve extra ({err.name} is missing): {install_extra('serve')}"
    ) from None

from .app import ServeSettings, create_app  # noqa: E402
from .runs import ServedRun, load_runs  # noqa: E402
from .server import serve  # noqa: E402

__all__ = ["ServeSettings", "ServedRun", "create_app", "load_runs", "serve"]
