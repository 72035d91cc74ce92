"""Order ids, compatible with the original LedgerFlow balancer.

order_id = "0x" + hex(keccak256(utf8(broker_id) || utf8(account_id) || uint64_be(sequence)))

Keccak-256 is the original (Ethereum) padding, not NIST SHA3-256, which pads differently and
gives other digests for the same bytes. The parts are concatenated without separators, as the
balancer does; the fixed-width sequence ends the input, and broker ids are configuration.
"""

import re

# pycryptodome (maintained) installs as `Crypto`; bandit B413 means the dead pyCrypto.
from Crypto.Hash import keccak  # nosec B413

_ORDER_ID = re.compile(r"(?:0[xX])?([0-9a-fA-F]{64})")


def order_id_for(*, broker_id: str, account_id: str, sequence: int) -> str:
    """The order id for the `sequence`-th order (1, 2, 3 …) of `account_id`."""
    digest = keccak.new(digest_bits=256)
    digest.update(broker_id.encode())
    digest.update(account_id.encode())
    digest.update(sequence.to_bytes(8, "big"))  # OverflowError beyond uint64: never reached
    return "0x" + digest.hexdigest()


def normalize_order_id(value: str) -> str | None:
    """ "0xABC…", "abc…" -> "0xabc…"; None when it cannot be an order id."""
    match = _ORDER_ID.fullmatch(value.strip())
    return "0x" + match.group(1).lower() if match else None
