"""The start-up switch: run (through ``_tlsapi_startup``) by ``tlsapi-inject.pth`` when ``TLSAPI_INJECT`` is
set, after ``site`` has set up ``sys.path`` and before ``__main__``.

``TLSAPI_INJECT=NAME`` injects backend ``NAME`` into ``ssl`` (:func:`tlsapi.inject_into_ssl`) for the whole
interpreter, so an unmodified program runs on that engine. A name that selection cannot use stops the
interpreter at once, exit status 3, with the error on stderr: a process never silently keeps OpenSSL.
The ``.pth`` line reads only the environment when the variable is unset, so the hook costs nothing then.
"""

from __future__ import annotations

import os
import sys

from ._errors import BackendError
from ._inject import inject_into_ssl
from ._registry import ENV_INJECT, ConfigurationError, resolve

EXIT_SELECTION_ERROR = 3


def main() -> None:
    """Inject the backend ``TLSAPI_INJECT`` names, or end the process with the selection error."""
    name = os.environ.get(ENV_INJECT, "")
    if not name.strip():
        return
    try:
        inject_into_ssl(resolve(name, ENV_INJECT))
    except (BackendError, ConfigurationError) as exc:
        sys.stderr.write(f"tlsapi: {exc}\n")
        sys.stderr.flush()
        os._exit(EXIT_SELECTION_ERROR)  # from a .pth, SystemExit would become a "Fatal Python error"

