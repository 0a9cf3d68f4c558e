"""A griffe extension for the docs site: Sphinx roles in docstrings (``:class:`Context```) become code spans.

The docstrings are written for reading in the source and with ``help()``, where the roles are the usual
Python convention; Markdown has no roles, so without this they would show as ``:class:Context``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj|const):`~?([^`]+)`")


class SphinxRolesToCode(griffe.Extension):
    """Rewrite ``:role:`target``` (and ``:role:`~target```) to a Markdown code span of the target."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(r"`\1`", obj.docstring.value)
