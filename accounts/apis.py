from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import selectors, services
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
from ledgerflow.api import ApiView, parse
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses
from ledgerflow.throttling import ScopedRateThrottle


class RegisterApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        summary="Register a customer",
        description="Creates a user; the password must pass Django's validators.",
        request=RegisterRequestSerializer,
        responses={201: UserSerializer, **problem_responses(400, 422, 429)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Register",
                request_only=True,
                value={"email": "ada@example.com", "password": "correct horse battery"},
            )
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
            "Repeated failures (LOGIN_LOCKOUT_THRESHOLD) lock the user for "
            "LOGIN_LOCKOUT_SECONDS: then even the right password gets 403 `account_locked`."
        ),
        request=TokenRequestSerializer,
        responses={200: TokenPairSerializer, **problem_responses(400, 401, 403, 429)},
        examples=[
            OpenApiExample(
                "Login",
                request_only=True,
                value={"email": "ada@example.com", "password": "correct horse battery"},
            )
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = parse(TokenRequestSerializer, request)
        user = services.check_login(email=data["email"], password=data["password"])
        refresh = RefreshToken.for_user(user)
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})


class TokenRefreshApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    idempotent = False

    @extend_schema(
        summary="Refresh the access token",
        request=TokenRefreshRequestSerializer,
        responses={200: TokenAccessSerializer, **problem_responses(400, 401, 429)},
        examples=[OpenApiExample("Refresh", request_only=True, value={"refresh": "eyJ…"})],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = parse(TokenRefreshRequestSerializer, request)
        return Response({"access": services.refresh_access(refresh=data["refresh"])})


class MeApi(ApiView):
    @extend_schema(summary="The caller", responses={200: UserSerializer, **problem_responses(401)})
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

    @extend_schema(summary="List your API keys (staff)")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create an API key (staff)",
        description="The key acts as the creating staff user. `key` is shown once.",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer, **problem_responses(400, 401, 403)},
        examples=[OpenApiExample("Indexer key", request_only=True, value={"name": "indexer"})],
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

    @extend_schema(summary="List your accounts")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Open an account",
        request=AccountCreateSerializer,
        responses={201: AccountSerializer, **problem_responses(400, 401, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Wallet", request_only=True, value={"asset": "USD", "name": "Wallet"})
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
    @extend_schema(
        summary="An account", responses={200: AccountSerializer, **problem_responses(401, 404)}
    )
    def get(self, request: Request, account_id: str) -> Response:
        return Response(AccountSerializer(selectors.account_for(request.user, account_id)).data)
