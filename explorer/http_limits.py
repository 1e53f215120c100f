"""Bounds at the door: a request body larger than anything the page sends is refused (413) — from its declared length
before a byte of it is read, or, for a body sent in chunks without one, as soon as it has sent too much. Gradio checks
`max_file_size` per file while it parses an upload; this also bounds a request with many files and every JSON body (a
drawing is ≈ 20 kB). An upload cut short is ended with Gradio's own multipart error, so that Gradio deletes the
files it had started (any other exception would leave them in its upload folder)."""
from __future__ import annotations

from gradio.route_utils import MultiPartException  # what Gradio's upload route answers with 413 after cleaning up
from starlette.middleware import Middleware

MAX_UPLOAD_BYTES = 5 * 2**20  # one uploaded image (Gradio's `max_file_size`)
UPLOAD_SLACK_BYTES = 64 * 2**10  # the multipart form around it
MAX_BODY_BYTES = 2 * 2**20  # any other request: JSON for the queue and the API


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: at most `max_upload + slack` bytes for `…/upload`, `max_body` for any other request."""

    def __init__(self, app, max_body: int = MAX_BODY_BYTES, max_upload: int = MAX_UPLOAD_BYTES):
        self.app, self.max_body, self.max_upload = app, max_body, max_upload

    @staticmethod
    def is_upload(path: str) -> bool:
        return path.rstrip("/").endswith("/upload")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = self.is_upload(scope.get("path", ""))
        limit = self.max_upload + UPLOAD_SLACK_BYTES if upload else self.max_body
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await refuse(send, 413, too_large(limit))
        received, started = 0, False

        async def bounded_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise (MultiPartException(f"File size exceeded maximum allowed size of {limit} bytes.")
                           if upload else BodyTooLarge())
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except BodyTooLarge:  # more than it declared, or a chunked body past the limit: reading stops here
            if not started:
                await refuse(send, 413, too_large(limit))


def too_large(limit: int) -> str:
    return f"The request is larger than this server accepts ({limit / 2**20:.1f} MB)."


async def refuse(send, status: int, sentence: str) -> None:
    body = sentence.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def launch_options() -> dict:
    """What `demo.launch` needs for these bounds (a new dict each time: Gradio adds to app_kwargs)."""
    return {"max_file_size": MAX_UPLOAD_BYTES, "app_kwargs": {"middleware": [Middleware(BodyLimit)]}}
