"""An ASGI middleware for `vllm serve --middleware`: the API key guards every route, not only /v1.

vLLM 0.32's own --api-key check guards paths starting with /v1, /v2, /inference and /cohere, which
leaves /classify, /pooling, /score and /rerank open. This one (loaded inside the vLLM server process,
in the serve env) requires `Authorization: Bearer $VLLM_API_KEY` everywhere but the probe routes.
"""

from __future__ import annotations

import os

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from vllm.entrypoints.serve.middleware.authenticate import AuthenticationMiddleware

OPEN = ("/health", "/ping", "/version")


class GuardAll(AuthenticationMiddleware):
    def __init__(self, app) -> None:
        super().__init__(app, tokens=[os.environ["VLLM_API_KEY"]])

    def __call__(self, scope, receive, send):
        path = scope.get("path", "").removeprefix(scope.get("root_path", ""))
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or path in OPEN:
            return self.app(scope, receive, send)
        if not self.verify_token(Headers(scope=scope)):
            return JSONResponse(content={"error": "Unauthorized"}, status_code=401)(scope, receive, send)
        return self.app(scope, receive, send)
