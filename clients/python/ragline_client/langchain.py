"""LangChain integrations over a ragline server (need langchain-core).

A retriever over ragline's query route (dense, lexical or hybrid, as the server
retrieves), and a VectorStore over its vectors routes:

    from ragline_client import Client
    from ragline_client.langchain import RaglineRetriever, RaglineVectorStore

    retriever = RaglineRetriever(client=Client("http://127.0.0.1:8080"), collection="kb", k=4)
    docs = retriever.invoke("What is a cynic?", k=2)

    store = RaglineVectorStore("notes", base_url="http://127.0.0.1:8080")   # the server embeds
    store.add_texts(["Tides follow the moon."], metadatas=[{"topic": "sea"}])
    store.similarity_search("moon", k=1, filter={"topic": "sea"})
"""
import uuid
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore

from .client import AsyncClient, Client, RaglineError, VersionClock


def _hit_document(hit: Dict[str, Any]) -> Document:
    metadata = dict(hit.get("metadata") or {})
    metadata.update({"id": hit["id"], "doc_id": hit.get("doc_id"), "score": hit.get("score"),
                     "offsets": hit.get("offsets")})
    # Where the passage is: an ingested document's title, source file, section or PDF page.
    for key in ("title", "source", "heading_path", "page"):
        if hit.get(key):
            metadata[key] = hit[key]
    return Document(page_content=hit.get("text") or "", metadata=metadata)


class RaglineRetriever(BaseRetriever):
    """Retrieves chunks with ragline's query route (no generation). Each Document's
    page_content is the chunk text; metadata carries id, doc_id, score, offsets, title,
    source, heading_path and page (where the chunk has them) and the chunk's own metadata. `k`, `filter` and `mode` may also be given per call:
    `retriever.invoke(q, k=1)`."""

    client: Client
    collection: str
    k: int = 4
    mode: Optional[str] = None  # dense | lexical | hybrid; None = the server's default
    filter: Optional[Dict[str, Any]] = None

    model_config = {"arbitrary_types_allowed": True}

    def _params(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        unknown = set(kwargs) - {"k", "filter", "mode"}
        if unknown:
            raise TypeError(f"unexpected arguments {sorted(unknown)}: the retriever takes k, filter and mode")
        return {"k": kwargs.get("k", self.k), "filter": kwargs.get("filter", self.filter),
                "mode": kwargs.get("mode", self.mode), "generate": False}

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> List[Document]:
        reply = self.client.query(self.collection, query, **self._params(kwargs))
        return [_hit_document(h) for h in reply["hits"]]

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       **kwargs: Any) -> List[Document]:
        client = AsyncClient(self.client.base_url, self.client.api_key, self.client.timeout)
        reply = await client.query(self.collection, query, **self._params(kwargs))
        return [_hit_document(h) for h in reply["hits"]]


