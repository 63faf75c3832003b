import pytest
from helpers import Server, open_page  # noqa: F401 - so browser tests can `from conftest import open_page`


def pytest_collection_modifyitems(items):
    # Browser tests share a served app per module: keep a module on one xdist worker.
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report ends with what the server logged and the page's console said.

    A failure that only a loaded CI machine shows can then be read from its report.
    """
    report = yield
    if report.failed and call.when in ("setup", "call"):
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, Server) and value.log.exists():
                tail = value.log.read_text(errors="replace").splitlines()[-80:]
                report.sections.append((f"server log of {name} (last 80 lines)", "\n".join(tail)))
        console = getattr(item, "browser_console", None)
        if console:
            report.sections.append(("browser console (last 80 messages)", "\n".join(console[-80:])))
    return report
