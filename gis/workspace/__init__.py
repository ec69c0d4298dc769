"""The workspace: what a notebook holds after ``gis.connect()``; the CLI and the API use the same.

``core`` holds :class:`Workspace` (layers, imports, analyses, exports) and :func:`connect`;
``renovation`` the programme's desks it carries (``ws.programme``, ``ws.evidence``,
``ws.acceptance``, ``ws.findings``, ``ws.report_month``).
"""

from gis.workspace.core import Workspace, connect

__all__ = ["Workspace", "connect"]
