"""Row locks are taken only in the apps' locks.py modules, so the one lock order
(ledgerflow/locks.py) can be checked by reading those files alone."""

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings

from ledgerflow.locks import LOCK_ORDER

ROOT = Path(settings.BASE_DIR)
SKIPPED = {".venv", "tests", "tests_browser", "migrations", "node_modules", ".git"}


def _project_files():
    for path in ROOT.rglob("*.py"):
        parts = set(path.relative_to(ROOT).parts)
        if not parts & SKIPPED:
            yield path


def _lock_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "select_for_update"
    ]


def test_select_for_update_only_in_locks_modules():
    outside = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _project_files()
        if path.name != "locks.py"
        for line in _lock_calls(path)
    ]
    assert outside == [], f"row locks outside a locks.py module: {outside}"


def test_the_lock_modules_take_locks():
    # The scan above finds calls (it would pass vacuously if it found none anywhere).
    modules = {path.relative_to(ROOT).as_posix() for path in _project_files() if _lock_calls(path)}
    expected = {"accounts/locks.py", "ledger/locks.py", "orders/locks.py", "webhooks/locks.py"}
    assert expected <= modules


def test_lock_order_names_real_models():
    assert len(set(LOCK_ORDER)) == len(LOCK_ORDER)
    for label in LOCK_ORDER:
        apps.get_model(label)  # LookupError on a renamed or removed model
