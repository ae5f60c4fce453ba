"""LlamaIndex integrations over a ragline server (need llama-index-core).

A vector store on a ragline collection, and an embedding model that is the server's
own (POST /v1/embeddings), so an index built in LlamaIndex embeds exactly as
`ragline embed` does:

    from llama_index.core import StorageContext, VectorStoreIndex
    from ragline_client.llamaindex import RaglineEmbedding, RaglineLlamaVectorStore

    store = RaglineLlamaVectorStore("notes", base_url="http://127.0.0.1:8080")
    index = VectorStoreIndex.from_documents(docs, embed_model=RaglineEmbedding(base_url=...),
                                            storage_context=StorageContext.from_defaults(vector_store=store))
    index.as_retriever(similarity_top_k=3).retrieve("What pulls the tides?")
"""
from typing import Any, Dict, List, Optional, Sequence

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (BasePydanticVectorStore, FilterCondition, FilterOperator,
                                                  MetadataFilter, MetadataFilters, VectorStoreQuery,
                                                  VectorStoreQueryMode, VectorStoreQueryResult)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from .client import AsyncClient, Client, RaglineError, VersionClock

_RANGES = {FilterOperator.EQ: "$eq", FilterOperator.NE: "$ne", FilterOperator.GT: "$gt",
           FilterOperator.GTE: "$gte", FilterOperator.LT: "$lt", FilterOperator.LTE: "$lte",
           FilterOperator.IN: "$in", FilterOperator.NIN: "$nin", FilterOperator.ANY: "$in",
           FilterOperator.CONTAINS: "$eq"}


def to_ragline_filter(filters: Optional[MetadataFilters]) -> Optional[Dict[str, Any]]:
    """LlamaIndex MetadataFilters as a ragline filter (docs/filters.md). ALL is an $and
    of equalities, IS_EMPTY "missing or null"; text matching has no ragline filter and is
    a ValueError."""
    if filters is None or not filters.filters:
        return None

    def one(f):
        if isinstance(f, MetadataFilters):
            return to_ragline_filter(f)
        if f.operator in _RANGES:
            return {f.key: {_RANGES[f.operator]: f.value}}
        if f.operator == FilterOperator.ALL:
            return {"$and": [{f.key: {"$eq": v}} for v in f.value]}
        if f.operator == FilterOperator.IS_EMPTY:
            return {"$or": [{f.key: {"$exists": False}}, {f.key: {"$eq": None}}]}
        raise ValueError(f"filter operator {f.operator.value!r} has no ragline equivalent (docs/filters.md)")

    parts = [one(f) for f in filters.filters]
    if filters.condition == FilterCondition.OR:
        return {"$or": parts}
    combined = parts[0] if len(parts) == 1 else {"$and": parts}
    return {"$not": combined} if filters.condition == FilterCondition.NOT else combined


class RaglineEmbedding(BaseEmbedding):
    """The server's embedding model (all-MiniLM-L6-v2 unless configured otherwise)."""

    base_url: str = "http://127.0.0.1:8080"
    api_key: Optional[str] = None
    model_name: str = "all-MiniLM-L6-v2"
    _client: Client = PrivateAttr()
    _async: AsyncClient = PrivateAttr()

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._client = Client(self.base_url, api_key=self.api_key)
        self._async = AsyncClient(self.base_url, api_key=self.api_key)

    def _get_query_embedding(self, query: str) -> List[float]:
        return self._client.embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> List[float]:
        return (await self._async.embed([query]))[0]

    def _get_text_embedding(self, text: str) -> List[float]:
        return self._client.embed([text])[0]

    def _get_text_embeddings(self, texts: List[str]) -> List[List[float]]:
        return self._client.embed(texts)


class RaglineLlamaVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store on a ragline collection: one record per node, its
    payload LlamaIndex's node metadata (your metadata at the top level, so filters
    run on it) plus "text", "node_id" and "ref_doc_id". A missing collection is made
    on the first add with the nodes' embedding dimension; extra keyword arguments
    (metric, index, ...) configure it. Dense queries only (the embedding model is
    LlamaIndex's); ragline's hybrid retrieval is RaglineRetriever's (LangChain) or the
    query route's."""

    stores_text: bool = True
    flat_metadata: bool = False
    collection: str
    _client: Client = PrivateAttr()
    _config: Dict[str, Any] = PrivateAttr()
    _versions: VersionClock = PrivateAttr(default_factory=VersionClock)

    def __init__(self, collection: str, base_url: str = "http://127.0.0.1:8080", api_key: Optional[str] = None,
                 **collection_config: Any):
        super().__init__(collection=collection)
        self._client = Client(base_url, api_key=api_key)
        self._config = collection_config

    @property
    def client(self) -> Client:
        return self._client

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> List[str]:
        if not nodes:
            return []
        try:
            self._client.get_collection(self.collection)
        except RaglineError as e:
            if e.status != 404:
                raise
            self._client.create_collection(self.collection, **dict(self._config, dim=len(nodes[0].get_embedding())))
        version = self._versions.next()
        records = []
        for node in nodes:
            payload = node_to_metadata_dict(node, remove_text=True, flat_metadata=self.flat_metadata)
            payload.update({"text": node.get_content(), "node_id": node.node_id})
            records.append({"id": node.node_id, "version": version, "vector": list(node.get_embedding()),
                            "payload": payload})
        self._client.upsert_all(self.collection, records)
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        self._delete(filter={"ref_doc_id": ref_doc_id})

    def delete_nodes(self, node_ids: Optional[List[str]] = None, filters: Optional[MetadataFilters] = None,
                     **delete_kwargs: Any) -> None:
        if node_ids is not None:
            if node_ids:
                self._delete(ids=list(node_ids))
        elif filters is not None:
            self._delete(filter=to_ragline_filter(filters))
        else:
            raise ValueError("give node_ids or filters")

    def clear(self) -> None:
        self._delete(all=True)

    def _delete(self, **what: Any) -> None:
        try:
            self._client.delete_vectors(self.collection, **what)
        except RaglineError as e:
            if e.status != 404:  # no collection: nothing to delete
                raise

    def get_nodes(self, node_ids: Optional[List[str]] = None,
                  filters: Optional[MetadataFilters] = None) -> List[BaseNode]:
        if node_ids is None:
            raise ValueError("ragline fetches nodes by id; give node_ids")
        out = []
        for node_id in node_ids:
            try:
                record = self._client.get_vector(self.collection, node_id)
            except RaglineError as e:
                if e.status == 404:
                    continue
                raise
            out.append(self._node(record["payload"], record["vector"]))
        return out

    @staticmethod
    def _node(payload: Dict[str, Any], vector: Optional[List[float]] = None) -> BaseNode:
        node = metadata_dict_to_node(payload, text=payload.get("text", ""))
        if vector is not None:
            node.embedding = vector
        return node

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if query.mode != VectorStoreQueryMode.DEFAULT:
            raise ValueError(f"query mode {query.mode.value!r}: this store answers dense queries (DEFAULT)")
        if query.query_embedding is None:
            raise ValueError("a query embedding is needed")
        parts = [p for p in (to_ragline_filter(query.filters),
                             {"ref_doc_id": {"$in": query.doc_ids}} if query.doc_ids else None,
                             {"node_id": {"$in": query.node_ids}} if query.node_ids else None) if p]
        filter = None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}
        try:
            hits = self._client.search_vectors(self.collection, query.query_embedding, k=query.similarity_top_k,
                                               filter=filter)
        except RaglineError as e:
            if e.status == 404:
                return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
            raise
        return VectorStoreQueryResult(nodes=[self._node(h["payload"]) for h in hits],
                                      similarities=[h["score"] for h in hits], ids=[h["id"] for h in hits])
