"""Start a mailfault server on free 127.0.0.1 ports and talk to its HTTP API."""

from __future__ import annotations

import atexit
import datetime as _dt
import email
import email.message
import email.policy
import html as _html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from ._binary import find_binary

__all__ = [
    "Mailfault",
    "MailfaultError",
    "ScenarioError",
    "Message",
    "Attachment",
    "Session",
    "TranscriptLine",
    "Report",
    "Verdict",
    "Evidence",
]

PathLike = Union[str, "os.PathLike[str]"]


class MailfaultError(RuntimeError):
    """The server could not be started, or an API call failed."""


class ScenarioError(MailfaultError, ValueError):
    """The server refused a scenario; ``problems`` holds line, column and message of each."""

    def __init__(self, message: str, problems: Optional[List[Dict[str, Any]]] = None) -> None:
        super().__init__(message)
        self.problems: List[Dict[str, Any]] = problems or []


# --------------------------------------------------------------------------
# Messages


_URL_IN_TEXT = re.compile(r"""(?:https?|ftp)://[^\s<>"'`\]\[{}|\\^]+""", re.IGNORECASE)
_URL_IN_ATTR = re.compile(
    r"""\b(?:href|src|action)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE
)
_TRAILING_PUNCT = ".,;:!?)'\""


def _clean_text_url(url: str) -> str:
    # "see https://x.test/a." or "(https://x.test/a)": the punctuation is prose.
    while url and url[-1] in _TRAILING_PUNCT:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def extract_links(text: str = "", html: str = "") -> List[str]:
    """URLs in a plain-text body and in an HTML body's href/src attributes.

    In order of first appearance (HTML first, then text), without duplicates;
    HTML entities such as ``&amp;`` are decoded.
    """
    found: List[str] = []

    def add(url: str) -> None:
        url = url.strip()
        if url and url not in found:
            found.append(url)

    if html:
        for m in _URL_IN_ATTR.finditer(html):
            value = _html.unescape(next(g for g in m.groups() if g is not None))
            if re.match(r"(?:https?|ftp)://", value, re.IGNORECASE):
                add(value)
        # URLs written out in the HTML text (not inside a tag attribute).
        for m in _URL_IN_TEXT.finditer(re.sub(r"<[^>]*>", " ", html)):
            add(_clean_text_url(_html.unescape(m.group(0))))
    if text:
        for m in _URL_IN_TEXT.finditer(text):
            add(_clean_text_url(m.group(0)))
    return found


def _address(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("Address", ""))
    return str(obj or "")


@dataclass
class Attachment:
    """An attachment of a captured message (``read()`` fetches its decoded bytes)."""

    part_id: str
    filename: str
    content_type: str
    size: int
    _server: "Mailfault" = field(repr=False, compare=False)
    _message_id: str = field(repr=False, compare=False)

    def read(self) -> bytes:
        return self._server._request_bytes(
            "GET", f"/api/v1/message/{self._message_id}/part/{urllib.parse.quote(self.part_id)}"
        )


class Message:
    """A captured message. Summary fields come from the list; the body, headers
    and raw source are fetched from the server on first use."""

    def __init__(self, server: "Mailfault", summary: Dict[str, Any]) -> None:
        self._server = server
        self.summary: Dict[str, Any] = summary
        self.id: str = str(summary["ID"])
        self.sender: str = _address(summary.get("From"))
        self.to: List[str] = [_address(a) for a in summary.get("To") or []]
        self.cc: List[str] = [_address(a) for a in summary.get("Cc") or []]
        self.subject: str = str(summary.get("Subject", ""))
        envelope = summary.get("Envelope") or {}
        self.envelope_from: str = str(envelope.get("From", ""))
        self.envelope_to: List[str] = [str(a) for a in envelope.get("To") or []]
        self.session_id: Optional[int] = summary.get("SessionID")
        self._detail: Optional[Dict[str, Any]] = None
        self._headers: Optional[Dict[str, List[str]]] = None
        self._raw: Optional[bytes] = None

    def __repr__(self) -> str:
        return f"<Message {self.id} from {self.sender!r} to {self.to!r} subject {self.subject!r}>"

    @property
    def detail(self) -> Dict[str, Any]:
        """The full message JSON (Mailpit's shape plus mailfault's fields)."""
        if self._detail is None:
            self._detail = self._server._request_json("GET", f"/api/v1/message/{self.id}")
        return self._detail

    @property
    def text(self) -> str:
        return str(self.detail.get("Text") or "")

    @property
    def html(self) -> str:
        return str(self.detail.get("HTML") or "")

    @property
    def headers(self) -> Dict[str, List[str]]:
        """Every header: ``{"Subject": ["..."], "Received": [...], ...}``."""
        if self._headers is None:
            self._headers = self._server._request_json("GET", f"/api/v1/message/{self.id}/headers")
        return self._headers

    def header(self, name: str) -> Optional[str]:
        """The first value of a header (case-insensitive name), or None."""
        for key, values in self.headers.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return None

    @property
    def raw(self) -> bytes:
        """The message as stored, the server's ``Received:`` header first."""
        if self._raw is None:
            self._raw = self._server._request_bytes("GET", f"/api/v1/message/{self.id}/raw")
        return self._raw

    def email(self) -> email.message.EmailMessage:
        """The raw message parsed by the standard library's ``email`` package."""
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    @property
    def attachments(self) -> List[Attachment]:
        return [
            Attachment(
                part_id=str(a.get("PartID", "")),
                filename=str(a.get("FileName", "")),
                content_type=str(a.get("ContentType", "")),
                size=int(a.get("Size", 0)),
                _server=self._server,
                _message_id=self.id,
            )
            for a in self.detail.get("Attachments") or []
        ]

    @property
    def links(self) -> List[str]:
        """URLs found in the HTML (href/src and written-out URLs) and text bodies."""
        return extract_links(self.text, self.html)


# --------------------------------------------------------------------------
# Sessions


@dataclass
class TranscriptLine:
    at: str
    dir: str
    text: str
    rule: Optional[str] = None

    def __str__(self) -> str:
        arrow = "S:" if self.dir == "server" else "C:" if self.dir == "client" else f"{self.dir}:"
        rule = f"  [rule: {self.rule}]" if self.rule else ""
        return f"{self.at:>8} {arrow} {self.text}{rule}"


class Session:
    """One SMTP connection; the transcript is fetched on first use."""

    def __init__(self, server: "Mailfault", summary: Dict[str, Any]) -> None:
        self._server = server
        self.summary: Dict[str, Any] = summary
        self.id: int = int(summary["id"])
        self.client: str = str(summary.get("client", ""))
        self.open: bool = bool(summary.get("open", False))
        self.messages: List[str] = [str(m) for m in summary.get("messages") or []]
        self.faults: int = int(summary.get("faults") or 0)
        self._detail: Optional[Dict[str, Any]] = None

    def __repr__(self) -> str:
        state = "open" if self.open else "closed"
        return f"<Session {self.id} {self.client} {state}, {len(self.messages)} message(s)>"

    @property
    def detail(self) -> Dict[str, Any]:
        if self._detail is None:
            self._detail = self._server._request_json("GET", f"/api/v1/sessions/{self.id}")
        return self._detail

    @property
    def transcript(self) -> List[TranscriptLine]:
        return [
            TranscriptLine(
                at=str(line.get("at", "")),
                dir=str(line.get("dir", "")),
                text=str(line.get("text", "")),
                rule=line.get("rule"),
            )
            for line in self.detail.get("transcript") or []
        ]

    def transcript_text(self) -> str:
        head = f"session {self.id} from {self.client}"
        if self.open:
            return head + " (still open: no transcript yet)"
        return "\n".join([head, *(str(line) for line in self.transcript)])


# --------------------------------------------------------------------------
# Report


@dataclass
class Evidence:
    session: Optional[int]
    at: str
    line: str
    why: str

    def __str__(self) -> str:
        where = f"[session {self.session} at {self.at}]" if self.session is not None else f"[at {self.at}]"
        text = f"{where} {self.line}"
        return f"{text}\n    {self.why}" if self.why else text


@dataclass
class Verdict:
    name: str
    passed: bool
    expected: str
    found: str
    evidence: List[Evidence]

    def __str__(self) -> str:
        lines = [
            f"{'PASS' if self.passed else 'FAIL'}  {self.name}",
            f"      expected: {self.expected}",
            f"      found:    {self.found}",
        ]
        for ev in self.evidence:
            lines.extend("        " + part for part in str(ev).splitlines())
        return "\n".join(lines)


@dataclass
class Report:
    """The scenario's ``expect:`` block judged against the sessions seen so far."""

    passed: bool
    verdicts: List[Verdict]
    summary: Dict[str, Any]

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Report":
        verdicts = [
            Verdict(
                name=str(v.get("name", "")),
                passed=bool(v.get("passed")),
                expected=str(v.get("expected", "")),
                found=str(v.get("found", "")),
                evidence=[
                    Evidence(
                        session=e.get("session"),
                        at=str(e.get("at", "")),
                        line=str(e.get("line", "")),
                        why=str(e.get("why", "")),
                    )
                    for e in v.get("evidence") or []
                ],
            )
            for v in data.get("verdicts") or []
        ]
        return cls(passed=bool(data.get("passed")), verdicts=verdicts, summary=dict(data.get("summary") or {}))

    @property
    def failed(self) -> List[Verdict]:
        return [v for v in self.verdicts if not v.passed]

    def __str__(self) -> str:
        s = self.summary
        head = (
            f"expectations {'PASSED' if self.passed else 'FAILED'}: "
            f"{len(self.verdicts) - len(self.failed)} passed, {len(self.failed)} failed "
            f"({s.get('sessions', '?')} session(s), {s.get('messages', '?')} message(s))"
        )
        return "\n\n".join([head, *(str(v) for v in self.verdicts)])

    def assert_passed(self) -> None:
        """Raise AssertionError naming every failed expectation with its evidence."""
        if self.passed:
            return
        failed = self.failed
        body = "\n\n".join(str(v) for v in failed) if failed else "(the server reported a failure without verdicts)"
        raise AssertionError(f"mailfault: {len(failed)} expectation(s) failed\n\n{body}")


# --------------------------------------------------------------------------
# The server


_LIVE: "weakref.WeakSet[Mailfault]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()


def _die_with_parent() -> Optional[Callable[[], None]]:
    """On Linux, have the kernel SIGTERM the server if this process dies
    without running its exit handlers (SIGKILL, a crash, os._exit).

    Only from the main thread: PR_SET_PDEATHSIG fires when the *thread* that
    started the child ends, which for the main thread means the process.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)

    return preexec


def _duration(value: Union[str, int, float, _dt.timedelta]) -> str:
    if isinstance(value, str):
        return value
    seconds = value.total_seconds() if isinstance(value, _dt.timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"cannot move the clock backwards ({seconds}s); give a positive duration")
    return f"{int(round(seconds * 1000))}ms"


def _scenario_yaml(path_or_yaml: Union[PathLike, str]) -> str:
    """Read a scenario file, or take the argument as YAML text when it is one."""
    if isinstance(path_or_yaml, os.PathLike):
        return Path(path_or_yaml).read_text(encoding="utf-8")
    text = str(path_or_yaml)
    if "\n" in text or text.lstrip().startswith("version:"):
        return text
    path = Path(text)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    raise FileNotFoundError(
        f"scenario {text!r}: no such file (from {os.getcwd()}); pass a path to a "
        "scenario YAML file or the YAML text itself"
    )


class Mailfault:
    """A running ``mailfault serve`` on free 127.0.0.1 ports.

    Use ``Mailfault.start()`` (or ``with Mailfault.start() as mf:``); the process
    is stopped on ``stop()``, at the end of the ``with`` block, or when Python exits.
    """

    def __init__(
        self,
        process: "subprocess.Popen[bytes]",
        smtp_host: str,
        smtp_port: int,
        api_url: str,
        ca_file: Optional[str],
        workdir: str,
        binary: str,
    ) -> None:
        self._process = process
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.api_url = api_url.rstrip("/")
        self.ca_file = ca_file
        self.binary = binary
        self._workdir = workdir
        # Sessions of an earlier epoch (before the last reset) are not this test's.
        self._since_epoch = 0
        # Loopback only: never let an HTTP(S)_PROXY variable route API calls elsewhere.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        _LIVE.add(self)

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def start(
        cls,
        scenario: Optional[Union[PathLike, str]] = None,
        tls: bool = False,
        binary: Optional[PathLike] = None,
        timeout: float = 30.0,
    ) -> "Mailfault":
        """Start ``mailfault serve`` on free ports and wait until it is ready.

        ``scenario`` is a path to a scenario file or the YAML text; ``tls=True``
        offers STARTTLS with a development CA made for this server (``ca_file``).
        """
        exe = find_binary(binary)
        workdir = tempfile.mkdtemp(prefix="mailfault-")
        args = [exe, "serve", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--store", "memory"]
        if scenario is not None:
            scenario_file = os.path.join(workdir, "scenario.yaml")
            Path(scenario_file).write_text(_scenario_yaml(scenario), encoding="utf-8")
            args += ["--scenario", scenario_file]
        certs_dir = os.path.join(workdir, "certs")
        if tls:
            args += ["--tls", "auto", "--certs-dir", certs_dir]
        else:
            args += ["--tls", "off"]
        # A MAILFAULT_* variable meant for another server (auth, store, ...)
        # must not change this one; every setting that matters is a flag above.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFAULT_")}
        env.setdefault("NO_COLOR", "1")
        out_path = os.path.join(workdir, "stdout.log")
        err_path = os.path.join(workdir, "stderr.log")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=workdir,
                preexec_fn=_die_with_parent(),
            )

        def output() -> str:
            text = Path(out_path).read_text(encoding="utf-8", errors="replace")
            log = Path(err_path).read_text(encoding="utf-8", errors="replace")
            return (text + log).strip()[-4000:]

        def fail(why: str) -> "MailfaultError":
            if process.poll() is None:
                process.kill()
                process.wait()
            detail = output()
            shutil.rmtree(workdir, ignore_errors=True)
            return MailfaultError(f"{why}\ncommand: {' '.join(args)}\nserver output:\n{detail or '(none)'}")

        deadline = time.monotonic() + timeout
        smtp = http = None
        while time.monotonic() < deadline:
            text = Path(out_path).read_text(encoding="utf-8", errors="replace")
            smtp_m = re.search(r"listening on smtp://(\S+):(\d+)", text)
            http_m = re.search(r"API on (http://[^/\s]+)", text)
            if smtp_m and http_m:
                smtp, http = smtp_m, http_m
                break
            if process.poll() is not None:
                raise fail(f"mailfault serve exited with code {process.returncode} before it was ready")
            time.sleep(0.02)
        if smtp is None or http is None:
            raise fail(f"mailfault serve printed no listening addresses within {timeout}s")
        ca_file: Optional[str] = None
        if tls:
            ca_m = re.search(r"trust the development CA (\S+)", Path(out_path).read_text(encoding="utf-8"))
            ca_file = ca_m.group(1) if ca_m else os.path.join(certs_dir, "ca.pem")
            if not os.path.isfile(ca_file):
                raise fail(f"--tls auto did not write the CA file {ca_file}")
        server = cls(process, smtp.group(1), int(smtp.group(2)), http.group(1), ca_file, workdir, exe)
        while True:
            try:
                if server._request_bytes("GET", "/readyz", timeout=2) is not None:
                    break
            except MailfaultError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                server._stop_process()
                raise fail("mailfault serve did not become ready (GET /readyz)")
            time.sleep(0.02)
        return server

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.smtp_host}:{self.smtp_port}"

    def _stop_process(self) -> None:
        proc = self._process
        if proc.poll() is None:
            proc.terminate()  # SIGTERM to this PID: the server drains and exits 0
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        """Stop the server process (SIGTERM, then SIGKILL after 10 s) and remove its temp files."""
        self._stop_process()
        shutil.rmtree(self._workdir, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> "Mailfault":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Mailfault {state} pid={self.pid} smtp={self.smtp_host}:{self.smtp_port} api={self.api_url}>"

    # -- HTTP --------------------------------------------------------------

    def _request_bytes(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        content_type: Optional[str] = None,
        timeout: float = 30.0,
    ) -> bytes:
        req = urllib.request.Request(self.api_url + path, data=body, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"error": raw.decode("utf-8", "replace").strip()}
            message = f"{method} {path}: HTTP {err.code}: {payload.get('error', payload)}"
            if err.code == 400 and "problems" in payload:
                raise ScenarioError(message, payload.get("problems")) from None
            error = MailfaultError(message)
            error.status = err.code  # type: ignore[attr-defined]
            error.payload = payload  # type: ignore[attr-defined]
            raise error from None
        except (urllib.error.URLError, OSError) as err:
            state = "running" if self.running else f"exited with code {self._process.returncode}"
            raise MailfaultError(f"{method} {path}: cannot reach {self.api_url} ({err}); the server is {state}") from None

    def _request_json(self, method: str, path: str, payload: Any = None, timeout: float = 30.0) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        data = self._request_bytes(method, path, body, "application/json" if body else None, timeout)
        return json.loads(data) if data else None

    # -- messages ----------------------------------------------------------

    def messages(self, query: Optional[str] = None) -> List[Message]:
        """Captured messages, newest first; ``query`` is Mailpit's search syntax
        (``to:user@example.test subject:"Reset" has:attachment``)."""
        found: List[Message] = []
        start, limit = 0, 500
        while True:
            params = {"start": str(start), "limit": str(limit)}
            if query:
                params["query"] = query
            path = "/api/v1/search" if query else "/api/v1/messages"
            data = self._request_json("GET", f"{path}?{urllib.parse.urlencode(params)}")
            page = data.get("messages") or []
            found.extend(Message(self, m) for m in page)
            total = int(data.get("messages_count", data.get("total", 0)))
            start += len(page)
            if not page or start >= total:
                return found

    def message(self, id: Union[str, int] = "latest") -> Message:
        """One message by ID (``"latest"`` for the newest)."""
        detail = self._request_json("GET", f"/api/v1/message/{urllib.parse.quote(str(id))}")
        msg = Message(self, detail)
        msg._detail = detail
        return msg

    def wait_for_message(self, query: Optional[str] = None, timeout: float = 10) -> Message:
        """Wait until a message (matching ``query``, if given) is held; return the newest such.

        Raises TimeoutError saying what the server holds instead.
        """
        deadline = time.monotonic() + timeout
        if query is None:
            try:
                self._request_json(
                    "GET", f"/api/v1/wait?messages=1&timeout={int(timeout * 1000)}ms", timeout=timeout + 10
                )
            except MailfaultError as err:
                if getattr(err, "status", None) != 408:
                    raise
                raise TimeoutError(f"no message arrived within {timeout}s{self._held_summary()}") from None
            return self.messages()[0]
        while True:
            found = self.messages(query)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"no message matching {query!r} arrived within {timeout}s{self._held_summary()}"
                )
            time.sleep(0.05)

    def _held_summary(self) -> str:
        held = self.messages()
        if not held:
            return "; the server holds no messages (is the sender pointed at " f"{self.smtp_host}:{self.smtp_port}?)"
        shown = ", ".join(f"{m.subject!r} to {','.join(m.to) or '?'}" for m in held[:5])
        more = f" and {len(held) - 5} more" if len(held) > 5 else ""
        return f"; the server holds {len(held)}: {shown}{more}"

    # -- sessions, scenario, report ---------------------------------------

    def sessions(self) -> List[Session]:
        """SMTP sessions since the last ``reset()``, open and finished, newest first.

        A connection opened before the reset is left out even when it ends
        later, so one test never sees another's sessions.
        """
        data = self._request_json("GET", "/api/v1/sessions")
        return [
            Session(self, s)
            for s in data.get("sessions") or []
            if int(s.get("epoch") or 0) >= self._since_epoch
        ]

    def wait_idle(self, timeout: float = 5) -> None:
        """Wait until no SMTP session is open (so its transcript is complete)."""
        deadline = time.monotonic() + timeout
        while True:
            still_open = [s for s in self.sessions() if s.open]
            if not still_open:
                return
            if time.monotonic() >= deadline:
                which = ", ".join(f"session {s.id} from {s.client}" for s in still_open)
                raise TimeoutError(
                    f"SMTP sessions still open after {timeout}s ({which}): the client has not hung up; "
                    "close or QUIT its connection before reading the report or transcripts"
                )
            time.sleep(0.02)

    def scenario(self) -> str:
        """The active scenario's YAML, with the passwords of `auth: users:` shown as "****"."""
        return self._request_bytes("GET", "/api/v1/scenario").decode("utf-8")

    def set_scenario(self, path_or_yaml: Union[PathLike, str]) -> None:
        """Swap the scenario (a file path or YAML text) for new connections.

        Raises ScenarioError with every problem's line and column if the server refuses it.
        """
        yaml = _scenario_yaml(path_or_yaml)
        self._request_bytes("PUT", "/api/v1/scenario", yaml.encode("utf-8"), "application/yaml")

    def reset(self) -> None:
        """Forget messages, sessions and rule state (greylist tables, counters, clock)."""
        data = self._request_json("POST", "/api/v1/reset")
        self._since_epoch = int((data or {}).get("epoch") or 0)

    def advance_clock(self, by: Union[str, int, float, _dt.timedelta]) -> None:
        """Move a ``clock: virtual`` scenario's clock: ``"5m"``, seconds, or a timedelta."""
        try:
            self._request_json("POST", "/api/v1/clock/advance", {"by": _duration(by)})
        except MailfaultError as err:
            if getattr(err, "status", None) == 409:
                raise MailfaultError(
                    f"{err}\n(the active scenario runs on the real clock; add `clock: virtual` to it "
                    "to move time from the test)"
                ) from None
            raise

    def report(self, wait_idle: float = 5) -> Report:
        """Judge the scenario's ``expect:`` block (after open sessions end, up to ``wait_idle`` s)."""
        if wait_idle:
            try:
                self.wait_idle(wait_idle)
            except TimeoutError:
                pass  # judge what is there; the open session shows up in the verdicts
        return Report.from_json(self._request_json("GET", "/api/v1/report"))
