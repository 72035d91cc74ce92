"""Deploy checks of identity (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks

LOCAL_MAIL_BACKENDS = {
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@checks.register(checks.Tags.security, deploy=True)
def check_mail_leaves_the_machine(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Verification and password-reset links must reach their users: with the embedded
    default they are files on the worker's disk (inside its container under compose)."""
    if settings.EMAIL_BACKEND not in LOCAL_MAIL_BACKENDS:
        return []
    return [
        checks.Warning(
            f"Mail is not sent: EMAIL_BACKEND is {settings.EMAIL_BACKEND}, so verification and "
            "password-reset links never reach their users.",
            hint="Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587.",
            id="accounts.W001",
        )
    ]
