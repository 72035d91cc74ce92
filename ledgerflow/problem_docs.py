"""The catalogue of problem codes, and the pages their `type` URIs point to.

One list feeds both the HTML page under /docs/problems/ and the descriptions of error responses
in the OpenAPI document (ledgerflow.schema). Codes, titles and statuses come from where the
errors are defined: every `DomainError` subclass in an app's `errors` module, the DRF exceptions
problems.py maps, and the few codes problems.py writes itself; each is an `ErrorCode` member
(ledgerflow.errors). What each code means and what a client should do is written once, below
(a class docstring stands in for a code not listed).
"""

import importlib
import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import TypeVar

from django.apps import apps
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from ledgerflow.errors import DomainError, ErrorCode

T = TypeVar("T")

# Codes raised by several classes with different titles: the code's own title.
TITLES = {ErrorCode.LIMIT_EXCEEDED: "Limit exceeded", ErrorCode.VALIDATION_ERROR: "Invalid request"}

# What each code means to a client and what to do about it: the one place it is written (the
# OpenAPI error descriptions and /docs/problems/ read it through `catalogue()`).
EXPLANATIONS: dict[ErrorCode, str] = {
    ErrorCode.VALIDATION_ERROR: (
        "The request has invalid fields (400) or breaks a rule (422): an unknown asset, a "
        "transfer to the same account, more decimals than the asset allows, unbalanced "
        "journal entries, a malformed `Idempotency-Key`. `errors` maps each field to its "
        "messages. Fix the request; retrying it unchanged fails the same way."
    ),
    ErrorCode.PARSE_ERROR: (
        "The body is not valid JSON, holds NaN or infinities, or nests deeper than 32 levels. "
        "Send well-formed JSON with `Content-Type: application/json`."
    ),
    ErrorCode.BAD_REQUEST: (
        "The request is malformed at the HTTP level (for example a Host header the server "
        "does not serve). Nothing was read or changed."
    ),
    ErrorCode.NOT_AUTHENTICATED: (
        "No credentials were sent. Send `Authorization: Bearer <access token>` (from `POST "
        "/api/v1/auth/token`) or `Authorization: Api-Key <key>`."
    ),
    ErrorCode.AUTHENTICATION_FAILED: (
        "The credentials were wrong: an unknown email or password, an expired, revoked or "
        "forged token, a revoked API key, or a deactivated user. Refresh the access token or "
        "log in again."
    ),
    ErrorCode.INVALID_TOKEN: (
        "A mailed token (email verification, password reset) is forged, tampered with, meant "
        "for another purpose, already used, or no longer matches its user. Request a new one."
    ),
    ErrorCode.TOKEN_EXPIRED: (
        "A mailed token (email verification, password reset) is past its lifetime. Request "
        "a new one."
    ),
    ErrorCode.PERMISSION_DENIED: (
        "You are authenticated but may not do this: the endpoint needs an operator right "
        "(a Django permission such as `ledger.deposit`) that your user or API key lacks. "
        "Ask an administrator for the right; retrying will not help."
    ),
    ErrorCode.ACCOUNT_LOCKED: (
        "Too many failed logins: even the right password is refused until the lock expires. "
        "Wait for `Retry-After` seconds."
    ),
    ErrorCode.EMAIL_NOT_VERIFIED: (
        "Money can move only once the customer's email is verified (REQUIRE_VERIFIED_EMAIL). "
        "Confirm the email with the mailed link, or request a new one."
    ),
    ErrorCode.NOT_FOUND: (
        "No such object, or it belongs to someone else (LedgerFlow answers 404, not 403, so "
        "ids reveal nothing). Also a cursor that is not one the API handed out, and any "
        "unknown path under /api/."
    ),
    ErrorCode.METHOD_NOT_ALLOWED: (
        "The endpoint exists but not with this HTTP method; `Allow` lists the methods it has."
    ),
    ErrorCode.NOT_ACCEPTABLE: (
        "The `Accept` header asks for a representation the endpoint cannot produce. Accept "
        "`application/json` (errors are `application/problem+json`)."
    ),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (
        "The body's `Content-Type` is not one the endpoint reads. Send `application/json`."
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: (
        "The body exceeds the size limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default) "
        "and was refused unread. Split the work, e.g. into several batches."
    ),
    ErrorCode.INSUFFICIENT_FUNDS: (
        "The source account's available balance (balance minus pending holds) is smaller "
        "than the amount. Nothing moved. Fund the account or move less."
    ),
    ErrorCode.ACCOUNT_INACTIVE: (
        "An account taking part is frozen or closed and refuses movements. Closed accounts "
        "stay readable forever; an operator can unfreeze a frozen one."
    ),
    ErrorCode.ACCOUNT_NOT_EMPTY: (
        "An account can be closed only at a zero balance. Move the money out first."
    ),
    ErrorCode.ACCOUNT_HAS_PENDING_HOLDS: (
        "An account can be closed only when no pending transfer holds its funds. Post or "
        "void the holds first."
    ),
    ErrorCode.ACCOUNT_HAS_PENDING_ORDERS: (
        "An account can be closed only when none of its payment orders is pending. Cancel "
        "them or wait for them to complete or expire."
    ),
    ErrorCode.ASSET_MISMATCH: (
        "The accounts hold different assets; money moves only between accounts of one asset."
    ),
    ErrorCode.INVALID_STATE: (
        "The object is not in a state that allows this: a hold already posted or voided, a "
        "transaction already reversed, an order no longer pending, an export not yet "
        "completed, a delivery that has not failed. Read the object to see its state."
    ),
    ErrorCode.TOO_MANY_PENDING_ORDERS: (
        "The account already holds MAX_PENDING_ORDERS (2 by default) pending orders. "
        "Complete, cancel or let one expire before opening another."
    ),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: (
        "This `Idempotency-Key` was used before with a different request (method, path or "
        "body). Use a new key for a new operation; resend the original body to get the "
        "original answer."
    ),
    ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS: (
        "The first request with this `Idempotency-Key` is still running. Retry after "
        "`Retry-After` seconds: you will get its answer."
    ),
    ErrorCode.CONTENTION: (
        "The accounts were too busy to lock within the retries the server makes itself. "
        "Nothing changed: retry after `Retry-After` seconds with the same `Idempotency-Key`."
    ),
    ErrorCode.LIMIT_EXCEEDED: (
        "A limit refused the request: a risk rule or an account's maximum balance for a "
        "movement, or the number of webhook endpoints a user may register."
    ),
    ErrorCode.RATE_LIMITED: (
        "Too many requests from you in the current window. Wait `Retry-After` seconds; the "
        "`RateLimit-*` headers, where present, show the budget."
    ),
    ErrorCode.SERVICE_UNAVAILABLE: (
        "A dependency (the database) is unreachable or dropped the connection. Retry after "
        "`Retry-After` seconds with the same `Idempotency-Key`: if the work did commit, the "
        "retry replays it, otherwise it runs afresh. `/ready` answers this code too."
    ),
    ErrorCode.INTERNAL_ERROR: (
        "A bug: the server failed unexpectedly and changed nothing it could not roll back. "
        "Quote `request_id` when reporting it."
    ),
    ErrorCode.ERROR: "An HTTP error without a more specific code; `status` and `detail` say what.",
}


@dataclass(frozen=True)
class ProblemDoc:
    code: ErrorCode
    title: str
    statuses: tuple[int, ...]
    explanation: str

    @property
    def explanation_html(self) -> SafeString:
        """Escaped, with `backticks` as <code>."""
        return mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(self.explanation)))  # noqa: S308 - escaped first  # nosec B308 B703


