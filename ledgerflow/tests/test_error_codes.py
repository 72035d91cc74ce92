"""One list of problem codes: every code an error class or the handler answers is an
ErrorCode member, and every member is documented in the problem catalogue."""

import pytest

from ledgerflow.errors import DomainError, ErrorCode
from ledgerflow.problem_docs import EXPLANATIONS, catalogue

pytestmark = pytest.mark.django_db


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_error_class_names_its_code_through_the_enum():
    catalogue()  # imports every app's errors module
    loose = [
        cls
        for cls in [DomainError, *_subclasses(DomainError)]
        if not isinstance(cls.code, ErrorCode)
    ]
    assert loose == []


def test_every_member_is_in_the_catalogue_and_explained_once():
    assert set(catalogue()) == set(ErrorCode)
    assert set(EXPLANATIONS) == set(ErrorCode)
