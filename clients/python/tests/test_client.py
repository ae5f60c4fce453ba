"""ragline_client and its LangChain retriever against a real `ragline serve`.

Environment: RAGLINE_BIN (the ragline binary), RAGLINE_MODEL_DIR (default
models/all-MiniLM-L6-v2 in the repo). Run by tests/python_client_test.sh.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from ragline_client import Client, RaglineError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CORPUS = os.path.join(ROOT, "examples", "corpus", "devils-dictionary")


class Server:
    def __init__(self, *extra):
        self.data = tempfile.mkdtemp(prefix="ragline_client_test_")
        model = os.environ.get("RAGLINE_MODEL_DIR", os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
        self.proc = subprocess.Popen(
            [os.environ["RAGLINE_BIN"], "serve", "--data", self.data, "--model", model, "--port", "0",
             "--threads", "4", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"(http://[0-9.]+:\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"ragline serve did not say where it listens: {line!r}")
        self.url = m.group(1)

    def stop(self):
        self.proc.stdout.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.data, ignore_errors=True)


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.c = Client(cls.server.url)
        cls.c.create_collection("kb")
        docs = []
        for name in ("c.md", "e.md", "preface.txt"):
            with open(os.path.join(CORPUS, name), "rb") as f:
                docs.append({"id": name, "content": f.read(), "content_type": name.rsplit(".", 1)[1],
                             "metadata": {"letter": name[0]}})
        docs.append({"id": "note", "text": "Zanzibar copal is a resin traded in East Africa.",
                     "metadata": {"letter": "z"}})
        cls.report = cls.c.add_documents("kb", docs, wait=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_health_and_ready(self):
        self.assertEqual(self.c.health()["status"], "ok")
        self.assertTrue(self.c.ready())
        self.assertIn("rag_http_requests_total", self.c.metrics())

    def test_documents_were_ingested_as_chunks(self):
        self.assertEqual(self.report["documents_failed"], 0, self.report)
        self.assertGreater(self.report["chunks_upserted"], 20)
        stats = self.c.stats("kb")
        self.assertEqual(stats["vector_count"], self.report["chunks_upserted"])
        doc = self.c.get_document("kb", "c.md")
        self.assertEqual(doc["id"], "c.md")
        self.assertGreater(doc["chunk_count"], 1)
        self.assertEqual(doc["metadata"]["letter"], "c")

    def test_query_answers_with_citations_and_filters(self):
        r = self.c.query("kb", "What is an egotist?", k=3)
        self.assertTrue(r["hits"])
        self.assertIn("EGOTIST", r["hits"][0]["text"])
        self.assertEqual(r["hits"][0]["doc_id"], "e.md")
        self.assertTrue(r["degraded"])  # no LLM configured: extractive answer
        self.assertTrue(r["answer"])
        self.assertTrue(r["citations"])
        cited = {h["id"] for h in r["hits"]}
        self.assertTrue(all(c["id"] in cited for c in r["citations"]))
        lex = self.c.query("kb", "Zanzibar copal", k=1, mode="lexical", generate=False)
        self.assertEqual(lex["hits"][0]["doc_id"], "note")
        self.assertIsNone(lex["answer"])
        only_c = self.c.query("kb", "What is an egotist?", k=5, filter={"metadata.letter": "c"}, generate=False)
        self.assertTrue(only_c["hits"])
        self.assertTrue(all(h["doc_id"] == "c.md" for h in only_c["hits"]))

    def test_query_stream(self):
        events = list(self.c.query_stream("kb", "What is an egotist?", k=2))
        names = [e for e, _ in events]
        self.assertEqual(names[0], "hits")
        self.assertEqual(names[-1], "done")
        self.assertIn("delta", names)
        text = "".join(d["text"] for e, d in events if e == "delta")
        self.assertEqual(text, events[-1][1]["answer"])

    def test_vectors_and_aliases(self):
        self.c.create_collection("vecs", dim=3, index="flat")
        r = self.c.upsert_vectors("vecs", [{"id": "a", "version": 1, "vector": [1, 0, 0], "payload": {"t": 1}},
                                           {"id": "b", "version": 1, "vector": [0, 1, 0]}])
        self.assertEqual(r["inserted"], 2)
        hits = self.c.search_vectors("vecs", [0.9, 0.1, 0], k=1)
        self.assertEqual(hits[0]["id"], "a")
        self.assertEqual(self.c.get_vector("vecs", "a")["payload"], {"t": 1})
        self.c.set_alias("live", "vecs")
        self.assertEqual(self.c.list_aliases()["live"], "vecs")
        self.assertEqual(self.c.search_vectors("live", [0, 1, 0], k=1)[0]["id"], "b")
        self.c.delete_vectors("vecs", ids=["a"])
        with self.assertRaises(RaglineError) as e:
            self.c.get_vector("vecs", "a")
        self.assertEqual(e.exception.status, 404)
        with self.assertRaises(RaglineError) as e:  # an empty filter would delete everything
            self.c.delete_vectors("vecs", filter={})
        self.assertEqual(e.exception.status, 400)
        self.assertEqual(self.c.delete_vectors("vecs", all=True)["deleted"], 1)
        self.c.delete_alias("live")
        self.c.drop_collection("vecs")
        self.assertNotIn("vecs", self.c.list_collections()["collections"])

    def test_errors_name_the_problem(self):
        with self.assertRaises(RaglineError) as e:
            self.c.query("nope", "x")
        self.assertEqual((e.exception.status, e.exception.code), (404, "not_found"))
        self.assertIn("nope", e.exception.message)
        with self.assertRaises(RaglineError) as e:
            self.c.upsert_vectors("kb", [{"id": "x", "version": 1, "vector": [1, 2, 3]}])
        self.assertEqual(e.exception.status, 400)
        self.assertIn("384", e.exception.message)
        with self.assertRaises(RaglineError) as e:
            self.c.add_documents("kb", [{"id": "bad.pdf", "content": b"not a pdf", "content_type": "pdf"}], wait=True)
        self.assertEqual(e.exception.status, 400)
        self.assertIn("bad.pdf", e.exception.message)

    def test_delete_document_removes_its_chunks(self):
        self.c.add_documents("kb", [{"id": "gone", "text": "Quetzalcoatl feathers are rare."}], wait=True)
        self.assertEqual(self.c.query("kb", "Quetzalcoatl", k=1, mode="lexical", generate=False)["hits"][0]["doc_id"],
                         "gone")
        self.c.delete_document("kb", "gone")
        self.assertEqual(self.c.query("kb", "Quetzalcoatl", k=1, mode="lexical", generate=False)["hits"], [])
        with self.assertRaises(RaglineError) as e:
            self.c.get_document("kb", "gone")
        self.assertEqual(e.exception.status, 404)

    def test_add_file_keeps_same_named_files_apart(self):
        self.c.create_collection("files")  # its own: the other tests count what "kb" holds
        root = tempfile.mkdtemp(prefix="ragline_client_files_")
        cwd = os.getcwd()
        try:
            for folder, word in (("a", "Xylophone"), ("b", "Yodel")):
                os.makedirs(os.path.join(root, folder))
                with open(os.path.join(root, folder, "notes.txt"), "w") as f:
                    f.write(f"{word} lessons start on Monday.")
            os.chdir(root)
            self.c.add_file("files", "a/notes.txt", wait=True)
            self.c.add_file("files", "./b/notes.txt", wait=True)
            self.assertEqual(self.c.get_document("files", "a/notes.txt")["id"], "a/notes.txt")
            self.assertEqual(self.c.get_document("files", "b/notes.txt")["id"], "b/notes.txt")
            hit = self.c.query("files", "Xylophone", k=1, mode="lexical", generate=False)["hits"][0]
            self.assertEqual(hit["doc_id"], "a/notes.txt")
        finally:
            os.chdir(cwd)
            shutil.rmtree(root, ignore_errors=True)

    def test_langchain_retriever(self):
        from ragline_client.langchain import RaglineRetriever
        retriever = RaglineRetriever(client=self.c, collection="kb", k=2, mode="hybrid")
        docs = retriever.invoke("What is an egotist?")
        self.assertEqual(len(docs), 2)
        self.assertIn("EGOTIST", docs[0].page_content)
        self.assertEqual(docs[0].metadata["doc_id"], "e.md")
        self.assertIn("score", docs[0].metadata)
        # Where the passage is: the document's title and its section.
        self.assertEqual(docs[0].metadata["title"], "The Devil's Dictionary: E")
        # The section where the chunk begins (an entry before EGOTIST's).
        self.assertTrue(docs[0].metadata["heading_path"].startswith("The Devil's Dictionary: E > E"))

    def test_hits_carry_title_and_section(self):
        hit = self.c.query("kb", "What is an egotist?", k=1, generate=False)["hits"][0]
        self.assertEqual((hit["doc_id"], hit["title"]), ("e.md", "The Devil's Dictionary: E"))
        self.assertTrue(hit["heading_path"].startswith("The Devil's Dictionary: E > E"), hit["heading_path"])
        self.assertEqual(hit["source"], "http")


class AuthTest(unittest.TestCase):
    def test_keys_and_scopes(self):
        config = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        config.write('{"api_keys": [{"key": "r1", "scope": "read", "collections": ["*"]},'
                     ' {"key": "w1", "scope": "write", "collections": ["*"]}]}')
        config.close()
        server = Server("--config", config.name)
        try:
            with self.assertRaises(RaglineError) as e:
                Client(server.url).list_collections()
            self.assertEqual(e.exception.status, 401)
            with self.assertRaises(RaglineError) as e:
                Client(server.url, api_key="r1").create_collection("x")
            self.assertEqual(e.exception.status, 403)
            Client(server.url, api_key="w1").create_collection("x")
            self.assertIn("x", Client(server.url, api_key="r1").list_collections()["collections"])
            self.assertEqual(Client(server.url).health()["status"], "ok")
        finally:
            server.stop()
            os.unlink(config.name)


if __name__ == "__main__":
    unittest.main()
