"""pytest plugin: the ``mailfault`` fixture and ``@pytest.mark.mailfault(scenario=...)``.

One server process serves the whole test session; every test starts with no
messages, no sessions and fresh rule state. When a test that used the fixture
fails, the SMTP transcripts of its sessions are added to the failure report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generator, List, Optional

import pytest

from .client import Mailfault, MailfaultError

_SECTION = "mailfault SMTP transcripts"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mailfault", "mailfault SMTP test server")
    group.addoption(
        "--mailfault-binary",
        action="store",
        default=None,
        metavar="PATH",
        help="mailfault executable to run (default: $MAILFAULT_BIN, the one installed "
        "with the mailfault package, then PATH)",
    )
    group.addoption(
        "--mailfault-scenario",
        action="store",
        default=None,
        metavar="FILE",
        help="scenario the mailfault fixture starts with (default: accept everything)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mailfault(scenario): run this test against another mailfault scenario "
        "(a file path, relative to the test file or the rootdir, or YAML text); "
        "the default scenario is restored after the test",
    )


def _resolve_scenario(scenario: str, item: pytest.Item) -> str:
    """A marker's scenario: YAML text, or a path tried against the test file's
    directory, the rootdir and the working directory."""
    if "\n" in scenario or scenario.lstrip().startswith("version:"):
        return scenario
    path = Path(scenario)
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = [Path(str(item.fspath)).parent / path, Path(str(item.config.rootpath)) / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise pytest.UsageError(
        f"@pytest.mark.mailfault(scenario={scenario!r}) in {item.nodeid}: no such file; looked at "
        + ", ".join(str(c) for c in candidates)
        + ". Give a path relative to the test file or the rootdir, or the YAML text."
    )


@pytest.fixture(scope="session")
def mailfault_server(request: pytest.FixtureRequest) -> Generator[Mailfault, None, None]:
    """The session's mailfault process (not reset between tests; use ``mailfault``)."""
    config = request.config
    binary = config.getoption("mailfault_binary")
    scenario = config.getoption("mailfault_scenario")
    server = Mailfault.start(scenario=scenario, binary=binary)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailfault(mailfault_server: Mailfault, request: pytest.FixtureRequest) -> Generator[Mailfault, None, None]:
    """A running mailfault server, reset for this test (no messages, no sessions).

    ``smtp_host``/``smtp_port`` are where the code under test should send;
    ``@pytest.mark.mailfault(scenario="...")`` swaps the scenario for this test.
    """
    server = mailfault_server
    marker = request.node.get_closest_marker("mailfault")
    swapped = False
    default_yaml: Optional[str] = None
    if marker is not None:
        scenario = marker.kwargs.get("scenario", marker.args[0] if marker.args else None)
        if scenario is not None:
            default_yaml = server.scenario()
            server.set_scenario(_resolve_scenario(str(scenario), request.node))
            swapped = True
    server.reset()
    request.node._mailfault_server = server  # for the failure report below
    try:
        yield server
    finally:
        if swapped and default_yaml is not None and server.running:
            server.set_scenario(default_yaml)


def _transcripts(server: Mailfault) -> str:
    try:
        try:
            server.wait_idle(2)
        except TimeoutError:
            pass
        sessions = sorted(server.sessions(), key=lambda s: s.id)
        if not sessions:
            return "no SMTP sessions during this test (did the code under test connect to " f"{server.smtp_host}:{server.smtp_port}?)"
        parts: List[str] = [s.transcript_text() for s in sessions]
        return "\n\n".join(parts)
    except MailfaultError as err:
        return f"could not read the transcripts: {err}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield  # pluggy's Result wrapping the TestReport
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    server: Optional[Mailfault] = getattr(item, "_mailfault_server", None)
    if server is None or not server.running:
        return
    report.sections.append((_SECTION, _transcripts(server)))
