"""`check --deploy` warns while mail would stay on the machine (accounts/checks.py)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from accounts.checks import check_mail_leaves_the_machine


def test_files_for_mail_are_a_deploy_warning(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    assert [w.id for w in check_mail_leaves_the_machine()] == ["accounts.W001"]
    with pytest.raises(SystemCheckError, match=r"accounts\.W001"):
        call_command("check", "--deploy", "--fail-level", "WARNING", "--tag", "security")


def test_smtp_passes(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert check_mail_leaves_the_machine() == []
