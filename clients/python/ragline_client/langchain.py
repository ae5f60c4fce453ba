"""A LangChain retriever over a ragline collection (needs langchain-core).

    from ragline_client import Client
    from ragline_client.langchain import RaglineRetriever
    retriever = RaglineRetriever(client=Client("http://127.0.0.1:8080"), collection="kb", k=4)
    docs = retriever.invoke("What is a cynic?")
"""
from typing import Any, Dict, List, Optional

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from .client import Client


class RaglineRetriever(BaseRetriever):
    """Retrieves chunks with ragline's query route (no generation). Each Document's
    page_content is the chunk text; metadata carries id, doc_id, score, offsets and the
    chunk's own metadata."""

    client: Client
    collection: str
    k: int = 4
    mode: Optional[str] = None  # dense | lexical | hybrid; None = the server's default
    filter: Optional[Dict[str, Any]] = None

    model_config = {"arbitrary_types_allowed": True}

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> List[Document]:
        reply = self.client.query(self.collection, query, k=self.k, filter=self.filter, mode=self.mode,
                                  generate=False)
        docs = []
        for hit in reply["hits"]:
            metadata = dict(hit.get("metadata") or {})
            metadata.update({"id": hit["id"], "doc_id": hit.get("doc_id"), "score": hit.get("score"),
                             "offsets": hit.get("offsets")})
            docs.append(Document(page_content=hit.get("text") or "", metadata=metadata))
        return docs
