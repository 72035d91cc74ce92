"""The API's RFC 9457 problem+json answers as one exception type."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A non-2xx answer. `code` is the stable machine-readable code (DESIGN §4 / README Errors)."""

    def __init__(self, status: int, problem: dict[str, Any], headers: dict[str, str]):
        self.status = status
        self.problem = problem
        self.headers = headers
        self.code: str = problem.get("code", "unknown")
        self.detail: str = problem.get("detail", "")
        self.errors: dict[str, Any] = problem.get("errors") or {}
        self.request_id: str | None = problem.get("request_id") or headers.get("X-Request-ID")
        super().__init__(f"{status} {self.code}: {self.detail}")

    @property
    def retryable(self) -> bool:
        """Safe to send again with the same Idempotency-Key: nothing was applied."""
        if self.status in (429, 503):
            return True
        return self.status == 409 and self.code in ("contention", "idempotency_request_in_progress")
