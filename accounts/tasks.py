"""Mail to users. The token is made here, when the message is written: it travels in the
message alone, never in the task's arguments (the broker), a log line or an API response."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from accounts import tokens
from accounts.models import User

MESSAGES = {
    "verify_email": (
        tokens.EMAIL_VERIFICATION,
        "EMAIL_VERIFICATION_URL",
        "Confirm your email address",
        "Confirm that {email} is yours by opening this link within {hours} hours:\n\n{link}\n\n"
        "Or send the token yourself:\n"
        '  POST /api/v1/auth/verify-email/confirm {{"token": "{token}"}}\n\n'
        "If you did not sign up for LedgerFlow, ignore this message.\n",
    ),
    "password_reset": (
        tokens.PASSWORD_RESET,
        "PASSWORD_RESET_URL",
        "Reset your password",
        "Someone asked to reset the password of {email}. To choose a new one, open this link "
        "within {hours} hours (it works once):\n\n{link}\n\n"
        "Or send the token yourself:\n"
        "  POST /api/v1/auth/password-reset/confirm "
        '{{"token": "{token}", "password": "..."}}\n\n'
        "Every session of the account ends when the password changes. If you did not ask for "
        "this, ignore this message: your password stays as it is.\n",
    ),
}


def send_account_email_now(user_id: int, kind: str) -> bool:
    """Write one message; False when the user is gone or inactive (nothing is sent)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    purpose, url_setting, subject, body = MESSAGES[kind]
    token = tokens.make_token(purpose, user)
    hours = max(1, getattr(settings, purpose.timeout_setting) // 3600)
    link = getattr(settings, url_setting).format(token=token)
    send_mail(
        subject,
        body.format(email=user.email, hours=hours, link=link, token=token),
        None,  # DEFAULT_FROM_EMAIL
        [user.email],
    )
    return True


@shared_task(acks_late=True, ignore_result=True)
def send_account_email(user_id: int, kind: str) -> None:
    send_account_email_now(user_id, kind)