def _subclasses(cls: type[T]) -> list[type[T]]:
    found: list[type[T]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def _import_error_modules() -> None:
    """Every installed app's `errors` module, so that all DomainError subclasses exist."""
    for config in apps.get_app_configs():
        name = f"{config.name}.errors"
        if importlib.util.find_spec(config.name) and importlib.util.find_spec(name):
            importlib.import_module(name)


def _raw_codes() -> list[tuple[ErrorCode, int, str, str]]:
    """(code, status, title, docstring) of everything that can appear as a problem `code`."""
    from ledgerflow.problems import _DRF_CODES, HANDLER_CODES

    _import_error_modules()
    found = [(DomainError.code, DomainError.status, DomainError.title, "")]
    for cls in _subclasses(DomainError):
        own_doc = cls.__dict__.get("__doc__") or ""
        found.append((cls.code, cls.status, cls.title, own_doc))
    for exc, code, title in _DRF_CODES:
        found.append((code, exc.status_code, title, ""))
    found.extend((code, status, title, "") for code, status, title in HANDLER_CODES)
    found.append((ErrorCode.ERROR, 0, "Error", ""))  # any status DRF has no code for
    # A code outside the enum is a typo or an undocumented contract change: fail loudly.
    return [(ErrorCode(code), status, title, doc) for code, status, title, doc in found]


@cache
def catalogue() -> dict[ErrorCode, ProblemDoc]:
    """code -> ProblemDoc, sorted by code; the first title seen for a code is its own."""
    titles: dict[ErrorCode, str] = {}
    statuses: dict[ErrorCode, set[int]] = {}
    docs: dict[ErrorCode, str] = {}
    for code, status, title, doc in _raw_codes():
        titles.setdefault(code, title)
        statuses.setdefault(code, set()).add(status)
        if doc and code not in docs:
            docs[code] = " ".join(doc.split())
    return {
        code: ProblemDoc(
            code=code,
            title=TITLES.get(code, titles[code]),
            statuses=tuple(sorted(statuses[code] - {0})),
            explanation=EXPLANATIONS.get(code) or docs.get(code) or "",
        )
        for code in sorted(titles)
    }


def codes_for_status(status: int) -> list[ProblemDoc]:
    return [doc for doc in catalogue().values() if status in doc.statuses]


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@require_GET
def problem_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "docs/problems.html",
        {"problems": list(catalogue().values()), "single": False},
    )


@require_GET
def problem_detail(request: HttpRequest, code: str) -> HttpResponse:
    try:
        doc = catalogue()[ErrorCode(code)]
    except (ValueError, KeyError):  # not a code at all, or one with no entry
        raise Http404(f"No problem code {code!r}.") from None
    return render(request, "docs/problems.html", {"problems": [doc], "single": True})
