"""Each package's ``__all__`` is sorted and names only what the package really has."""

import importlib

import pytest


@pytest.mark.parametrize("name", ["ssea_core", "ssea_storage", "ssea_adapters"])
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(getattr(module, "__all__", []))
    assert exported == sorted(exported)
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.{attribute} is missing"
