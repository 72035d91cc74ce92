"""A small, typed client for the LedgerFlow REST API.

from ledgerflow_client import LedgerFlow

client = LedgerFlow("https://ledger.example.com", api_key="lf_...")
txn = client.create_transfer(from_account="acc_...", to_account="acc_...", amount="12.50")
"""

from .client import LedgerFlow
from .errors import ApiError
from .webhooks import sign, verify_signature

__all__ = ["ApiError", "LedgerFlow", "sign", "verify_signature"]
