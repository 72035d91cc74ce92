"""Login lockout under concurrency, on PostgreSQL: threads with their own connections.

Failures are counted and the lockout checked under the user row's lock, after the slow
password check, so N concurrent wrong guesses count exactly N, no guess is evaluated past
the limit, and a correct guess in flight neither wipes their count nor lifts a lock.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TOKEN = "/api/v1/auth/token"
ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"
OUTCOME = {200: "ok", 401: "failed", 403: "locked"}


class QuickPBKDF2(PBKDF2PasswordHasher):
    """A real key-stretching hash, cheaper than production's: long enough for the guesses to
    overlap (the race window), short enough for a shared test machine."""

    iterations = 20_000


@pytest.fixture(autouse=True)
def _slow_enough_hashing(settings, client):
    settings.PASSWORD_HASHERS = [f"{__name__}.QuickPBKDF2"]
    # One request first: the metrics middleware registers its collectors on first use, which
    # is not thread-safe.
    client.get("/health")


@pytest.fixture
def victim(user_factory):
    user = user_factory()
    user.set_password(TEST_PASSWORD)  # with the PBKDF2 hasher
    user.save()
    return user


def failures(user: User, address: str | None = None) -> int:
    from accounts.models import LoginFailure

    rows = LoginFailure.objects.filter(user=user)
    return (rows if address is None else rows.filter(address=address)).count()


def login(email: str, password: str, address: str) -> str:
    response = APIClient(REMOTE_ADDR=address).post(
        TOKEN, {"email": email, "password": password}, format="json"
    )
    return OUTCOME.get(response.status_code, f"http {response.status_code}")


def race(attempts: list[tuple[str, str, str]]) -> Counter:
    """Each (email, password, address) login on its own thread, released together."""
    barrier = threading.Barrier(len(attempts))

    def attempt(args):
        barrier.wait()
        try:
            return login(*args)
        finally:
            connection.close()

    with ThreadPoolExecutor(len(attempts)) as pool:
        return Counter(pool.map(attempt, attempts))


@override_settings(LOGIN_LOCKOUT_THRESHOLD=50, LOGIN_LOCKOUT_USER_THRESHOLD=100)
def test_n_concurrent_wrong_guesses_count_exactly_n(victim):
    outcomes = race([(victim.email, f"wrong-{n}", ATTACKER) for n in range(12)])

    assert outcomes == {"failed": 12}
    assert User.objects.get(pk=victim.pk).failed_login_count == 12
    assert failures(victim, ATTACKER) == 12


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_USER_THRESHOLD=100)
def test_concurrent_guesses_past_the_limit_are_refused_not_evaluated(victim):
    guesses = [(victim.email, f"wrong-{n}", ATTACKER) for n in range(10)]
    guesses.append((victim.email, TEST_PASSWORD, ATTACKER))  # the right one, in the burst

    outcomes = race(guesses)

    # Exactly three wrong guesses are evaluated, whatever the order; the right password gets
    # in only if it took the row lock before the third failure.
    assert outcomes in ({"failed": 3, "locked": 8}, {"failed": 3, "ok": 1, "locked": 7})
    assert failures(victim, ATTACKER) == 3
    assert login(victim.email, TEST_PASSWORD, ATTACKER) == "locked"


@override_settings(LOGIN_LOCKOUT_THRESHOLD=50, LOGIN_LOCKOUT_USER_THRESHOLD=100)
def test_a_correct_guess_racing_wrong_ones_does_not_wipe_their_count(victim):
    guesses = [(victim.email, f"wrong-{n}", ATTACKER) for n in range(10)]
    guesses.append((victim.email, TEST_PASSWORD, OWNER))

    outcomes = race(guesses)

    assert outcomes == {"failed": 10, "ok": 1}
    assert User.objects.get(pk=victim.pk).failed_login_count == 10
    assert failures(victim, ATTACKER) == 10


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_USER_THRESHOLD=100)
def test_a_correct_guess_in_flight_does_not_lift_a_lock_set_meanwhile(victim):
    assert login(victim.email, "w1", ATTACKER) == login(victim.email, "w2", ATTACKER) == "failed"

    # The third failure and the right password race from the same address.
    outcomes = race([(victim.email, "w3", ATTACKER), (victim.email, TEST_PASSWORD, ATTACKER)])

    if outcomes["ok"]:  # the right password took the row lock first: it cleared the earlier two
        assert outcomes == {"ok": 1, "failed": 1}
        assert failures(victim, ATTACKER) == 1
    else:  # the third failure went first: the lock stands and the right password is refused
        assert outcomes == {"failed": 1, "locked": 1}
        assert failures(victim, ATTACKER) == 3
        assert login(victim.email, TEST_PASSWORD, ATTACKER) == "locked"
