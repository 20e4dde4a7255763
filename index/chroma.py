"""Where the vectors live: the embedded Chroma store under the data dir, or a Chroma server (`chroma_url`).

Only the vectors move to a server; the catalog and its lexical index stay in SQLite under the data dir. A server
collection is named after the index shape plus the catalog's id, so two data dirs never share (and never delete
from) each other's collection on one server.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from assistant.errors import ConfigError, IndexStoreError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from assistant.settings import Settings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

CHROMA_DEFAULT_PORT = 8000
# One client per server and token for the life of the process (every command and test reuses its connections).
_SERVER_CLIENTS: dict[tuple[str, str], ClientAPI] = {}


def vector_store(settings: Settings) -> str:
    """Name where the vectors of `settings` live, for messages and the catalog."""
    return (
        settings.chroma_url.rstrip("/")
        if settings.chroma_url
        else f"the embedded store {Path(settings.home) / 'chroma'}"
    )


def open_collection(settings: Settings, name: str, embedder_id: str, catalog_id: str) -> Collection:
    """Open (or create) the collection `name` with our embeddings only, never Chroma's own embedding function."""
    client = _client(settings)
    if settings.chroma_url:
        name = f"{name}-{catalog_id[:12]}"
    where = vector_store(settings)
    try:
        # One line, so that a grep for collections opened without our embedding function sees it.
        collection = client.get_or_create_collection(name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}, metadata={"embedder": embedder_id})  # fmt: skip  # noqa: E501
    except Exception as exc:  # chromadb raises many types for a damaged or foreign store, or a failing server
        raise IndexStoreError(f"cannot open the collection {name} in {where}: {_first_line(exc)}") from exc
    held = (collection.metadata or {}).get("embedder")
    if held and held != embedder_id:
        raise IndexStoreError(f"the collection {name} in {where} holds vectors of embedder {held}, not {embedder_id}")
    return cast("Collection", _ServerCollection(collection, where)) if settings.chroma_url else collection


def _client(settings: Settings) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not settings.chroma_url:
        try:
            return chromadb.PersistentClient(path=str(Path(settings.home) / "chroma"), settings=chroma_settings)
        except Exception as exc:  # a damaged or foreign store
            raise IndexStoreError(f"cannot open the vector store under {settings.home}: {_first_line(exc)}") from exc
    url = settings.chroma_url
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"chroma_url '{url}' is not http(s)://HOST[:PORT]")
    token = settings.chroma_token.get_secret_value() if settings.chroma_token else ""
    if (url, token) in _SERVER_CLIENTS:
        return _SERVER_CLIENTS[url, token]
    try:
        client = chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else CHROMA_DEFAULT_PORT),
            ssl=parts.scheme == "https",
            headers={"Authorization": f"Bearer {token}"} if token else None,
            settings=chroma_settings,
        )
    except Exception as exc:  # chromadb checks the server on connect and raises ValueError and others
        raise IndexStoreError(
            f"cannot use the Chroma server at {url} ({_first_line(exc)}): start it "
            "(`chroma run --path DIR --host HOST --port PORT`) or fix --chroma-url / ASSISTANT_CHROMA_URL"
        ) from exc
    _SERVER_CLIENTS[url, token] = client
    return client


@atexit.register
def _close_server_clients() -> None:
    """Close the HTTP sessions of server clients: chromadb never does, and their sockets would leak at exit."""
    for client in _SERVER_CLIENTS.values():
        for owner in (client, getattr(client, "_admin_client", None)):  # chromadb internals, each one checked
            session = getattr(getattr(owner, "_server", None), "_session", None)
            if session is not None and hasattr(session, "close"):
                session.close()
    _SERVER_CLIENTS.clear()


class _ServerCollection:
    """A collection on a Chroma server whose failures (server gone, timeouts, refusals) become IndexStoreErrors."""

    def __init__(self, collection: Collection, where: str) -> None:
        self._collection = collection
        self._where = where

    def __getattr__(self, name: str) -> Any:
        import httpx
        from chromadb.errors import ChromaError

        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except (httpx.HTTPError, ChromaError) as exc:
                raise IndexStoreError(
                    f"the Chroma server at {self._where} failed ({_first_line(exc)}): check that it is running"
                ) from exc

        return call


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