class RaglineVectorStore(VectorStore):
    """A LangChain VectorStore on a ragline collection: one record per text, its
    payload {"text", "metadata"}, its id yours or a new UUID.

    Without `embedding` the server embeds texts and queries with its own model
    (POST /v1/embeddings) and the collection is created with the server's dimension.
    With a LangChain `Embeddings` object the client embeds, and a missing collection
    is created with that embedding's dimension on the first add. Extra keyword
    arguments (metric, index, ...) configure a collection this store creates.

    Filters are ragline's (docs/filters.md): {"topic": "sea"} matches the metadata
    you gave. Scores are the collection's (cosine similarity by default).
    Versions: each write carries the client's clock in ms, kept increasing, so a
    rewrite of an id replaces it."""

    def __init__(self, collection: str, base_url: str = "http://127.0.0.1:8080",
                 embedding: Optional[Embeddings] = None, api_key: Optional[str] = None,
                 client: Optional[Client] = None, timeout: float = 60.0, **collection_config: Any):
        self.collection = collection
        self.client = client or Client(base_url, api_key=api_key, timeout=timeout)
        self._async = AsyncClient(self.client.base_url, self.client.api_key, self.client.timeout)
        self._embedding = embedding
        self._collection_config = collection_config
        self._exists = False
        self._versions = VersionClock()

    @property
    def embeddings(self) -> Optional[Embeddings]:
        return self._embedding

    # ------------------------------------------------------------ plumbing

    def _embed_texts(self, texts: List[str]) -> List[List[float]]:
        if not texts:
            return []
        if self._embedding is not None:
            return self._embedding.embed_documents(texts)
        return self.client.embed(texts)

    def _embed_query(self, text: str) -> List[float]:
        if self._embedding is not None:
            return self._embedding.embed_query(text)
        return self.client.embed([text])[0]

    def _ensure_collection(self, dim: int) -> None:
        if self._exists:
            return
        try:
            self.client.get_collection(self.collection)
        except RaglineError as e:
            if e.status != 404:
                raise
            config = dict(self._collection_config)
            if self._embedding is not None:
                config.setdefault("dim", dim)
            try:
                self.client.create_collection(self.collection, **config)
            except RaglineError as race:
                if race.status != 409:  # created meanwhile by another writer
                    raise
        self._exists = True

    @staticmethod
    def _document(record: Dict[str, Any]) -> Document:
        payload = record.get("payload") or {}
        metadata = payload.get("metadata")
        return Document(page_content=payload.get("text") or "", id=record["id"],
                        metadata=dict(metadata) if isinstance(metadata, dict) else {})

    # ------------------------------------------------------------ VectorStore

    def add_texts(self, texts: Iterable[str], metadatas: Optional[List[dict]] = None, *,
                  ids: Optional[List[str]] = None, **kwargs: Any) -> List[str]:
        texts = list(texts)
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"{len(metadatas)} metadatas for {len(texts)} texts")
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        ids = [i if i else str(uuid.uuid4()) for i in (ids or [None] * len(texts))]
        if not texts:
            return []
        vectors = self._embed_texts(texts)
        self._ensure_collection(len(vectors[0]))
        version = self._versions.next()
        records = [{"id": i, "version": version, "vector": list(v),
                    "payload": {"text": t, "metadata": dict(m or {})}}
                   for i, t, v, m in zip(ids, texts, vectors, metadatas or [None] * len(texts))]
        self.client.upsert_all(self.collection, records)
        return ids

    def delete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        """Deletes `ids` (missing ones are no error), or every record matching
        filter=..., or every record with delete_all=True."""
        filter, delete_all = kwargs.pop("filter", None), kwargs.pop("delete_all", False)
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        if (ids is not None) + (filter is not None) + bool(delete_all) != 1:
            raise ValueError("give exactly one of ids, filter=... or delete_all=True")
        try:
            if ids is not None:
                if ids:
                    self.client.delete_vectors(self.collection, ids=list(ids))
            elif filter is not None:
                self.client.delete_vectors(self.collection, filter=filter)
            else:
                self.client.delete_vectors(self.collection, all=True)
        except RaglineError as e:
            if e.status != 404:  # no collection: nothing to delete
                raise
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        out = []
        for i in ids:
            try:
                out.append(self._document(self.client.get_vector(self.collection, i)))
            except RaglineError as e:
                if e.status != 404:
                    raise
        return out

    def _scored(self, hits: List[Dict[str, Any]]) -> List[Tuple[Document, float]]:
        return [(self._document(h), h["score"]) for h in hits]

    def _nothing_added(self, error: RaglineError) -> bool:
        """A search's 404 before this store added anything: no collection yet, no hits."""
        return error.status == 404 and not self._exists

    def _search(self, vector: List[float], k: int, filter: Optional[dict]) -> List[Tuple[Document, float]]:
        try:
            return self._scored(self.client.search_vectors(self.collection, vector, k=k, filter=filter))
        except RaglineError as e:
            if self._nothing_added(e):
                return []
            raise

    def similarity_search_with_score(self, query: str, k: int = 4, filter: Optional[dict] = None,
                                     **kwargs: Any) -> List[Tuple[Document, float]]:
        return self._search(self._embed_query(query), k, filter)

    def similarity_search(self, query: str, k: int = 4, filter: Optional[dict] = None,
                          **kwargs: Any) -> List[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_by_vector(self, embedding: List[float], k: int = 4, filter: Optional[dict] = None,
                                    **kwargs: Any) -> List[Document]:
        return [d for d, _ in self._search(embedding, k, filter)]

    def _select_relevance_score_fn(self):
        # Cosine similarity in [-1, 1] -> [0, 1]; dot and l2 have no fixed range.
        return lambda score: (score + 1.0) / 2.0

    async def asimilarity_search_with_score(self, query: str, k: int = 4, filter: Optional[dict] = None,
                                            **kwargs: Any) -> List[Tuple[Document, float]]:
        if self._embedding is not None:
            vector = await self._embedding.aembed_query(query)
        else:
            vector = (await self._async.embed([query]))[0]
        try:
            return self._scored(await self._async.search_vectors(self.collection, vector, k=k, filter=filter))
        except RaglineError as e:
            if self._nothing_added(e):
                return []
            raise

    async def asimilarity_search(self, query: str, k: int = 4, filter: Optional[dict] = None,
                                 **kwargs: Any) -> List[Document]:
        return [d for d, _ in await self.asimilarity_search_with_score(query, k, filter, **kwargs)]

    @classmethod
    def from_texts(cls, texts: List[str], embedding: Optional[Embeddings] = None,
                   metadatas: Optional[List[dict]] = None, *, ids: Optional[List[str]] = None,
                   collection: str = "langchain", **kwargs: Any) -> "RaglineVectorStore":
        store = cls(collection, embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store
