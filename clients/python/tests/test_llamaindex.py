"""ragline_client.llamaindex with llama-index-core against a real `ragline serve`: an
index built in LlamaIndex on a ragline collection, embedded by the server's model,
retrieved with and without metadata filters, documents deleted. Run by
tests/python_client_test.sh.
"""
import unittest
import uuid

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.vector_stores.types import (FilterCondition, FilterOperator, MetadataFilter,
                                                  MetadataFilters)

from ragline_client import Client
from ragline_client.llamaindex import RaglineEmbedding, RaglineLlamaVectorStore, to_ragline_filter
from test_client import Server

TEXTS = [("tides", "Tides follow the moon's pull on the oceans.", "sea", 1),
         ("bread", "Bread rises because yeast makes gas in the dough.", "kitchen", 2),
         ("salt", "The sea is salty because rivers carry minerals into it.", "sea", 3)]


class LlamaIndexTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.embed = RaglineEmbedding(base_url=cls.server.url)
        cls.store = RaglineLlamaVectorStore(f"li-{uuid.uuid4().hex[:8]}", base_url=cls.server.url)
        docs = [Document(text=t, doc_id=i, metadata={"topic": topic, "rank": rank}) for i, t, topic, rank in TEXTS]
        cls.index = VectorStoreIndex.from_documents(
            docs, embed_model=cls.embed, storage_context=StorageContext.from_defaults(vector_store=cls.store))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_retrieval_through_a_llamaindex_retriever(self):
        nodes = self.index.as_retriever(similarity_top_k=2).retrieve("What pulls the tides?")
        self.assertEqual(len(nodes), 2)
        self.assertIn("moon", nodes[0].node.get_content())
        self.assertEqual(nodes[0].node.metadata, {"topic": "sea", "rank": 1})
        self.assertEqual(nodes[0].node.ref_doc_id, "tides")
        self.assertGreater(nodes[0].score, nodes[1].score)

    def test_metadata_filters(self):
        kitchen = MetadataFilters(filters=[MetadataFilter(key="topic", value="kitchen")])
        nodes = self.index.as_retriever(similarity_top_k=3, filters=kitchen).retrieve("the ocean")
        self.assertEqual([n.node.ref_doc_id for n in nodes], ["bread"])
        either = MetadataFilters(filters=[MetadataFilter(key="rank", value=2, operator=FilterOperator.GT),
                                          MetadataFilter(key="topic", value="kitchen")],
                                 condition=FilterCondition.OR)
        self.assertEqual({n.node.ref_doc_id for n in
                          self.index.as_retriever(similarity_top_k=3, filters=either).retrieve("x")},
                         {"bread", "salt"})
        with self.assertRaises(ValueError):
            to_ragline_filter(MetadataFilters(filters=[MetadataFilter(key="topic", value="se",
                                                                      operator=FilterOperator.TEXT_MATCH)]))

    def test_the_server_embeds_as_ragline_does(self):
        want = Client(self.server.url).embed(["Tides follow the moon's pull on the oceans."])[0]
        got = self.embed.get_text_embedding("Tides follow the moon's pull on the oceans.")
        self.assertLess(max(abs(a - b) for a, b in zip(want, got)), 1e-6)

    def test_z_delete_a_document(self):
        self.store.delete("salt")
        nodes = self.index.as_retriever(similarity_top_k=3).retrieve("salty sea")
        self.assertNotIn("salt", [n.node.ref_doc_id for n in nodes])
        node_id = nodes[0].node.node_id
        self.assertEqual([n.node_id for n in self.store.get_nodes([node_id, "missing"])], [node_id])


if __name__ == "__main__":
    unittest.main()
