"""Problem `type` URIs resolve: every code an error module defines has a page on this server
that explains it, and the `type` of a real error answer leads there."""

import importlib
import importlib.util
from urllib.parse import urlsplit

import pytest
from django.apps import apps

from ledgerflow.errors import DomainError
from ledgerflow.problem_docs import catalogue
from ledgerflow.problems import _DRF_CODES, problem_type

pytestmark = pytest.mark.django_db


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def codes_in_errors_modules() -> set[str]:
    """Walked independently of the catalogue: each app's errors module, then problems.py."""
    for config in apps.get_app_configs():
        module = f"{config.name}.errors"
        if importlib.util.find_spec(module):
            importlib.import_module(module)
    codes = {cls.code for cls in _subclasses(DomainError)} | {DomainError.code}
    return codes | {code for _, code, _ in _DRF_CODES} | {"internal_error", "bad_request"}


def test_every_code_is_in_the_catalogue_with_an_explanation():
    docs = catalogue()

    assert codes_in_errors_modules() - set(docs) == set()
    undocumented = [code for code, doc in docs.items() if len(doc.explanation) < 30]
    assert undocumented == []


@pytest.mark.parametrize("code", sorted(codes_in_errors_modules()))
def test_type_uri_of_every_code_resolves_to_its_explanation(api_client, rf, code):
    from ledgerflow.middleware import current_request

    token = current_request.set(rf.get("/api/v1/accounts"))  # as while answering a request
    try:
        uri = problem_type(code)
    finally:
        current_request.reset(token)
    assert uri == f"http://testserver/docs/problems/{code}"

    response = api_client.get(urlsplit(uri).path)

    assert response.status_code == 200
    html = response.content.decode()
    assert f"<code>{code}</code>" in html
    assert catalogue()[code].explanation_html in html


def test_the_index_lists_every_code_with_an_anchor(api_client):
    response = api_client.get("/docs/problems/")

    assert response.status_code == 200
    html = response.content.decode()
    for code in catalogue():
        assert f'id="{code}"' in html


def test_unknown_code_is_404(api_client):
    assert api_client.get("/docs/problems/no_such_code").status_code == 404


def test_a_real_error_links_to_its_page(customer_client, api_client):
    body = customer_client.get("/api/v1/accounts/acc_000000000000000000000000").json()

    assert body["code"] == "not_found"
    assert body["type"] == "http://testserver/docs/problems/not_found"
    page = api_client.get(urlsplit(body["type"]).path)
    assert page.status_code == 200
    assert "<code>not_found</code>" in page.content.decode()


def test_problem_base_url_points_types_elsewhere(customer_client, settings):
    settings.PROBLEM_BASE_URL = "https://docs.example.com/problems/"

    body = customer_client.get("/api/v1/accounts/acc_000000000000000000000000").json()

    assert body["type"] == "https://docs.example.com/problems/not_found"


def test_outside_a_request_the_type_is_a_relative_reference():
    assert problem_type("contention") == "/docs/problems/contention"
