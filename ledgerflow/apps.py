from django.contrib.admin.apps import AdminConfig


class LedgerFlowAdminConfig(AdminConfig):
    """`django.contrib.admin` with LedgerFlow's site (dashboard figures on the index)."""

    default_site = "ledgerflow.admin_site.LedgerFlowAdminSite"
