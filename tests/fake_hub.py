"""A local stand-in for the few Hugging Face Hub endpoints that `huggingface_hub` calls to create a model repo,
commit files to it and download a snapshot — on 127.0.0.1, so the push/pull code runs for real with no network.

Every file is committed "regular" (base64 inside the commit's NDJSON): the Hub itself would send the large ones
through LFS/Xet, which this server does not speak. What it checks: the requests' shapes, the bytes, and that a
revision is a branch or a commit that exists.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


class FakeHub:
    def __init__(self, account: dict | None = None):
        self.repos: dict[str, dict] = {}  # repo id → {"commits": [(sha, {path: bytes})], "private": bool}
        self.account = account or {"type": "user", "name": "alice", "isPro": False, "orgs": []}  # /api/whoami-v2
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes] | None:
        commits = self.repos[repo_id]["commits"]
        if revision == "main":
            return commits[-1][1] if commits else {}
        return next((files for sha, files in commits if sha == revision), None)

    def sha(self, repo_id: str, revision: str = "main") -> str | None:
        commits = self.repos[repo_id]["commits"]
        if revision == "main":
            return commits[-1][0] if commits else "0" * 40
        return revision if any(sha == revision for sha, _ in commits) else None


def serve(hub: FakeHub, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _reply(self, status: int, body=b"", headers=None, head=False):
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if isinstance(body, (dict, list)):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _missing(self, code: str, head=False):
            self._reply(404, {"error": code}, {"X-Error-Code": code, "X-Error-Message": code}, head)

        def do_POST(self):
            path = unquote(urlparse(self.path).path)
            hub.requests.append(f"POST {path}")
            body = self._body()
            if path == "/api/repos/create":
                payload = json.loads(body)
                repo_id = payload["name"] if "/" in payload["name"] else f"{payload.get('organization')}/{payload['name']}"
                with hub.lock:
                    hub.repos.setdefault(repo_id, {"commits": [], "private": bool(payload.get("private")),
                                                   "type": payload.get("type", "model"), "create": payload})
                return self._reply(200, {"url": f"http://{self.headers['Host']}/{repo_id}", "name": repo_id, "id": repo_id})
            if path == "/api/validate-yaml":
                return self._reply(200, {})
            match = re.fullmatch(r"/api/(?:models|spaces)/([^/]+/[^/]+)/(preupload|commit)/(.+)", path)
            if not match or match[1] not in hub.repos:
                return self._missing("RepoNotFound")
            repo_id, action = match[1], match[2]
            if action == "preupload":
                files = json.loads(body)["files"]
                return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                                    "oid": None} for f in files]})
            with hub.lock:
                files = dict(hub.files(repo_id) or {})
                for line in body.splitlines():
                    entry = json.loads(line)
                    if entry["key"] == "file":
                        files[entry["value"]["path"]] = base64.b64decode(entry["value"]["content"])
                    elif entry["key"] == "deletedFile":
                        files.pop(entry["value"]["path"], None)
                sha = hashlib.sha1(repr(sorted((p, hashlib.sha1(d).hexdigest()) for p, d in files.items())).encode()).hexdigest()
                hub.repos[repo_id]["commits"].append((sha, files))
            return self._reply(200, {"commitOid": sha, "commitUrl": f"http://{self.headers['Host']}/{repo_id}/commit/{sha}",
                                     "pullRequestUrl": None})

        def do_HEAD(self):
            self.do_GET(head=True)

        def _snapshot(self, repo_id: str, revision: str, head: bool):
            """(sha, files) of a repo at a branch or commit, or None after replying 404 with the Hub's error code."""
            if repo_id not in hub.repos:
                return self._missing("RepoNotFound", head)
            sha = hub.sha(repo_id, revision)
            if sha is None:
                return self._missing("RevisionNotFound", head)
            return sha, hub.files(repo_id, sha)

        def do_GET(self, head=False):
            path = unquote(urlparse(self.path).path)
            hub.requests.append(f"{'HEAD' if head else 'GET'} {path}")
            if path == "/api/whoami-v2":
                return self._reply(200, hub.account, head=head)
            match = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/(.+))?", path)
            if match:
                repo_id = match[1]
                if not (found := self._snapshot(repo_id, match[2] or "main", head)):
                    return
                sha, files = found
                return self._reply(200, {"id": repo_id, "modelId": repo_id, "sha": sha, "private": hub.repos[repo_id]["private"],
                                         "siblings": [{"rfilename": p} for p in sorted(files)]}, head=head)
            match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/.*)?", path)
            if match:
                if not (found := self._snapshot(match[1], match[2], head)):
                    return
                _, files = found
                return self._reply(200, [{"type": "file", "path": p, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                                         for p, d in sorted(files.items())], head=head)
            match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
            if match:
                filename = match[3]
                if not (found := self._snapshot(match[1], match[2], head)):
                    return
                sha, files = found
                if filename not in files:
                    return self._missing("EntryNotFound", head)
                data = files[filename]
                etag = hashlib.sha1(data).hexdigest()
                return self._reply(200, data, {"X-Repo-Commit": sha, "ETag": f'"{etag}"'}, head)
            return self._missing("NotFound", head)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
