from django.urls import path

from ledger import apis

urlpatterns = [
    path("accounts/<str:account_id>/balance", apis.BalanceApi.as_view(), name="account-balance"),
    path("accounts/<str:account_id>/entries", apis.EntryListApi.as_view(), name="account-entries"),
    path("transfers", apis.TransferCreateApi.as_view(), name="transfers"),
    path("transfers/batch", apis.TransferBatchCreateApi.as_view(), name="transfers-batch"),
    path("deposits", apis.DepositCreateApi.as_view(), name="deposits"),
    path("withdrawals", apis.WithdrawalCreateApi.as_view(), name="withdrawals"),
    path("transactions", apis.TransactionListCreateApi.as_view(), name="transactions"),
    path(
        "transactions/<str:transaction_id>",
        apis.TransactionDetailApi.as_view(),
        name="transaction-detail",
    ),
    path(
        "transactions/<str:transaction_id>/post",
        apis.TransactionPostApi.as_view(),
        name="transaction-post",
    ),
    path(
        "transactions/<str:transaction_id>/void",
        apis.TransactionVoidApi.as_view(),
        name="transaction-void",
    ),
    path(
        "transactions/<str:transaction_id>/reverse",
        apis.TransactionReverseApi.as_view(),
        name="transaction-reverse",
    ),
]
