"""A burst of 2,000 requests from 64 threads against a real gunicorn: no 5xx, exact books.

The requests, shuffled: 300 transfers each sent three times with the same Idempotency-Key
(copies often in flight at once, on different connections and workers), 5 order creations
for each of 20 accounts at once (at most MAX_PENDING_ORDERS = 2 may be pending), and 1,000
balance reads. Throttles are set out of the way: this is about the database path.

Guarantees: zero 5xx and no dropped connection; every copy of a key answers 201 with the
same transaction and the key moved money once; exactly 2 orders per account, the others
409 `too_many_pending_orders`; money conserved and `verify_ledger` passes.
"""

import random
import threading
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
import requests

from accounts.tests.factories import UserFactory
from ledgerflow.money import to_minor
from orders.models import Order
from tests.faults.ledger_checks import (
    assert_money_conserved,
    asset_totals,
    balances,
    references_seen,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

THREADS = 64
CUSTOMERS = 16
KEYS, COPIES = 300, 3
ORDER_ACCOUNTS, ORDERS_EACH = 20, 5
READS = 2000 - KEYS * COPIES - ORDER_ACCOUNTS * ORDERS_EACH
HIGH_RATES = {name: "1000000/min" for name in ("THROTTLE_USER", "THROTTLE_ANON", "THROTTLE_AUTH")}


def test_a_burst_of_2000_requests_has_no_5xx_and_moves_each_keys_money_once(live_stack, funded):
    owners = UserFactory.create_batch(CUSTOMERS)
    sources = [funded(owner, "1000.00") for owner in owners]
    order_accounts = [funded(owners[i % CUSTOMERS], "0.00") for i in range(ORDER_ACCOUNTS)]
    stack = live_stack(web=False, worker=False, env=HIGH_RATES)
    stack.start_web(workers=2, threads=8)
    headers = {owner.pk: stack.auth(owner) for owner in owners}
    totals_before, balances_before = asset_totals(), balances(sources)

    rng = random.Random(12)  # a fixed mix: a failure can be replayed
    plan = {}  # key -> (source index, target index, amount)
    for n in range(KEYS):
        source = n % CUSTOMERS
        plan[f"burst-{n}"] = (source, (source + 1 + n % 5) % CUSTOMERS, Decimal(f"{n % 9 + 1}.25"))
    # A third of the keys' copies are queued back to back: taken by three threads at once.
    units = [[("transfer", key)] * COPIES for key in list(plan)[: KEYS // 3]]
    units += [[("transfer", key)] for key in list(plan)[KEYS // 3 :] for _ in range(COPIES)]
    # An account's order creations too: the limit is decided under its row lock.
    units += [[("order", i)] * ORDERS_EACH for i in range(ORDER_ACCOUNTS)]
    units += [[("read", rng.randrange(CUSTOMERS))] for _ in range(READS)]
    rng.shuffle(units)
    work = [job for unit in units for job in unit]
    assert len(work) == 2000

    lock = threading.Lock()
    answers: dict[str, Counter] = defaultdict(Counter)  # kind -> status -> count
    problems: list = []  # unexpected answers and dropped connections
    transfer_ids: dict[str, set] = defaultdict(set)
    replayed: Counter = Counter()  # key -> answers marked Idempotent-Replayed
    queue = iter(work)

    def send(session: requests.Session, kind: str, item) -> None:
        if kind == "transfer":
            source, target, amount = plan[item]
            response = session.post(
                f"{stack.url}/api/v1/transfers",
                json={
                    "from_account": sources[source].public_id,
                    "to_account": sources[target].public_id,
                    "amount": str(amount),
                    "reference": item,
                },
                headers={**headers[owners[source].pk], "Idempotency-Key": item},
                timeout=60,
            )
            expected = {201}
        elif kind == "order":
            account = order_accounts[item]
            response = session.post(
                f"{stack.url}/api/v1/orders",
                json={"account": account.public_id, "amount": "3.00"},
                headers=headers[account.owner_id],
                timeout=60,
            )
            expected = {201, 409}
        else:
            response = session.get(
                f"{stack.url}/api/v1/accounts/{sources[item].public_id}/balance",
                headers=headers[owners[item].pk],
                timeout=60,
            )
            expected = {200}
        with lock:
            answers[kind][response.status_code] += 1
            if response.status_code not in expected:
                problems.append((kind, item, response.status_code, response.text[:300]))
            elif kind == "transfer":
                transfer_ids[item].add(response.json()["id"])
                replayed[item] += response.headers.get("Idempotent-Replayed") == "true"
            elif response.status_code == 409 and response.json()["code"] != (
                "too_many_pending_orders"
            ):
                problems.append((kind, item, 409, response.text[:300]))

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    job = next(queue, None)
                if job is None:
                    return
                try:
                    send(session, *job)
                except requests.RequestException as exc:
                    with lock:
                        problems.append((*job, "dropped", repr(exc)))

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert problems == []
    assert not [s for kind in answers.values() for s in kind if s >= 500]
    assert sum(answers["transfer"].values()) == KEYS * COPIES
    assert answers["read"] == Counter({200: READS})
    # Every copy of a key answered with the one transaction it made, made once.
    assert {key: len(ids) for key, ids in transfer_ids.items()} == dict.fromkeys(plan, 1)
    assert references_seen(plan) == Counter(dict.fromkeys(plan, 1))
    assert replayed == Counter(dict.fromkeys(plan, COPIES - 1))  # one original, the rest replays
    # The pending-order limit held exactly, per account.
    pending = Counter(
        Order.objects.filter(status=Order.Status.PENDING).values_list("account_id", flat=True)
    )
    assert pending == Counter({account.pk: 2 for account in order_accounts})
    assert answers["order"] == Counter({201: 2 * ORDER_ACCOUNTS, 409: 3 * ORDER_ACCOUNTS})
    # Each source moved exactly what its keys say, once each.
    expected = dict(balances_before)
    for source, target, amount in plan.values():
        expected[sources[source].pk] -= to_minor(amount, 2)
        expected[sources[target].pk] += to_minor(amount, 2)
    assert balances(sources) == expected
    assert_money_conserved(totals_before)
