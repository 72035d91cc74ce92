"""`LedgerFlow`: one method per API operation, named like the schema's operationIds.

Money amounts go in and come out as decimal strings ("12.50"), never floats. Every state-changing
call sends an `Idempotency-Key` (a new UUID unless you pass one), so retrying it is always safe:
the client retries by itself on 409 `contention` / `idempotency_request_in_progress`, 429 and 503
(honouring `Retry-After`) and on connection errors, with the same key each time.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TypedDict

import requests

from .errors import ApiError

Json = dict[str, Any]
Amount = str | int | Decimal


class Entry(TypedDict, total=False):
    account: str
    amount: str
    balance_after: str


class Transaction(TypedDict, total=False):
    id: str
    kind: str
    status: str
    reference: str
    category: str
    metadata: Json
    amount: str
    asset: str
    created_at: str
    reverses: str | None
    entries: list[Entry]


class Account(TypedDict, total=False):
    id: str
    owner: int
    name: str
    asset: str
    balance: str
    available: str
    pending_debits: str
    pending_credits: str
    status: str
    allow_negative: bool
    metadata: Json
    created_at: str


class Balance(TypedDict, total=False):
    account: str
    asset: str
    balance: str
    available: str
    pending_debits: str
    pending_credits: str
    as_of: str


class Order(TypedDict, total=False):
    order_id: str
    account: str
    amount: str
    asset: str
    status: str
    vault_address: str
    tx_hash: str | None
    expires_at: str
    created_at: str


class Event(TypedDict, total=False):
    id: str
    type: str
    created_at: str
    data: Json


class WebhookEndpoint(TypedDict, total=False):
    id: int
    url: str
    events: list[str]
    is_active: bool
    secret: str


def _amount(value: Amount) -> str:
    if isinstance(value, float):
        raise TypeError("amounts are decimal strings, Decimal or int, never float")
    return str(value)


def _drop_none(values: Mapping[str, Any]) -> Json:
    return {key: value for key, value in values.items() if value is not None}


class LedgerFlow:
    """A session against one LedgerFlow server.

    Authenticate with an API key (`api_key=`), an access token (`access_token=`), or call
    `login(email, password)`; after `login` an expired access token is refreshed once
    automatically.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 4,
        backoff: float = 0.25,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.session = session or requests.Session()

    # -- plumbing ------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Api-Key {self.api_key}"
        elif self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return headers

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/api/v1/{path.lstrip('/')}"

    def _pause(self, attempt: int, response: requests.Response | None) -> None:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), 30.0)
        else:
            delay = self.backoff * 2**attempt
        time.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not crypto)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Json | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        authenticated: bool = True,
    ) -> Any:
        """Send one request; return the decoded JSON body (None for 204); raise ApiError."""
        headers = self._headers() if authenticated else {"Accept": "application/json"}
        if method == "POST" and authenticated:  # auth endpoints store nothing for replay
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        refreshed = False
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    self._url(path),
                    json=json,
                    params=_drop_none(params or {}),
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.ConnectionError:
                # The request may or may not have arrived: the Idempotency-Key makes resending safe.
                if attempt >= self.max_retries or (method not in ("GET", "POST")):
                    raise
                self._pause(attempt, None)
                attempt += 1
                continue
            if response.status_code < 400:
                return response.json() if response.content else None
            error = ApiError(response.status_code, self._problem(response), dict(response.headers))
            if (
                error.status == 401
                and authenticated
                and self.refresh_token
                and not self.api_key
                and not refreshed
            ):
                refreshed = True
                self.refresh()
                headers.update(self._headers())
                continue
            if error.retryable and attempt < self.max_retries:
                self._pause(attempt, response)
                attempt += 1
                continue
            raise error

    @staticmethod
    def _problem(response: requests.Response) -> Json:
        try:
            body = response.json()
        except ValueError:
            return {"code": "unknown", "detail": response.text[:200]}
        return body if isinstance(body, dict) else {"code": "unknown", "detail": str(body)}

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Json]:
        """Every item of a cursor-paginated list, following `next` until it is null."""
        page = self.request("GET", path, params=params)
        while True:
            yield from page["results"]
            if not page.get("next"):
                return
            page = self.request("GET", page["next"])

    # -- auth ----------------------------------------------------------------------------------

    def register(self, email: str, password: str, **extra: Any) -> Json:
        return self.request(
            "POST",
            "auth/register",
            json={"email": email, "password": password, **extra},
            authenticated=False,
        )

    def login(self, email: str, password: str) -> Json:
        pair = self.request(
            "POST", "auth/token", json={"email": email, "password": password}, authenticated=False
        )
        self.access_token, self.refresh_token = pair["access"], pair["refresh"]
        return pair

    def refresh(self) -> Json:
        tokens = self.request(
            "POST", "auth/token/refresh", json={"refresh": self.refresh_token}, authenticated=False
        )
        self.access_token = tokens["access"]
        self.refresh_token = tokens.get("refresh", self.refresh_token)  # rotated when enabled
        return tokens

    def get_me(self) -> Json:
        return self.request("GET", "auth/me")

    # -- accounts ------------------------------------------------------------------------------

    def create_account(
        self, asset: str, name: str | None = None, metadata: Json | None = None
    ) -> Account:
        body = _drop_none({"asset": asset, "name": name, "metadata": metadata})
        return self.request("POST", "accounts", json=body)

    def list_accounts(self, **filters: Any) -> Iterator[Account]:
        return self.paginate("accounts", filters)  # type: ignore[return-value]

    def get_account(self, account_id: str) -> Account:
        return self.request("GET", f"accounts/{account_id}")

    def get_balance(self, account_id: str, at: str | None = None) -> Balance:
        return self.request("GET", f"accounts/{account_id}/balance", params={"at": at})

    def list_entries(self, account_id: str, **filters: Any) -> Iterator[Json]:
        return self.paginate(f"accounts/{account_id}/entries", filters)

    # -- money ---------------------------------------------------------------------------------

    def create_transfer(
        self,
        from_account: str,
        to_account: str,
        amount: Amount,
        *,
        reference: str | None = None,
        category: str | None = None,
        metadata: Json | None = None,
        pending: bool | None = None,
        expires_at: str | None = None,
        idempotency_key: str | None = None,
    ) -> Transaction:
        body = _drop_none(
            {
                "from_account": from_account,
                "to_account": to_account,
                "amount": _amount(amount),
                "reference": reference,
                "category": category,
                "metadata": metadata,
                "pending": pending,
                "expires_at": expires_at,
            }
        )
        return self.request("POST", "transfers", json=body, idempotency_key=idempotency_key)

    def create_deposit(
        self,
        account: str,
        amount: Amount,
        *,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> Transaction:
        body = _drop_none({"account": account, "amount": _amount(amount), "reference": reference})
        return self.request("POST", "deposits", json=body, idempotency_key=idempotency_key)

    def create_withdrawal(
        self,
        account: str,
        amount: Amount,
        *,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> Transaction:
        body = _drop_none({"account": account, "amount": _amount(amount), "reference": reference})
        return self.request("POST", "withdrawals", json=body, idempotency_key=idempotency_key)

    def list_transactions(self, **filters: Any) -> Iterator[Transaction]:
        return self.paginate("transactions", filters)  # type: ignore[return-value]

    def get_transaction(self, transaction_id: str) -> Transaction:
        return self.request("GET", f"transactions/{transaction_id}")

    def post_transaction(
        self,
        transaction_id: str,
        amount: Amount | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Transaction:
        body = _drop_none({"amount": None if amount is None else _amount(amount)})
        return self.request(
            "POST",
            f"transactions/{transaction_id}/post",
            json=body,
            idempotency_key=idempotency_key,
        )

    def void_transaction(
        self, transaction_id: str, *, idempotency_key: str | None = None
    ) -> Transaction:
        return self.request(
            "POST", f"transactions/{transaction_id}/void", json={}, idempotency_key=idempotency_key
        )

    # -- orders --------------------------------------------------------------------------------

    def create_order(
        self, account: str, amount: Amount, *, idempotency_key: str | None = None
    ) -> Order:
        body = {"account": account, "amount": _amount(amount)}
        return self.request("POST", "orders", json=body, idempotency_key=idempotency_key)

    def list_orders(self, **filters: Any) -> Iterator[Order]:
        return self.paginate("orders", filters)  # type: ignore[return-value]

    def get_order(self, order_id: str) -> Order:
        return self.request("GET", f"orders/{order_id}")

    # -- webhooks and events -------------------------------------------------------------------

    def create_webhook_endpoint(self, url: str, events: list[str]) -> WebhookEndpoint:
        return self.request("POST", "webhook-endpoints", json={"url": url, "events": events})

    def list_webhook_endpoints(self) -> Iterator[WebhookEndpoint]:
        return self.paginate("webhook-endpoints")  # type: ignore[return-value]

    def list_events(self, **filters: Any) -> Iterator[Event]:
        return self.paginate("events", filters)  # type: ignore[return-value]
