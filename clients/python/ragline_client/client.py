"""The HTTP client: one method per route, JSON in and out, errors as RaglineError."""
import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request


class RaglineError(Exception):
    """A non-2xx reply: `status` (HTTP), `code` and `message` from {"error": {...}}."""

    def __init__(self, status, code, message, request_id=None):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id


def _quote(segment):
    return urllib.parse.quote(str(segment), safe="")


class Client:
    def __init__(self, base_url, api_key=None, timeout=60.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    # ------------------------------------------------------------ plumbing

    def _open(self, method, path, body=None, params=None, accept="application/json"):
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", accept)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.api_key:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raise _error_from(e.code, e.read(), e.headers.get("X-Request-Id")) from None

    def _call(self, method, path, body=None, params=None):
        with self._open(method, path, body, params) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    # ------------------------------------------------------------ health

    def health(self):
        return self._call("GET", "/healthz")

    def ready(self):
        """True when the server has its model and data dir (GET /readyz is 200)."""
        try:
            self._call("GET", "/readyz")
            return True
        except RaglineError as e:
            if e.status == 503:
                return False
            raise

    def metrics(self):
        with self._open("GET", "/metrics", accept="text/plain") as resp:
            return resp.read().decode("utf-8")

    # ------------------------------------------------------------ collections

    def create_collection(self, name, **config):
        """Only `name` is needed; dim/metric default to the server's model. Other keys
        (dim, metric, index, seal_threshold, fsync, lexical) as in docs/server.md."""
        return self._call("POST", "/v1/collections", dict(config, name=name))

    def list_collections(self):
        return self._call("GET", "/v1/collections")

    def get_collection(self, name):
        return self._call("GET", f"/v1/collections/{_quote(name)}")

    def drop_collection(self, name):
        return self._call("DELETE", f"/v1/collections/{_quote(name)}")

    def stats(self, name):
        return self._call("GET", f"/v1/collections/{_quote(name)}/stats")

    def set_alias(self, alias, collection):
        """Creates the alias, or flips it atomically to `collection`."""
        return self._call("PUT", f"/v1/aliases/{_quote(alias)}", {"collection": collection})

    def delete_alias(self, alias):
        return self._call("DELETE", f"/v1/aliases/{_quote(alias)}")

    def list_aliases(self):
        return self._call("GET", "/v1/aliases")["aliases"]

    # ------------------------------------------------------------ vectors

    def upsert_vectors(self, name, vectors):
        """vectors: [{"id", "version"?, "vector", "payload"?}]; returns the upsert counts."""
        return self._call("POST", f"/v1/collections/{_quote(name)}/vectors", {"vectors": list(vectors)})

    def upsert_all(self, name, vectors, batch=512):
        """upsert_vectors for any number of records, `batch` per request."""
        vectors = list(vectors)
        for start in range(0, len(vectors), batch):
            self.upsert_vectors(name, vectors[start:start + batch])

    def delete_vectors(self, name, ids=None, filter=None, all=False):
        """Deletes by ids, by a non-empty payload filter, or every record (all=True)."""
        if (ids is not None) + (filter is not None) + bool(all) != 1:
            raise ValueError("give exactly one of ids, filter or all=True")
        if all:
            body = {"all": True}
        else:
            body = {"ids": list(ids)} if ids is not None else {"filter": filter}
        return self._call("POST", f"/v1/collections/{_quote(name)}/vectors/delete", body)

    def search_vectors(self, name, vector, k=10, filter=None):
        body = {"vector": list(vector), "k": k}
        if filter is not None:
            body["filter"] = filter
        return self._call("POST", f"/v1/collections/{_quote(name)}/vectors/search", body)["hits"]

    def get_vector(self, name, id):
        return self._call("GET", f"/v1/collections/{_quote(name)}/vectors/{_quote(id)}")

    def embed(self, texts):
        """The server's model's embeddings of `texts` (POST /v1/embeddings), one list of
        floats per text, as `ragline embed` makes them."""
        reply = self._call("POST", "/v1/embeddings", {"input": list(texts), "encoding_format": "float"})
        return [d["embedding"] for d in sorted(reply["data"], key=lambda d: d["index"])]

    # ------------------------------------------------------------ documents

    def add_documents(self, name, documents, wait=False):
        """documents: [{"id", "text"} or {"id", "content": bytes, "content_type"}, plus
        "metadata"? and "version"?]. Bytes are sent base64-encoded. wait=True returns
        once the chunks are searchable. Returns the ingest report."""
        docs = []
        for d in documents:
            d = dict(d)
            content = d.pop("content", None)
            if content is not None:
                d["content_base64"] = base64.b64encode(content).decode("ascii")
            docs.append(d)
        params = {"wait": "true"} if wait else None
        return self._call("POST", f"/v1/collections/{_quote(name)}/documents", {"documents": docs}, params)

    def add_file(self, name, path, id=None, content_type=None, metadata=None, wait=False):
        """Posts one file (txt, md, html, pdf; the type from the extension unless given).

        The document id defaults to the path as given, normalised ("docs/a/README"), so
        same-named files in different folders stay different documents."""
        import os
        with open(path, "rb") as f:
            content = f.read()
        ext = os.path.splitext(path)[1].lstrip(".").lower()
        doc = {"id": id or os.path.normpath(path), "content": content, "content_type": content_type or ext}
        if metadata:
            doc["metadata"] = metadata
        return self.add_documents(name, [doc], wait=wait)

    def get_document(self, name, doc_id):
        return self._call("GET", f"/v1/collections/{_quote(name)}/documents/{_quote(doc_id)}")

    def delete_document(self, name, doc_id):
        return self._call("DELETE", f"/v1/collections/{_quote(name)}/documents/{_quote(doc_id)}")

    # ------------------------------------------------------------ query

    @staticmethod
    def _query_body(query, k, filter, mode, generate):
        body = {"query": query, "k": k, "generate": generate}
        if filter is not None:
            body["filter"] = filter
        if mode is not None:
            body["mode"] = mode
        return body

    def query(self, name, query, k=5, filter=None, mode=None, generate=True):
        """{"hits": [...], "answer", "citations", "degraded", ...}"""
        return self._call("POST", f"/v1/collections/{_quote(name)}/query",
                          self._query_body(query, k, filter, mode, generate))

    def query_stream(self, name, query, k=5, filter=None, mode=None):
        """Yields (event, data) pairs as the server sends them: ("hits", {...}),
        ("delta", {"text"}), ..., ("done", {"answer", "citations", "degraded", ...})."""
        body = dict(self._query_body(query, k, filter, mode, True), stream=True)
        with self._open("POST", f"/v1/collections/{_quote(name)}/query", body,
                        accept="text/event-stream") as resp:
            event, data = None, []
            for raw in resp:
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line:
                    if event is not None or data:
                        yield event or "message", json.loads("\n".join(data)) if data else None
                    event, data = None, []
                elif line.startswith(":"):
                    continue
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
            if event is not None or data:
                yield event or "message", json.loads("\n".join(data)) if data else None


class VersionClock:
    """Versions for writes that replace what is stored: the clock in ms, kept
    increasing, so two writes of an id in the same millisecond both land."""

    def __init__(self):
        self._last = 0

    def next(self):
        self._last = max(int(time.time() * 1000), self._last + 1)
        return self._last


def _error_from(status, raw, request_id):
    code, message = "unknown", raw.decode("utf-8", "replace")
    try:
        err = json.loads(raw)["error"]
        code, message = err.get("code", code), err.get("message", message)
    except (ValueError, KeyError, TypeError):
        pass
    return RaglineError(status, code, message, request_id)


class AsyncClient:
    """The routes a retriever or vector store calls, for asyncio code: the same methods
    as Client's, awaited. Needs httpx (installed with langchain-core)."""

    def __init__(self, base_url, api_key=None, timeout=60.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    async def _call(self, method, path, body=None):
        import httpx
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            resp = await http.request(method, self.base_url + path, json=body, headers=headers)
        if resp.status_code >= 400:
            raise _error_from(resp.status_code, resp.content, resp.headers.get("X-Request-Id"))
        return resp.json() if resp.content else None

    async def query(self, name, query, k=5, filter=None, mode=None, generate=True):
        return await self._call("POST", f"/v1/collections/{_quote(name)}/query",
                                Client._query_body(query, k, filter, mode, generate))

    async def search_vectors(self, name, vector, k=10, filter=None):
        body = {"vector": list(vector), "k": k}
        if filter is not None:
            body["filter"] = filter
        return (await self._call("POST", f"/v1/collections/{_quote(name)}/vectors/search", body))["hits"]

    async def embed(self, texts):
        reply = await self._call("POST", "/v1/embeddings", {"input": list(texts), "encoding_format": "float"})
        return [d["embedding"] for d in sorted(reply["data"], key=lambda d: d["index"])]
