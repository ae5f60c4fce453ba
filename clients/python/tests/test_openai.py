"""The official `openai` package against `ragline serve`'s OpenAI-compatible routes
(docs/compat.md): code written for OpenAI runs with a new base URL, the embeddings
are `ragline embed`'s, and a chat completion is the query route's cited answer.

Environment: RAGLINE_BIN, RAGLINE_MODEL_DIR. Run by tests/python_client_test.sh.
"""
import json
import math
import os
import subprocess
import unittest

import openai

from ragline_client import Client
from test_client import CORPUS, ROOT, Server

MODEL_DIR = os.environ.get("RAGLINE_MODEL_DIR", os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
TEXTS = ["The Eiffel Tower is in Paris.", "CYNIC, n. A blackguard whose faulty vision sees things as they are."]


def ragline_embed(texts):
    out = subprocess.run([os.environ["RAGLINE_BIN"], "embed", "--model", MODEL_DIR], input="\n".join(texts) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line)["embedding"] for line in out.splitlines()]


class OpenAiEmbeddingsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.client = openai.OpenAI(base_url=cls.server.url + "/v1", api_key="not-needed", max_retries=0)
        cls.expected = ragline_embed(TEXTS)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def assertSameVectors(self, got, want):
        self.assertEqual(len(got), len(want))
        for g, w in zip(got, want):
            self.assertEqual(len(g), 384)
            self.assertLess(max(abs(a - b) for a, b in zip(g, w)), 1e-5)

    def test_embeddings_equal_ragline_embed(self):
        # The package asks for base64 by default and decodes it.
        r = self.client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS)
        self.assertEqual([d.index for d in r.data], [0, 1])
        self.assertSameVectors([d.embedding for d in r.data], self.expected)
        self.assertGreater(r.usage.prompt_tokens, 10)
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens)
        self.assertEqual(r.model, "all-MiniLM-L6-v2")

    def test_floats_one_string_and_the_hugging_face_name(self):
        r = self.client.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2", input=TEXTS[1],
                                          encoding_format="float", dimensions=384)
        self.assertSameVectors([r.data[0].embedding], self.expected[1:])
        self.assertAlmostEqual(math.sqrt(sum(x * x for x in r.data[0].embedding)), 1.0, places=4)

    def test_token_ids_embed_like_the_text_they_spell(self):
        # Word pieces without [CLS]/[SEP] (vocab.txt: "tides" 22487, "moon" 4231).
        r = self.client.embeddings.create(model="all-MiniLM-L6-v2", input=[[22487], [22487, 4231]])
        self.assertEqual(len(r.data), 2)
        self.assertEqual(r.usage.prompt_tokens, 3 + 4)
        self.assertSameVectors([r.data[0].embedding, r.data[1].embedding], ragline_embed(["tides", "tides moon"]))

    def test_errors_are_the_packages_exceptions(self):
        with self.assertRaises(openai.NotFoundError) as e:
            self.client.embeddings.create(model="text-embedding-3-small", input="x")
        self.assertIn("is not served here", str(e.exception))
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.embeddings.create(model="all-MiniLM-L6-v2", input="x", dimensions=256)
        self.assertIn("cannot shorten", str(e.exception))
        with self.assertRaises(openai.BadRequestError):
            self.client.embeddings.create(model="all-MiniLM-L6-v2", input=[])

    def test_models(self):
        self.assertEqual([m.id for m in self.client.models.list()], ["all-MiniLM-L6-v2"])


class OpenAiChatTest(unittest.TestCase):
    """Chat completions with a collection as the model; no LLM, so the answers are
    ragline's extractive ones, marked degraded."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        ragline = Client(cls.server.url)
        ragline.create_collection("kb")
        with open(os.path.join(CORPUS, "c.md"), "rb") as f:
            ragline.add_documents("kb", [{"id": "c.md", "content": f.read(), "content_type": "md"}], wait=True)
        ragline.set_alias("dictionary", "kb")
        cls.ragline = ragline
        cls.client = openai.OpenAI(base_url=cls.server.url + "/v1", api_key="not-needed", max_retries=0)
        cls.messages = [{"role": "system", "content": "Answer from the dictionary."},
                        {"role": "user", "content": "What is a cynic?"}]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_the_answer_is_the_query_routes_with_its_citations(self):
        r = self.client.chat.completions.create(model="dictionary", messages=self.messages)
        want = self.ragline.query("kb", "What is a cynic?")
        self.assertEqual(r.object, "chat.completion")
        self.assertEqual(r.model, "dictionary")
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertEqual(r.choices[0].message.content, want["answer"])
        self.assertIn("blackguard", r.choices[0].message.content.lower())
        self.assertEqual(r.choices[0].finish_reason, "stop")
        # The extension fields ride along (pydantic keeps unknown fields).
        self.assertEqual(r.citations, want["citations"])
        self.assertTrue(r.degraded)
        self.assertEqual(r.degraded_reason, "no_llm")
        # ragline's own knobs through extra_body.
        lexical = self.client.chat.completions.create(model="kb", messages=self.messages,
                                                      extra_body={"k": 1, "mode": "lexical"})
        self.assertEqual(len(lexical.hits), 1)

    def test_streaming_gives_chunks_that_add_up_to_the_answer(self):
        whole = self.client.chat.completions.create(model="kb", messages=self.messages).choices[0].message.content
        stream = self.client.chat.completions.create(model="kb", messages=self.messages, stream=True,
                                                     stream_options={"include_usage": True})
        chunks = list(stream)
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        self.assertEqual(text, whole)
        finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
        self.assertEqual([c.choices[0].finish_reason for c in finish], ["stop"])
        self.assertTrue(finish[0].citations)
        self.assertEqual(chunks[-1].choices, [])
        self.assertIsNotNone(chunks[-1].usage)

    def test_models_list_collections_and_aliases(self):
        self.assertEqual([m.id for m in self.client.models.list()], ["all-MiniLM-L6-v2", "dictionary", "kb"])

    def test_errors_are_the_packages_exceptions(self):
        with self.assertRaises(openai.NotFoundError) as e:
            self.client.chat.completions.create(model="gpt-4o", messages=self.messages)
        self.assertIn("GET /v1/models", str(e.exception))
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model="kb", messages=self.messages, n=2)
        self.assertIn("n = 1", str(e.exception))
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model="all-MiniLM-L6-v2", messages=self.messages)
        self.assertIn("embedding model", str(e.exception))


if __name__ == "__main__":
    unittest.main()
