"""The official `openai` package against `ragline serve`'s OpenAI-compatible routes
(docs/server.md "OpenAI-compatible embeddings"): code written for OpenAI runs with
a new base URL, and the embeddings are `ragline embed`'s.

Environment: RAGLINE_BIN, RAGLINE_MODEL_DIR. Run by tests/python_client_test.sh.
"""
import json
import math
import os
import subprocess
import unittest

import openai

from test_client import ROOT, Server

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


if __name__ == "__main__":
    unittest.main()
