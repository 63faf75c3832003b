import pytest


def pytest_collection_modifyitems(items):
    # Browser tests share a served app per module: keep a module on one xdist worker.
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


from helpers import Server, open_page  # noqa: E402,F401 - so browser tests can `from conftest import open_page`
