"""Fixtures the import tests share."""

import pytest

from .factories import ClientFactory


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded files go to a fresh folder per test."""
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def acme():
    return ClientFactory(name="Acme Ltd", rmm_id="RMM-1", distributor_id="PAX-1", psa_id="PSA-1")
