from django.urls import path

from accounts import apis

urlpatterns = [
    path("auth/register", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/token", apis.TokenApi.as_view(), name="auth-token"),
    path("auth/token/refresh", apis.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("api-keys", apis.ApiKeyListCreateApi.as_view(), name="api-keys"),
    path("api-keys/<int:key_id>", apis.ApiKeyRevokeApi.as_view(), name="api-key-detail"),
    path("accounts", apis.AccountListCreateApi.as_view(), name="accounts"),
    path("accounts/<str:account_id>", apis.AccountDetailApi.as_view(), name="account-detail"),
]
