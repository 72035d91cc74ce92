"""With DEBUG=false, settings refuse to start on embedded defaults that are unsafe in production.

Each case imports ledgerflow.settings in a fresh interpreter with a controlled environment. The
variables under test are passed as empty strings, which settings read as unset even when a
developer's `.env` sets them (`.env` never overrides a variable that is already in the environment).
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings

DEV_KEY = "insecure-dev-key-only-for-the-embedded-default-change-me-0123456789"
GOOD_KEY = "k3Jx9vQm2LpR7tWz4NcYb8HsDf6GaE1uVo5iTq0yXnMwZrCe-_AhBjKlPgSdFuIy"  # 64 random-ish
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": GOOD_KEY,
    "DATABASE_URL": "postgres://ledgerflow:ledgerflow@db.invalid:5432/ledgerflow",
    "CELERY_BROKER_URL": "redis://redis.invalid:6379/1",
    "VAULT_ADDRESS": "0x71c7656ec7ab88b098defb751b7401b5f6d8976f",
}
UNSET = dict.fromkeys(["DEBUG", *PRODUCTION], "")


def load_settings(tmp_path, **variables: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(settings.BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "ledgerflow.settings",
        "VAR_DIR": str(tmp_path / "var"),
        **UNSET,
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print('DEBUG', settings.DEBUG)"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def refused(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr, result.stderr
    return result.stderr.split("ImproperlyConfigured:", 1)[1]


def test_production_without_configuration_refuses_to_start_naming_every_variable(tmp_path):
    message = refused(load_settings(tmp_path, DEBUG="false"))

    for name in ("SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "VAULT_ADDRESS"):
        assert name in message


def test_production_with_every_variable_set_starts(tmp_path):
    result = load_settings(tmp_path, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "DEBUG False"


def test_embedded_default_without_any_environment_still_starts(tmp_path):
    result = load_settings(tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "DEBUG True"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", DEV_KEY),
        ("SECRET_KEY", "short-but-not-empty"),
        ("SECRET_KEY", "a" * 64),
        ("SECRET_KEY", "django-insecure-" + GOOD_KEY),
        ("VAULT_ADDRESS", ZERO_ADDRESS),
        ("VAULT_ADDRESS", "0X" + ZERO_ADDRESS[2:]),
        ("VAULT_ADDRESS", "0x0"),
    ],
)
def test_production_refuses_an_unsafe_value_naming_only_that_variable(tmp_path, name, value):
    message = refused(load_settings(tmp_path, **{**PRODUCTION, name: value}))

    assert name in message
    others = {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "VAULT_ADDRESS"} - {name}
    assert not [other for other in others if other in message]
    if name == "SECRET_KEY":
        assert value not in message  # never echo a (possibly real) secret into the logs


@pytest.mark.parametrize(
    "name", ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "VAULT_ADDRESS"]
)
def test_production_refuses_each_missing_variable(tmp_path, name):
    message = refused(load_settings(tmp_path, **{**PRODUCTION, name: ""}))

    assert name in message


def test_the_docker_image_runs_with_debug_off():
    dockerfile = (settings.BASE_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    env_words = [
        word
        for line in dockerfile.splitlines()
        if line.startswith("ENV ")
        for word in line.split()[1:]
    ]

    assert "DEBUG=false" in env_words
