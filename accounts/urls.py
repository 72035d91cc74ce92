from django.urls import path

from accounts import apis

urlpatterns = [
    path("auth/register", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/token", apis.TokenApi.as_view(), name="auth-token"),
    path("auth/token/refresh", apis.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path(
        "auth/verify-email/request",
        apis.VerifyEmailRequestApi.as_view(),
        name="auth-verify-email-request",
    ),
    path(
        "auth/verify-email/confirm",
        apis.VerifyEmailConfirmApi.as_view(),
        name="auth-verify-email-confirm",
    ),
    path(
        "auth/password-reset/request",
        apis.PasswordResetRequestApi.as_view(),
        name="auth-password-reset-request",
    ),
    path(
        "auth/password-reset/confirm",
        apis.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("users", apis.UserListApi.as_view(), name="users"),
    path("users/<int:user_id>", apis.UserDetailApi.as_view(), name="user-detail"),
    path(
        "users/<int:user_id>/deactivate", apis.UserDeactivateApi.as_view(), name="user-deactivate"
    ),
    path(
        "users/<int:user_id>/reactivate", apis.UserReactivateApi.as_view(), name="user-reactivate"
    ),
    path("api-keys", apis.ApiKeyListCreateApi.as_view(), name="api-keys"),
    path("api-keys/<int:key_id>", apis.ApiKeyRevokeApi.as_view(), name="api-key-detail"),
    path("accounts", apis.AccountListCreateApi.as_view(), name="accounts"),
    path("accounts/<str:account_id>", apis.AccountDetailApi.as_view(), name="account-detail"),
    path("accounts/<str:account_id>/close", apis.AccountCloseApi.as_view(), name="account-close"),
]
