"""Order ids against fixed vectors and an independent Keccak-256 written out below."""

import hashlib

import pytest

from orders.ids import normalize_order_id, order_id_for

# --- a tiny, slow, independent Keccak-256 (the original padding, as Ethereum uses) ------------

_MASK = (1 << 64) - 1


def _rotl(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (64 - shift))) & _MASK if shift else value


def _round_constants() -> list[int]:
    constants, lfsr = [], 1
    for _ in range(24):
        rc = 0
        for j in range(7):
            if lfsr & 1:
                rc |= 1 << ((1 << j) - 1)
            lfsr = ((lfsr << 1) ^ 0x71) & 0xFF if lfsr & 0x80 else lfsr << 1
        constants.append(rc)
    return constants


def _rotation_offsets() -> list[int]:
    offsets, x, y = [0] * 25, 1, 0
    for t in range(24):
        offsets[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return offsets


_RC, _ROT = _round_constants(), _rotation_offsets()


def _keccak_f(a: list[int]) -> None:
    for rc in _RC:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rotl(c[(x + 1) % 5], 1) for x in range(5)]
        for i in range(25):
            a[i] ^= d[i % 5]
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rotl(a[x + 5 * y], _ROT[x + 5 * y])
        for x in range(5):
            for y in range(5):
                a[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y])
        a[0] ^= rc


def pure_keccak256(data: bytes) -> str:
    rate = 136
    padded = bytearray(data) + b"\x01"  # SHA3-256 would append 0x06 here
    padded += b"\x00" * (-len(padded) % rate)
    padded[-1] |= 0x80
    state = [0] * 25
    for start in range(0, len(padded), rate):
        for i in range(rate // 8):
            state[i] ^= int.from_bytes(padded[start + 8 * i : start + 8 * i + 8], "little")
        _keccak_f(state)
    return b"".join(lane.to_bytes(8, "little") for lane in state[:4]).hex()


# --- vectors ----------------------------------------------------------------------------------

EMPTY_KECCAK = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
BALANCER_VECTOR = "ec736b2ac47bb1ee448cb6c6b0d96cba0fbd0472f18da0ec9771a26d7034a1bf"
SEQUENCE_2_VECTOR = "faed32fd398d177813c4bc2fba28edf854c1bcf3f28b8186de86dcba8af0be66"


def test_pure_keccak_matches_the_published_empty_string_digest():
    assert pure_keccak256(b"") == EMPTY_KECCAK


def test_balancer_vector():
    order_id = order_id_for(broker_id="ledgerflow-vault", account_id="telegram_123456", sequence=1)
    assert order_id == "0x" + BALANCER_VECTOR


def test_encoding_is_utf8_broker_then_account_then_uint64_big_endian_sequence():
    encoded = b"ledgerflow-vault" + b"telegram_123456" + b"\x00\x00\x00\x00\x00\x00\x00\x01"
    assert pure_keccak256(encoded) == BALANCER_VECTOR


@pytest.mark.parametrize(
    ("broker_id", "account_id", "sequence"),
    [
        ("ledgerflow-vault", "telegram_123456", 2),
        ("ledgerflow-vault", "acc_1f0c2b5e9a7d4c3b2a1f0e9d", 1),
        ("ledgerflow-vault", "acc_1f0c2b5e9a7d4c3b2a1f0e9d", 2**64 - 1),
        ("brøker-ünïcode", "акаунт", 7),  # multi-byte UTF-8
        ("b" * 100, "a" * 100, 3),  # longer than one 136-byte block
    ],
)
def test_ids_match_the_independent_keccak(broker_id, account_id, sequence):
    encoded = broker_id.encode() + account_id.encode() + sequence.to_bytes(8, "big")
    expected = "0x" + pure_keccak256(encoded)
    assert order_id_for(broker_id=broker_id, account_id=account_id, sequence=sequence) == expected


def test_second_order_vector():
    # Written down from pure_keccak256, so a change of encoding fails without trusting either.
    encoded = b"ledgerflow-vaulttelegram_123456" + b"\x00" * 7 + b"\x02"
    assert pure_keccak256(encoded) == SEQUENCE_2_VECTOR
    order_id = order_id_for(broker_id="ledgerflow-vault", account_id="telegram_123456", sequence=2)
    assert order_id == "0x" + SEQUENCE_2_VECTOR


def test_sha3_256_is_not_keccak_256():
    encoded = b"ledgerflow-vault" + b"telegram_123456" + (1).to_bytes(8, "big")
    assert hashlib.sha3_256(encoded).hexdigest() != BALANCER_VECTOR
    assert hashlib.sha3_256(b"").hexdigest() != EMPTY_KECCAK


def test_consecutive_sequences_give_different_ids():
    ids = {order_id_for(broker_id="b", account_id="a", sequence=n) for n in range(1, 50)}
    assert len(ids) == 49


@pytest.mark.parametrize(
    "value",
    [
        "0x" + BALANCER_VECTOR,
        BALANCER_VECTOR,
        "0X" + BALANCER_VECTOR.upper(),
        BALANCER_VECTOR.upper(),
    ],
)
def test_ids_are_accepted_with_or_without_0x_in_any_case(value):
    assert normalize_order_id(value) == "0x" + BALANCER_VECTOR


@pytest.mark.parametrize(
    "value", ["", "0x", "0x" + "g" * 64, BALANCER_VECTOR[:-1], "0x" + "a" * 65]
)
def test_malformed_ids_are_rejected(value):
    assert normalize_order_id(value) is None
