from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.authentication import token_pair_for
from accounts.models import Account, ApiKey
from accounts.permissions import IsStaffUser
from accounts.serializers import (
    AccountCreateSerializer,
    AccountSerializer,
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    RegisterRequestSerializer,
    TokenAccessSerializer,
    TokenPairSerializer,
    TokenRefreshRequestSerializer,
    TokenRequestSerializer,
    UserSerializer,
)
from audit.services import client_ip
from ledgerflow.api import ApiView, parse
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses
from ledgerflow.throttling import ScopedRateThrottle

EXAMPLE_USER = {
    "id": 42,
    "email": "ada@example.com",
    "telegram_id": None,
    "is_staff": False,
    "date_joined": "2025-01-01T09:00:00Z",
}
EXAMPLE_ACCOUNT = {
    "id": "acc_1f0c2b5e9a7d4c3b2a1f0e9d",
    "owner": EXAMPLE_USER["id"],
    "name": "Wallet",
    "asset": "USD",
    "balance": "87.50",
    "available": "75.00",
    "pending_debits": "12.50",
    "pending_credits": "0.00",
    "status": "active",
    "allow_negative": False,
    "metadata": {},
    "created_at": "2025-01-01T09:05:00Z",
}
EXAMPLE_API_KEY = {
    "id": 7,
    "name": "indexer",
    "prefix": "3f9a1c0b",
    "created_at": "2025-01-03T12:00:00Z",
    "last_used_at": "2025-01-04T08:30:00Z",
    "revoked_at": None,
}
EXAMPLE_ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjo0Mn0.c2lnbmF0dXJl"
EXAMPLE_REFRESH_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2ln"


class RegisterApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        summary="Register a customer",
        description=(
            "Creates a customer user; anyone may call it (rate-limited). An email already "
            "registered or a password failing Django's validators is 422 `validation_error`."
        ),
        request=RegisterRequestSerializer,
        responses={201: UserSerializer, **problem_responses(400, 422, 429)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Register",
                request_only=True,
                value={"email": "ada@example.com", "password": "correct horse battery"},
            ),
            OpenApiExample("Registered", response_only=True, value=EXAMPLE_USER),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = parse(RegisterRequestSerializer, request)
        user = services.register_user(
            email=data["email"], password=data["password"], telegram_id=data.get("telegram_id")
        )
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    idempotent = False  # tokens are never stored for replay

    @extend_schema(
        summary="Obtain a JWT pair",
        description=(
            "Exchanges email and password for an access and a refresh token; anyone may call it. "
            "Wrong credentials are 401 `authentication_failed`. LOGIN_LOCKOUT_THRESHOLD failures "
            "within LOGIN_LOCKOUT_SECONDS from one client address lock that address out of the "
            "user, LOGIN_LOCKOUT_USER_THRESHOLD from all addresses lock the user: then even the "
            "right password gets 403 `account_locked` with `Retry-After`."
        ),
        request=TokenRequestSerializer,
        responses={200: TokenPairSerializer, **problem_responses(400, 401, 403, 429)},
        examples=[
            OpenApiExample(
                "Login",
                request_only=True,
                value={"email": "ada@example.com", "password": "correct horse battery"},
            ),
            OpenApiExample(
                "Token pair",
                response_only=True,
                value={"access": EXAMPLE_ACCESS_TOKEN, "refresh": EXAMPLE_REFRESH_TOKEN},
            ),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = parse(TokenRequestSerializer, request)
        user = services.check_login(
            email=data["email"], password=data["password"], address=client_ip(request) or ""
        )
        refresh = token_pair_for(user)
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})


class TokenRefreshApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    idempotent = False

    @extend_schema(
        summary="Refresh the access token",
        description=(
            "Exchanges a refresh token for a new access token; anyone holding one may call it. An "
            "expired or invalid token, or one of an inactive user, is 401 `authentication_failed`."
        ),
        request=TokenRefreshRequestSerializer,
        responses={200: TokenAccessSerializer, **problem_responses(400, 401, 429)},
        examples=[
            OpenApiExample("Refresh", request_only=True, value={"refresh": EXAMPLE_REFRESH_TOKEN}),
            OpenApiExample(
                "New access", response_only=True, value={"access": EXAMPLE_ACCESS_TOKEN}
            ),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = parse(TokenRefreshRequestSerializer, request)
        return Response({"access": services.refresh_access(refresh=data["refresh"])})


class MeApi(ApiView):
    @extend_schema(
        summary="The caller",
        description="The authenticated user (JWT or API key); without credentials, 401.",
        responses={200: UserSerializer, **problem_responses(401)},
        examples=[OpenApiExample("A customer", response_only=True, value=EXAMPLE_USER)],
    )
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class ApiKeyListCreateApi(ApiView, generics.ListAPIView):
    permission_classes = [IsStaffUser]
    serializer_class = ApiKeySerializer
    queryset = ApiKey.objects.none()  # names the model for the schema; rows come from selectors
    # A stored replay would keep the raw key in the database; a retry makes a second key.
    idempotent = False

    def get_queryset(self):
        return selectors.api_keys_of(self.request.user)

    @extend_schema(
        summary="List your API keys (staff)",
        description=(
            "The staff caller's own keys, revoked ones included; the secret is never listed. "
            "Customers get 403 `permission_denied`."
        ),
        examples=[OpenApiExample("A key", response_only=True, value=EXAMPLE_API_KEY)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create an API key (staff)",
        description=(
            "Staff only (others: 403). The key acts as the creating staff user; `key` is shown "
            "once, in this response, and a retry makes a second key."
        ),
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer, **problem_responses(400, 401, 403)},
        examples=[
            OpenApiExample("Indexer key", request_only=True, value={"name": "indexer"}),
            OpenApiExample(
                "Created",
                response_only=True,
                value={
                    **EXAMPLE_API_KEY,
                    "last_used_at": None,
                    "key": "3f9a1c0b.Jx8kQ2vN5mR7tY1wZ4aB6cD9eF0gH3iK",
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = parse(ApiKeyCreateSerializer, request)
        api_key, raw_key = services.create_api_key(actor=request.user, name=data["name"])
        body = {**ApiKeySerializer(api_key).data, "key": raw_key}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(ApiView):
    permission_classes = [IsStaffUser]

    @extend_schema(
        summary="Revoke an API key (staff)",
        description=(
            "Staff only (others: 403). The key stops authenticating at once; a key that is not "
            "yours is 404 `not_found`."
        ),
        responses={204: None, **problem_responses(401, 403, 404)},
    )
    def delete(self, request: Request, key_id: int) -> Response:
        api_key = selectors.api_key_for(request.user, key_id)
        services.revoke_api_key(actor=request.user, api_key_id=api_key.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountListCreateApi(ApiView, generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = AccountSerializer
    queryset = Account.objects.none()  # names the model for the schema; rows come from selectors

    def get_queryset(self):
        return selectors.accounts_of(self.request.user)

    @extend_schema(
        summary="List your accounts",
        description="Accounts you own, newest first, cursor-paginated; any authenticated user.",
        examples=[OpenApiExample("An account", response_only=True, value=EXAMPLE_ACCOUNT)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Open an account",
        description=(
            "Opens an account in one asset, owned by the caller, with a zero balance; any "
            "authenticated user. An unknown asset is 422 `validation_error` on `asset`."
        ),
        request=AccountCreateSerializer,
        responses={201: AccountSerializer, **problem_responses(400, 401, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Wallet", request_only=True, value={"asset": "USD", "name": "Wallet"}),
            OpenApiExample(
                "Opened",
                response_only=True,
                value={
                    **EXAMPLE_ACCOUNT,
                    "balance": "0.00",
                    "available": "0.00",
                    "pending_debits": "0.00",
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = parse(AccountCreateSerializer, request)
        account = services.open_account(
            actor=request.user,
            asset_code=data["asset"],
            name=data["name"],
            metadata=data["metadata"],
        )
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)


class AccountDetailApi(ApiView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True

    @extend_schema(
        summary="An account",
        description=(
            "One of your accounts with its balances (`accounts.view_account`: any account); "
            "someone else's is 404 `not_found`."
        ),
        responses={200: AccountSerializer, **problem_responses(401, 404)},
        examples=[OpenApiExample("An account", response_only=True, value=EXAMPLE_ACCOUNT)],
    )
    def get(self, request: Request, account_id: str) -> Response:
        return Response(AccountSerializer(selectors.account_for(request.user, account_id)).data)
