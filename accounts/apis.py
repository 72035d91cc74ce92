from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import roles, selectors, services
from accounts.authentication import token_pair_for
from accounts.models import Account, ApiKey, User
from accounts.permissions import (
    CHANGE_ACCOUNTS,
    MANAGE_USERS,
    VIEW_USERS,
    AuthenticatedRequest,
    IsStaffUser,
)
from accounts.serializers import (
    AcceptedSerializer,
    AccountCreateSerializer,
    AccountSerializer,
    AccountUpdateSerializer,
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    LogoutRequestSerializer,
    ManagedUserSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    RegisterRequestSerializer,
    TokenConfirmSerializer,
    TokenPairSerializer,
    TokenRefreshRequestSerializer,
    TokenRequestSerializer,
    UserFilterSerializer,
    UserRoleUpdateSerializer,
    UserSerializer,
)
from audit.services import client_ip
from ledgerflow.api import ApiView, parse
from ledgerflow.pagination import NewestFirstCursorPagination
from ledgerflow.permissions import requires
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses
from ledgerflow.throttling import ScopedRateThrottle

EXAMPLE_USER = {
    "id": 42,
    "email": "ada@example.com",
    "telegram_id": None,
    "is_staff": False,
    "email_verified": False,
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
        operation_id="register_user",
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
        operation_id="obtain_token",
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
        operation_id="refresh_token",
        summary="Refresh the access token",
        description=(
            "Exchanges a refresh token for a new access token and a new refresh token; anyone "
            "holding one may call it. Refresh tokens rotate: the one sent is revoked, and using "
            "it again (or after logout or a password reset) is 401 `authentication_failed`, as "
            "is an expired or invalid token or one of an inactive user."
        ),
        request=TokenRefreshRequestSerializer,
        responses={200: TokenPairSerializer, **problem_responses(400, 401, 429)},
        examples=[
            OpenApiExample("Refresh", request_only=True, value={"refresh": EXAMPLE_REFRESH_TOKEN}),
            OpenApiExample(
                "New pair",
                response_only=True,
                value={"access": EXAMPLE_ACCESS_TOKEN, "refresh": EXAMPLE_REFRESH_TOKEN},
            ),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = parse(TokenRefreshRequestSerializer, request)
        access, refresh = services.rotate_refresh(refresh=data["refresh"])
        return Response({"access": access, "refresh": refresh})


class MeApi(ApiView):
    @extend_schema(
        operation_id="get_current_user",
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
        operation_id="list_api_keys",
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
        operation_id="create_api_key",
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
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(ApiKeyCreateSerializer, request)
        api_key, raw_key = services.create_api_key(actor=request.user, name=data["name"])
        body = {**ApiKeySerializer(api_key).data, "key": raw_key}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(ApiView):
    permission_classes = [IsStaffUser]

    @extend_schema(
        operation_id="revoke_api_key",
        summary="Revoke an API key (staff)",
        description=(
            "Staff only (others: 403). The key stops authenticating at once; a key that is not "
            "yours is 404 `not_found`."
        ),
        responses={204: None, **problem_responses(401, 403, 404)},
    )
    def delete(self, request: AuthenticatedRequest, key_id: int) -> Response:
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
        operation_id="list_accounts",
        summary="List your accounts",
        description="Accounts you own, newest first, cursor-paginated; any authenticated user.",
        examples=[OpenApiExample("An account", response_only=True, value=EXAMPLE_ACCOUNT)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="create_account",
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
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(AccountCreateSerializer, request)
        account = services.open_account(
            actor=request.user,
            asset_code=data["asset"],
            name=data["name"],
            metadata=data["metadata"],
        )
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)


class AccountDetailApi(ApiView):
    @property
    def stateless_user(self) -> bool:
        # Customers' tokens cost no database read on GET (accounts.authentication); a change
        # is rarer and checks the user row.
        return self.request.method == "GET"

    @extend_schema(
        operation_id="get_account",
        summary="An account",
        description=(
            "One of your accounts with its balances (`accounts.view_account`: any account); "
            "someone else's is 404 `not_found`."
        ),
        responses={200: AccountSerializer, **problem_responses(401, 404)},
        examples=[OpenApiExample("An account", response_only=True, value=EXAMPLE_ACCOUNT)],
    )
    def get(self, request: AuthenticatedRequest, account_id: str) -> Response:
        return Response(AccountSerializer(selectors.account_for(request.user, account_id)).data)

    @extend_schema(
        operation_id="update_account",
        summary="Rename an account or replace its metadata",
        description=(
            "The owner, or staff holding `accounts.change_account`, may change `name` and "
            "`metadata` (replaced whole); fields left out stay as they are. Someone else's "
            "account is 404 `not_found`; a closed account is 409 `account_inactive`. Records "
            "`account.updated` when something changed."
        ),
        request=AccountUpdateSerializer,
        responses={200: AccountSerializer, **problem_responses(400, 401, 404, 409)},
        examples=[
            OpenApiExample(
                "Rename",
                request_only=True,
                value={"name": "Savings", "metadata": {"purpose": "rainy day"}},
            ),
            OpenApiExample(
                "Renamed",
                response_only=True,
                value={**EXAMPLE_ACCOUNT, "name": "Savings", "metadata": {"purpose": "rainy day"}},
            ),
        ],
    )
    def patch(self, request: AuthenticatedRequest, account_id: str) -> Response:
        data = parse(AccountUpdateSerializer, request, partial=True)
        account = selectors.account_for(request.user, account_id, right=CHANGE_ACCOUNTS)
        account = services.update_account(
            actor=request.user,
            account_id=account.pk,
            name=data.get("name"),
            metadata=data.get("metadata"),
        )
        return Response(AccountSerializer(account).data)


class AccountCloseApi(ApiView):
    @extend_schema(
        operation_id="close_account",
        summary="Close an account",
        description=(
            "The owner, or staff holding `accounts.change_account`, closes an account for "
            "good: from then on it refuses every movement (409 `account_inactive`) and stays "
            "readable. Only at a zero balance with nothing pending, else 409 with the reason: "
            "`account_not_empty`, `account_has_pending_holds`, `account_has_pending_orders`; "
            "a system or already closed account is 409 `invalid_state`, a frozen one is 409 "
            "`account_inactive` for its owner. Race-safe against concurrent transfers (the "
            "account's row lock). Records `account.closed`."
        ),
        request=None,
        responses={200: AccountSerializer, **problem_responses(401, 404, 409)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Closed",
                response_only=True,
                value={
                    **EXAMPLE_ACCOUNT,
                    "balance": "0.00",
                    "available": "0.00",
                    "pending_debits": "0.00",
                    "status": "closed",
                },
            )
        ],
    )
    def post(self, request: AuthenticatedRequest, account_id: str) -> Response:
        account = selectors.account_for(request.user, account_id, right=CHANGE_ACCOUNTS)
        account = services.close_account(actor=request.user, account_id=account.pk)
        return Response(AccountSerializer(account).data)


# --- sessions, email verification, password reset ---------------------------------------------

ACCEPTED = {"detail": "Accepted: if the address can receive mail, a message is on its way."}
EXAMPLE_MAILED_TOKEN = "eyJ1IjogNDIsICJzIjogIjNmOWExYzBiIn0:1tQx2Z:Jx8kQ2vN5mR7tY1wZ4aB6cD9eF0"


class LogoutApi(ApiView):
    @extend_schema(
        operation_id="logout_user",
        summary="Log out (revoke a refresh token)",
        description=(
            "Revokes the caller's refresh token: refreshing with it is 401 from now on. Access "
            "tokens already issued expire by themselves within JWT_ACCESS_MINUTES. A token that "
            "is invalid, expired or already revoked is 401 `authentication_failed`; another "
            "user's is 400 `invalid_token`."
        ),
        request=LogoutRequestSerializer,
        responses={204: None, **problem_responses(400, 401)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Logout", request_only=True, value={"refresh": EXAMPLE_REFRESH_TOKEN})
        ],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(LogoutRequestSerializer, request)
        services.logout(actor=request.user, refresh=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerifyEmailRequestApi(ApiView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        operation_id="request_email_verification",
        summary="Mail me an email verification link",
        description=(
            "Mails the caller a signed link, valid EMAIL_VERIFICATION_TIMEOUT seconds and "
            "once, that confirms their email (`/auth/verify-email/confirm`). Always 202; "
            "nothing is sent when the email is verified already. Rate-limited like login."
        ),
        request=None,
        responses={202: AcceptedSerializer, **problem_responses(401, 429)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Accepted", response_only=True, value=ACCEPTED, status_codes=["202"])
        ],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        services.request_email_verification(actor=request.user)
        return Response(ACCEPTED, status=status.HTTP_202_ACCEPTED)


class VerifyEmailConfirmApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        operation_id="confirm_email_verification",
        summary="Confirm an email address",
        description=(
            "Anyone holding the mailed token may call it; answers the user, now with "
            "`email_verified: true`. A token that was used already, forged, tampered with or "
            "no longer matches the account (the email changed) is 400 `invalid_token`; an "
            "expired one 400 `token_expired`."
        ),
        request=TokenConfirmSerializer,
        responses={200: UserSerializer, **problem_responses(400, 429)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Confirm", request_only=True, value={"token": EXAMPLE_MAILED_TOKEN}),
            OpenApiExample(
                "Verified", response_only=True, value={**EXAMPLE_USER, "email_verified": True}
            ),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = parse(TokenConfirmSerializer, request)
        user = services.confirm_email_verification(token=data["token"])
        return Response(UserSerializer(user).data)


class PasswordResetRequestApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        operation_id="request_password_reset",
        summary="Mail a password reset link",
        description=(
            "Anyone may call it. Always 202, whether or not the email belongs to an active "
            "user, so the answer reveals nothing; when it does, a link valid "
            "PASSWORD_RESET_TIMEOUT seconds and once is mailed. Rate-limited like login."
        ),
        request=PasswordResetRequestSerializer,
        responses={202: AcceptedSerializer, **problem_responses(400, 429)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Request", request_only=True, value={"email": "ada@example.com"}),
            OpenApiExample("Accepted", response_only=True, value=ACCEPTED, status_codes=["202"]),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = parse(PasswordResetRequestSerializer, request)
        services.request_password_reset(email=data["email"])
        return Response(ACCEPTED, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        operation_id="confirm_password_reset",
        summary="Set a new password with a reset token",
        description=(
            "Sets the password (Django's validators: a weak one is 422 `validation_error` on "
            "`password`) and ends every session: all refresh tokens are revoked and access "
            "tokens issued before are refused. A used, forged or stale token is 400 "
            "`invalid_token`, an expired one 400 `token_expired`."
        ),
        request=PasswordResetConfirmSerializer,
        responses={200: AcceptedSerializer, **problem_responses(400, 422, 429)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Confirm",
                request_only=True,
                value={"token": EXAMPLE_MAILED_TOKEN, "password": "a new long passphrase"},
            ),
            OpenApiExample(
                "Changed",
                response_only=True,
                value={"detail": "Password changed; every session has ended. Sign in again."},
            ),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = parse(PasswordResetConfirmSerializer, request)
        services.confirm_password_reset(token=data["token"], password=data["password"])
        return Response({"detail": "Password changed; every session has ended. Sign in again."})


# --- user administration (staff) ----------------------------------------------------------------

EXAMPLE_MANAGED_USER = {
    "id": 42,
    "email": "ada@example.com",
    "telegram_id": None,
    "role": "operator",
    "is_staff": True,
    "is_superuser": False,
    "is_active": True,
    "email_verified": True,
    "date_joined": "2025-01-01T09:00:00Z",
    "last_login": "2025-01-05T08:00:00Z",
}
USER_FILTERS = [
    OpenApiParameter("email", str, description="Part of the email, any case."),
    OpenApiParameter("role", str, enum=list(roles.ROLES), description="customer: no staff role."),
    OpenApiParameter("is_active", bool),
    OpenApiParameter("is_staff", bool),
    OpenApiParameter("email_verified", bool),
]


class UsersPagination(NewestFirstCursorPagination):
    ordering = ("-date_joined", "-id")


class UserListApi(ApiView, generics.ListAPIView):
    permission_classes = [requires(VIEW_USERS)]
    serializer_class = ManagedUserSerializer
    pagination_class = UsersPagination
    queryset = User.objects.none()  # names the model for the schema; rows come from selectors

    def get_queryset(self):
        filters = parse(UserFilterSerializer, self.request, data=self.request.query_params)
        return selectors.users_for(**filters)

    @extend_schema(
        operation_id="list_users",
        summary="List users (staff)",
        description=(
            "Every user, newest first, cursor-paginated, with filters; needs "
            "`accounts.view_user` (auditors and admins), else 403 `permission_denied`."
        ),
        parameters=USER_FILTERS,
        examples=[OpenApiExample("A user", response_only=True, value=EXAMPLE_MANAGED_USER)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class UserDetailApi(ApiView):
    def get_permissions(self):
        right = VIEW_USERS if self.request.method == "GET" else MANAGE_USERS
        return [requires(right)()]

    @extend_schema(
        operation_id="get_user",
        summary="A user (staff)",
        description="Needs `accounts.view_user`; an unknown id is 404 `not_found`.",
        responses={200: ManagedUserSerializer, **problem_responses(401, 403, 404)},
        examples=[OpenApiExample("A user", response_only=True, value=EXAMPLE_MANAGED_USER)],
    )
    def get(self, request: Request, user_id: int) -> Response:
        return Response(ManagedUserSerializer(selectors.user_for(user_id)).data)

    @extend_schema(
        operation_id="set_user_role",
        summary="Set a user's role (staff)",
        description=(
            "Needs `accounts.change_user` (admins). The role becomes the user's only role "
            "group; staff roles set `is_staff`, customer clears it. Nobody changes their own "
            "role, only superusers change superusers, and a non-superuser can neither manage a "
            "user holding rights they lack nor grant such a role: 403 `permission_denied`. "
            "Audited."
        ),
        request=UserRoleUpdateSerializer,
        responses={200: ManagedUserSerializer, **problem_responses(400, 401, 403, 404, 422)},
        examples=[
            OpenApiExample("Make operator", request_only=True, value={"role": "operator"}),
            OpenApiExample("Operator", response_only=True, value=EXAMPLE_MANAGED_USER),
        ],
    )
    def patch(self, request: AuthenticatedRequest, user_id: int) -> Response:
        data = parse(UserRoleUpdateSerializer, request)
        target = selectors.user_for(user_id)
        services.set_user_role(actor=request.user, user_id=target.pk, role=data["role"])
        return Response(ManagedUserSerializer(selectors.user_for(user_id)).data)


class UserDeactivateApi(ApiView):
    permission_classes = [requires(MANAGE_USERS)]

    @extend_schema(
        operation_id="deactivate_user",
        summary="Deactivate a user (staff)",
        description=(
            "Needs `accounts.change_user`. The user can no longer sign in, refresh or use "
            "their API keys, and their refresh tokens are revoked; their accounts and history "
            "stay. Same rules as setting a role (403 `permission_denied`). Audited."
        ),
        request=None,
        responses={200: ManagedUserSerializer, **problem_responses(401, 403, 404)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Deactivated",
                response_only=True,
                value={**EXAMPLE_MANAGED_USER, "is_active": False},
            )
        ],
    )
    def post(self, request: AuthenticatedRequest, user_id: int) -> Response:
        target = selectors.user_for(user_id)
        services.deactivate_user(actor=request.user, user_id=target.pk)
        return Response(ManagedUserSerializer(selectors.user_for(user_id)).data)


class UserReactivateApi(ApiView):
    permission_classes = [requires(MANAGE_USERS)]

    @extend_schema(
        operation_id="reactivate_user",
        summary="Reactivate a user (staff)",
        description=(
            "Needs `accounts.change_user`; the user signs in afresh. Same rules as setting a "
            "role (403 `permission_denied`). Audited."
        ),
        request=None,
        responses={200: ManagedUserSerializer, **problem_responses(401, 403, 404)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[OpenApiExample("Reactivated", response_only=True, value=EXAMPLE_MANAGED_USER)],
    )
    def post(self, request: AuthenticatedRequest, user_id: int) -> Response:
        target = selectors.user_for(user_id)
        services.reactivate_user(actor=request.user, user_id=target.pk)
        return Response(ManagedUserSerializer(selectors.user_for(user_id)).data)
