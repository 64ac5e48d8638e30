"""Embedded or remote Tiled catalogs, and the writer that fills them."""

from __future__ import annotations

import warnings
from pathlib import Path


class Catalog:
    """A Tiled client plus the RunEngine callback that writes into it."""

    def __init__(self, client, writer, location: str, context=None):
        self.client = client
        self.writer = writer
        self.location = location
        self._context = context

    def runs(self):
        """Runs, oldest first, as ``(uid, start, stop)``."""
        for uid, run in self.client.items():
            md = run.metadata
            yield uid, md.get("start", {}), md.get("stop") or {}

    def __getitem__(self, key):
        return self.client[key]

    def close(self) -> None:
        if self._context is not None:
            try:
                self._context.close()
            except Exception:
                pass
            self._context = None

    def __repr__(self) -> str:
        return f"Catalog({self.location})"


def embedded_client(data_dir: Path):
    """A Tiled client on a catalog in ``data_dir`` (created when missing), no server."""
    from tiled.catalog import from_uri
    from tiled.client import Context, from_context
    from tiled.server.app import build_app

    data_dir.mkdir(parents=True, exist_ok=True)
    files = data_dir / "files"
    files.mkdir(exist_ok=True)
    adapter = from_uri(
        f"sqlite:///{data_dir / 'catalog.db'}",
        writable_storage=[f"file://{files}", f"duckdb:///{data_dir / 'tables.duckdb'}"],
        readable_storage=[str(data_dir)],
        init_if_not_exists=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = Context.from_app(build_app(adapter))
    return from_context(context), context


def open_catalog(config: dict, data_dir: Path) -> Catalog:
    """Open the catalog a profile's ``catalog`` section describes."""
    from bluesky.callbacks.tiled_writer import TiledWriter

    if config.get("kind", "embedded") == "embedded":
        client, context = embedded_client(Path(data_dir))
        location = str(data_dir)
    else:
        from tiled.client import from_uri

        client = from_uri(config["uri"], api_key=config.get("api_key"))
        context = None
        location = config["uri"]
    return Catalog(client, TiledWriter(client), location, context)
