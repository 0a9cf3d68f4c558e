"""Imported by ``tlsapi-inject.pth`` when ``TLSAPI_INJECT`` is set: inject once every site directory is known.

``.pth`` files run while ``site`` is still adding directories to ``sys.path``, so tlsapi's dependencies
(``cryptography`` in the system site-packages of a venv, say) may not be importable yet. This module, which
imports nothing, waits for the import of ``sitecustomize`` that ``site`` makes after adding every directory,
and runs :func:`tlsapi._startup.main` then, before ``__main__``.
"""

import sys


class _AfterSite:
    """A meta path finder that finds nothing; it runs the injection at ``site``'s last import."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name in ("sitecustomize", "usercustomize") and _AfterSite in sys.meta_path:
            sys.meta_path.remove(_AfterSite)
            from tlsapi._startup import main

            main()


sys.meta_path.insert(0, _AfterSite)
