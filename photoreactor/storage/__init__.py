"""The data path: documents from the RunEngine into the one catalog users search.

:func:`open_catalog` returns a :class:`Catalog` with

* ``writer`` — a RunEngine callback (subscribe it) that stores every document;
* ``client`` — a Tiled client on the same store, for searching and reading;
* ``close()``.

``kind: embedded`` (default) keeps a Tiled catalog in a local directory with no
server; ``kind: tiled`` writes to and reads from a Tiled server URL.
"""

from __future__ import annotations

from .catalog import Catalog, open_catalog

__all__ = ["Catalog", "open_catalog"]
