"""LangChain's own standard test suites (the PyPI package langchain-tests) against a
real `ragline serve`: VectorStoreIntegrationTests for RaglineVectorStore, with the
client embedding (LangChain's fake embeddings) and with the server embedding (its own
model), and RetrieversIntegrationTests for RaglineRetriever. Run with pytest by
tests/python_client_test.sh.
"""
import atexit
import os
import uuid
from typing import Generator

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import RetrieversIntegrationTests, VectorStoreIntegrationTests

from ragline_client import Client
from ragline_client.langchain import RaglineRetriever, RaglineVectorStore
from test_client import CORPUS, Server

_server = None


def server():
    """One server for the module, with a collection "kb" of the sample corpus."""
    global _server
    if _server is None:
        _server = Server()
        atexit.register(_server.stop)
        c = Client(_server.url)
        c.create_collection("kb")
        docs = []
        for name in ("c.md", "e.md"):
            with open(os.path.join(CORPUS, name), "rb") as f:
                docs.append({"id": name, "content": f.read(), "content_type": "md"})
        c.add_documents("kb", docs, wait=True)
    return _server


def fresh_store(**kwargs) -> Generator[VectorStore, None, None]:
    store = RaglineVectorStore(f"lc-{uuid.uuid4().hex[:12]}", base_url=server().url, **kwargs)
    try:
        yield store
    finally:
        try:
            store.client.drop_collection(store.collection)
        except Exception:
            pass


class TestRaglineVectorStoreClientEmbeddings(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self) -> Generator[VectorStore, None, None]:  # type: ignore
        yield from fresh_store(embedding=self.get_embeddings())


class TestRaglineVectorStoreServerEmbeddings(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self) -> Generator[VectorStore, None, None]:  # type: ignore
        yield from fresh_store()


class TestRaglineRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self):
        return RaglineRetriever

    @property
    def retriever_constructor_params(self):
        return {"client": Client(server().url), "collection": "kb"}

    @property
    def retriever_query_example(self) -> str:
        return "What is a cynic?"


def test_a_langchain_chain_runs_on_the_store_and_filters_by_metadata():
    for store in fresh_store():
        ids = store.add_texts(["Tides follow the moon.", "Bread rises with yeast.", "The sea is salty."],
                              metadatas=[{"topic": "sea"}, {"topic": "kitchen"}, {"topic": "sea"}])
        assert len(ids) == 3
        top = store.similarity_search("What pulls the tides?", k=1)
        assert top[0].page_content == "Tides follow the moon." and top[0].id == ids[0]
        sea = store.similarity_search("yeast", k=3, filter={"topic": "sea"})
        assert {d.page_content for d in sea} == {"Tides follow the moon.", "The sea is salty."}
        scored = store.similarity_search_with_relevance_scores("moon and tides", k=3)
        assert all(0.0 <= s <= 1.0 for _, s in scored) and scored[0][1] > scored[-1][1]
        retriever = store.as_retriever(search_kwargs={"k": 2})
        assert len(retriever.invoke("sea")) == 2
        store.delete(filter={"topic": "kitchen"})
        assert store.get_by_ids(ids) and [d.id for d in store.get_by_ids(ids)] == [ids[0], ids[2]]
        # A server-embedded store reads the same vectors as `ragline embed` makes.
        want = store.client.embed(["Tides follow the moon."])[0]
        got = store.client.get_vector(store.collection, ids[0])["vector"]
        assert max(abs(a - b) for a, b in zip(want, got)) < 1e-5
