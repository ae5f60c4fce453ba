"""The official `pinecone` package against `ragline serve`'s Pinecone-compatible data
plane (docs/compat.md "Pinecone"): a realistic script (10,000 vectors upserted in
batches, filtered queries, fetch, metadata updates, deletes by filter, stats, listing)
whose results are compared with ragline's own API. Run by tests/python_client_test.sh.
"""
import json
import random
import tempfile
import unittest

from pinecone import Pinecone
from pinecone.errors import ForbiddenError, NotFoundError, PineconeError

from ragline_client import Client
from test_client import Server

DIM = 32
N = 10_000
CATEGORIES = ["audio", "books", "garden", "kitchen", "toys"]


def record(i, rng):
    return {"id": f"sku-{i:05d}", "values": [rng.uniform(-1, 1) for _ in range(DIM)],
            "metadata": {"category": CATEGORIES[i % 5], "price": float(i % 100), "tags": [f"t{i % 3}", f"u{i % 7}"]}}


class PineconeSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        config = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"api_keys": [{"key": "writer", "scope": "write", "collections": ["*"]},
                                {"key": "reader", "scope": "read", "collections": ["products"]}]}, config)
        config.close()
        cls.server = Server("--config", config.name)
        cls.ragline = Client(cls.server.url, api_key="writer")
        cls.ragline.create_collection("products", dim=DIM, metric="cosine")
        cls.index = Pinecone(api_key="writer").Index(host=f"{cls.server.url}/pinecone/products")
        rng = random.Random(7)
        cls.records = [record(i, rng) for i in range(N)]
        for start in range(0, N, 500):
            r = cls.index.upsert(vectors=cls.records[start:start + 500])
            assert r.upserted_count == 500, r
        cls.index.upsert(vectors=[record(i, rng) for i in range(1000)], namespace="eu")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_1_stats_count_every_namespace(self):
        s = self.index.describe_index_stats()
        self.assertEqual(s.dimension, DIM)
        self.assertEqual(s.metric, "cosine")
        self.assertEqual(s.total_vector_count, N + 1000)
        self.assertEqual(s.namespaces[""].vector_count, N)
        self.assertEqual(s.namespaces["eu"].vector_count, 1000)

    def test_2_filtered_queries_match_raglines_own_search(self):
        q = self.records[42]["values"]
        flt = {"$and": [{"category": {"$in": ["audio", "books"]}}, {"price": {"$lt": 50}},
                        {"tags": {"$eq": "t1"}}]}
        r = self.index.query(vector=q, top_k=20, filter=flt, include_metadata=True)
        self.assertEqual(len(r.matches), 20)
        for m in r.matches:
            self.assertIn(m.metadata["category"], ["audio", "books"])
            self.assertLess(m.metadata["price"], 50)
            self.assertIn("t1", m.metadata["tags"])
        own = self.ragline.search_vectors("products", q, k=20, filter=flt)
        self.assertEqual([m.id for m in r.matches], [h["id"] for h in own])
        self.assertEqual([round(m.score, 5) for m in r.matches], [round(h["score"], 5) for h in own])
        # By id: the stored vector is its own nearest.
        by_id = self.index.query(id="sku-00042", top_k=3, include_values=True)
        self.assertEqual(by_id.matches[0].id, "sku-00042")
        self.assertEqual(len(by_id.matches[0].values), DIM)
        self.assertEqual(self.index.query(vector=q, top_k=5, filter={"category": {"$ne": "audio"},
                                                                  "price": {"$exists": True}}).matches[0].id != "", True)

    def test_3_fetch_update_and_list(self):
        f = self.index.fetch(ids=["sku-00001", "sku-00002", "missing"])
        self.assertEqual(sorted(f.vectors), ["sku-00001", "sku-00002"])
        self.assertEqual(f.vectors["sku-00001"].metadata, self.records[1]["metadata"])
        self.index.update(id="sku-00001", set_metadata={"price": 999.0, "onSale": True})
        meta = self.index.fetch(ids=["sku-00001"]).vectors["sku-00001"].metadata
        self.assertEqual(meta["price"], 999.0)
        self.assertTrue(meta["onSale"])
        self.assertEqual(meta["category"], "books")  # merged, not replaced
        preview = self.index.update(filter={"category": {"$eq": "garden"}}, set_metadata={"reviewed": True},
                                    dry_run=True)
        self.assertEqual(preview.matched_records, N // 5)
        done = self.index.update(filter={"category": {"$eq": "garden"}}, set_metadata={"reviewed": True})
        self.assertEqual(done.matched_records, N // 5)
        hits = self.ragline.search_vectors("products", self.records[2]["values"], k=50, filter={"reviewed": True})
        self.assertEqual(len(hits), 50)
        self.assertTrue(all(h["payload"]["category"] == "garden" for h in hits))
        page = self.index.list_paginated(prefix="sku-001", limit=40)
        self.assertEqual([v.id for v in page.vectors], [f"sku-001{i:02d}" for i in range(40)])
        rest = self.index.list_paginated(prefix="sku-001", limit=100, pagination_token=page.pagination.next)
        self.assertEqual(len(rest.vectors), 60)
        self.assertIsNone(rest.pagination)

    def test_4_deletes(self):
        self.index.delete(filter={"category": {"$eq": "toys"}})
        self.assertEqual(self.index.describe_index_stats().namespaces[""].vector_count, N - N // 5)
        self.index.delete(ids=["sku-00000", "missing"])
        self.assertEqual(self.index.fetch(ids=["sku-00000"]).vectors, {})
        self.index.delete(delete_all=True, namespace="eu")
        self.assertNotIn("eu", self.index.describe_index_stats().namespaces)

    def test_5_errors_and_keys(self):
        with self.assertRaises(PineconeError) as e:
            self.index.query(vector=[0.1] * DIM, top_k=3, filter={"category": {"$regex": "a.*"}})
        self.assertIn("$regex", str(e.exception))
        with self.assertRaises(PineconeError) as e:
            self.index.query(vector=[0.1] * 3, top_k=3)
        self.assertIn("the collection expects 32", str(e.exception))
        with self.assertRaises(PineconeError) as e:
            self.index.upsert(vectors=[{"id": "s", "values": [0.1] * DIM,
                                        "sparse_values": {"indices": [1], "values": [0.5]}}])
        self.assertIn("sparse", str(e.exception))
        with self.assertRaises(NotFoundError):
            Pinecone(api_key="writer").Index(host=f"{self.server.url}/pinecone/nope").describe_index_stats()
        reader = Pinecone(api_key="reader").Index(host=f"{self.server.url}/pinecone/products")
        self.assertGreater(reader.describe_index_stats().total_vector_count, 0)
        with self.assertRaises(ForbiddenError):
            reader.upsert(vectors=[{"id": "x", "values": [0.1] * DIM}])


if __name__ == "__main__":
    unittest.main()
