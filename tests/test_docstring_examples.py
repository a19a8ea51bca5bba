"""Runs every `>>>` example in the package's docstrings, on the current backend."""

import doctest
import importlib
import pkgutil

import pytest

import keras_cxr

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(keras_cxr.__path__, prefix="keras_cxr.")
    if not name.endswith("__main__")
)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name} (run with -s to see)"
