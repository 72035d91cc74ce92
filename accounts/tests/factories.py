import factory

from accounts.models import Account, Asset, User

TEST_PASSWORD = "s3cure-Passw0rd!"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    @factory.post_generation
    def rights(obj, create, extracted, **kwargs):
        """`UserFactory(is_staff=True, rights=OPERATOR_RIGHTS)`: grant these permissions."""
        if create and extracted:
            from django.contrib.auth.models import Permission

            for perm in extracted:
                app_label, codename = perm.split(".")
                obj.user_permissions.add(
                    Permission.objects.get(content_type__app_label=app_label, codename=codename)
                )


# Every right an API operator can hold (accounts.permissions), for the usual `staff` fixture.
OPERATOR_RIGHTS = (
    "ledger.deposit",
    "ledger.withdraw_any",
    "ledger.transfer_any",
    "ledger.post_journal",
    "ledger.reverse_transaction",
    "ledger.review_hold",
    "orders.change_order",
    "accounts.view_account",
    "accounts.change_account",
    "ledger.view_transaction",
    "orders.view_order",
    "webhooks.view_event",
)


class AssetFactory(factory.django.DjangoModelFactory[Asset]):
    """Default assets exist after migrate; get_or_create keeps factories from duplicating them."""

    class Meta:
        model = Asset
        django_get_or_create = ("code",)

    code = "USD"
    name = factory.LazyAttribute(lambda o: o.code)
    exponent = 2


class AccountFactory(factory.django.DjangoModelFactory[Account]):
    """Accounts start empty: money history is made through ledger services, never here."""

    class Meta:
        model = Account

    owner = factory.SubFactory(UserFactory)
    asset = factory.SubFactory(AssetFactory)
    name = factory.Sequence(lambda n: f"Account {n}")
