"""Python client for ragline's HTTP API (docs/server.md).

Standard library only (AsyncClient needs httpx). The LangChain retriever and vector
store live in ragline_client.langchain and need langchain-core.

    from ragline_client import Client
    c = Client("http://127.0.0.1:8080")
    c.create_collection("kb")
    c.add_documents("kb", [{"id": "a", "text": "..."}], wait=True)
    print(c.query("kb", "What is ...?")["answer"])
"""
from .client import AsyncClient, Client, RaglineError

__all__ = ["AsyncClient", "Client", "RaglineError"]
__version__ = "0.1.0"
