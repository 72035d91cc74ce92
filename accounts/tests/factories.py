import factory

from accounts.models import Account, Asset, User

TEST_PASSWORD = "s3cure-Passw0rd!"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AssetFactory(factory.django.DjangoModelFactory):
    """Default assets exist after migrate; get_or_create keeps factories from duplicating them."""

    class Meta:
        model = Asset
        django_get_or_create = ("code",)

    code = "USD"
    name = factory.LazyAttribute(lambda o: o.code)
    exponent = 2


class AccountFactory(factory.django.DjangoModelFactory):
    """Accounts start empty: money history is made through ledger services, never here."""

    class Meta:
        model = Account

    owner = factory.SubFactory(UserFactory)
    asset = factory.SubFactory(AssetFactory)
    name = factory.Sequence(lambda n: f"Account {n}")
