// mailfault web page: lists captured messages and SMTP sessions, shows a
// message (headers, text, sandboxed HTML, raw) or a session's transcript,
// and follows the server-sent event stream so new items appear without a
// reload.
//
// Everything the server sends is hostile input (subjects, headers and
// transcript lines come straight from SMTP clients): it only ever reaches the
// page through textContent, element attributes set one by one, or the
// srcdoc of an iframe sandboxed without scripts or same-origin. Never
// innerHTML.
"use strict";

(() => {
  const API = "/api/v1";
  // Lists keep at most this many items in the DOM; the rest are counted.
  const MAX_ITEMS = 2000;

  const $ = (id) => document.getElementById(id);

  // Element builder: el("li", {class: "x", dataset: {id: 3}}, child, "text").
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const state = {
    messages: [], // summaries, newest first
    messagesTotal: 0,
    sessions: [], // summaries, newest first
    selected: null, // {kind: "message"|"session", id}
    tab: "headers",
    filter: "",
    rawFor: null, // message id whose raw source is loaded
  };

  // ---------- helpers ----------

  async function api(method, path) {
    const res = await fetch(API + path, { method, headers: { Accept: "application/json" } });
    if (!res.ok) {
      let message = `${method} ${path}: HTTP ${res.status}`;
      try {
        const body = await res.json();
        if (body && typeof body.error === "string") message = body.error;
      } catch (_) {
        // not JSON: keep the status line
      }
      throw new Error(message);
    }
    return res;
  }
  const getJSON = async (path) => (await api("GET", path)).json();

  function showError(err) {
    const box = $("error");
    if (!err) {
      box.hidden = true;
      box.textContent = "";
      return;
    }
    box.textContent = String(err.message || err);
    box.hidden = false;
  }

  function formatSize(n) {
    if (typeof n !== "number") return "";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }

  // "2026-11-24T10:00:00.123Z" -> local "10:00:00" (today) or "2026-11-24 10:00".
  function formatTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const pad = (n) => String(n).padStart(2, "0");
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    const now = new Date();
    if (d.toDateString() === now.toDateString()) return time;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
  }

  const list = (v) => (Array.isArray(v) ? v : []);

  // ---------- message shapes ----------
  // The API sends messages in Mailpit's shapes (string IDs, PascalCase,
  // mailfault's envelope as extra fields); the page keeps the few facts it
  // shows under its own names, with numeric ids to order by.

  function messageId(v) {
    const id = typeof v === "string" ? Number(v) : NaN;
    return Number.isSafeInteger(id) && id > 0 ? id : null;
  }

  const bodyPart = (v) => (typeof v === "string" && v !== "" ? v : null);

  function fromSummary(s) {
    const id = s ? messageId(s.ID) : null;
    if (id === null) return null;
    const env = s.Envelope || {};
    return {
      id,
      subject: s.Subject,
      received_at: s.Created,
      from: env.From,
      to: list(env.To),
      tls: s.TLS,
      auth_user: s.Username,
      size: s.Size,
    };
  }

  function fromMessage(m, headers) {
    const id = m ? messageId(m.ID) : null;
    if (id === null) throw new Error("the server sent a message without an ID");
    const rows = [];
    for (const [name, values] of Object.entries(headers || {})) {
      for (const value of list(values)) rows.push({ name, value: String(value) });
    }
    return {
      id,
      subject: m.Subject,
      from: m.ReturnPath,
      to: [],
      recipients: list(m.Recipients).map((r) => ({ address: r.Address, params: r.Params })),
      received_at: m.Created,
      size: m.Size,
      client: m.Client,
      helo: m.Helo,
      mail_params: m.MailParams,
      tls: m.TLS,
      auth_user: m.Username,
      session_id: m.SessionID,
      parse_error: m.ParseError,
      attachments: list(m.Attachments)
        .concat(list(m.Inline))
        .map((a) => ({ filename: a.FileName, content_type: a.ContentType, size: a.Size })),
      headers: rows,
      text: bodyPart(m.Text),
      html: bodyPart(m.HTML),
    };
  }

  // ---------- messages list ----------

  function matchesFilter(m) {
    if (!state.filter) return true;
    const hay = [m.subject || "", m.from || "", ...list(m.to)].join("\n").toLowerCase();
    return hay.includes(state.filter);
  }

  function messageItem(m) {
    const li = el(
      "li",
      {
        class: "item message",
        tabindex: "0",
        dataset: { messageId: m.id },
      },
      el(
        "div",
        { class: "row" },
        el("span", { class: m.subject ? "subject" : "subject none", text: m.subject || "(no subject)" }),
        el("time", { class: "when", datetime: m.received_at, text: formatTime(m.received_at) }),
      ),
      el(
        "div",
        { class: "row sub" },
        el("span", { class: "addr", text: `${m.from || "<>"} \u2192 ${list(m.to).join(", ")}` }),
        el(
          "span",
          { class: "badges" },
          m.tls ? el("span", { class: "badge tls", title: m.tls, text: "TLS" }) : null,
          m.auth_user ? el("span", { class: "badge auth", title: `AUTH as ${m.auth_user}`, text: "AUTH" }) : null,
          el("span", { class: "size", text: formatSize(m.size) }),
        ),
      ),
    );
    if (isSelected("message", m.id)) li.classList.add("selected");
    return li;
  }

  function renderMessages() {
    const ol = $("messages");
    const frag = document.createDocumentFragment();
    let shown = 0;
    for (const m of state.messages) {
      if (shown >= MAX_ITEMS) break;
      if (!matchesFilter(m)) continue;
      frag.append(messageItem(m));
      shown++;
    }
    ol.replaceChildren(frag);
    updateMessageCounts(shown);
  }

  function updateMessageCounts(shown) {
    if (shown === undefined) shown = $("messages").childElementCount;
    $("messages-count").textContent = String(state.messagesTotal);
    const more = $("messages-more");
    const hidden = state.messagesTotal - shown;
    if (hidden > 0) {
      more.textContent = state.filter
        ? `${shown} shown (filtered) of ${state.messagesTotal}`
        : `${hidden} older not shown`;
      more.hidden = false;
    } else {
      more.hidden = true;
    }
  }

  function addMessage(summary) {
    const m = fromSummary(summary);
    if (!m) return;
    if (state.messages.some((x) => x.id === m.id)) return;
    state.messagesTotal++;
    if (state.messages.length && m.id < state.messages[0].id) {
      // Out of order (rare): keep the list sorted, newest first.
      state.messages.push(m);
      state.messages.sort((a, b) => b.id - a.id);
      renderMessages();
      return;
    }
    state.messages.unshift(m);
    if (state.messages.length > MAX_ITEMS) state.messages.length = MAX_ITEMS;
    if (matchesFilter(m)) {
      const ol = $("messages");
      ol.prepend(messageItem(m));
      while (ol.childElementCount > MAX_ITEMS) ol.lastElementChild.remove();
    }
    updateMessageCounts();
  }

  async function loadMessages() {
    const body = await getJSON(`/messages?limit=${MAX_ITEMS}`);
    const fetched = list(body.messages).map(fromSummary).filter(Boolean);
    // Keep anything the event stream delivered while the request was out.
    const seen = new Set(fetched.map((m) => m.id));
    const newest = fetched.length ? fetched[0].id : 0;
    const extra = state.messages.filter((m) => m.id > newest && !seen.has(m.id));
    state.messages = extra.concat(fetched);
    state.messagesTotal = (typeof body.total === "number" ? body.total : fetched.length) + extra.length;
    renderMessages();
  }

  // ---------- sessions list ----------

  function sessionItem(s) {
    const msgs = list(s.messages).length;
    const li = el(
      "li",
      {
        class: s.faults ? "item session has-faults" : "item session",
        tabindex: "0",
        dataset: { sessionId: s.id },
      },
      el(
        "div",
        { class: "row" },
        el("span", { class: "title", text: `#${s.id} ${s.client || ""}` }),
        el("time", { class: "when", datetime: s.started_at, text: formatTime(s.started_at) }),
      ),
      el(
        "div",
        { class: "row sub" },
        el("span", {
          text: `conn ${s.connection ?? "?"} \u00b7 ${msgs} message${msgs === 1 ? "" : "s"} \u00b7 ${s.events ?? 0} events`,
        }),
        s.open
          ? el("span", { class: "badge live", text: "in progress" })
          : s.faults
            ? el("span", { class: "badge fault", text: `${s.faults} fault${s.faults === 1 ? "" : "s"}` })
            : null,
      ),
    );
    if (isSelected("session", s.id)) li.classList.add("selected");
    return li;
  }

  function renderSessions() {
    const frag = document.createDocumentFragment();
    for (const s of state.sessions.slice(0, MAX_ITEMS)) frag.append(sessionItem(s));
    $("sessions").replaceChildren(frag);
    updateSessionCounts();
  }

  function updateSessionCounts() {
    $("sessions-count").textContent = String(state.sessions.length);
    const hidden = state.sessions.length - $("sessions").childElementCount;
    const more = $("sessions-more");
    more.hidden = hidden <= 0;
    more.textContent = hidden > 0 ? `${hidden} older not shown` : "";
  }

  function addSession(s) {
    if (!s || typeof s.id !== "number") return;
    const known = state.sessions.findIndex((x) => x.id === s.id);
    if (known >= 0) {
      // A session in progress is replaced by its finished record.
      if (!state.sessions[known].open || s.open) return;
      state.sessions[known] = s;
      const old = $("sessions").querySelector(`[data-session-id="${s.id}"]`);
      if (old) old.replaceWith(sessionItem(s));
      if (isSelected("session", s.id)) route();
      return;
    }
    if (state.sessions.length && s.id < state.sessions[0].id) {
      state.sessions.push(s);
      state.sessions.sort((a, b) => b.id - a.id);
      renderSessions();
      return;
    }
    state.sessions.unshift(s);
    const ol = $("sessions");
    ol.prepend(sessionItem(s));
    while (ol.childElementCount > MAX_ITEMS) ol.lastElementChild.remove();
    updateSessionCounts();
  }

  async function loadSessions() {
    const body = await getJSON("/sessions");
    const fetched = list(body.sessions);
    const seen = new Set(fetched.map((s) => s.id));
    const newest = fetched.length ? fetched[0].id : 0;
    const extra = state.sessions.filter((s) => s.id > newest && !seen.has(s.id));
    state.sessions = extra.concat(fetched);
    renderSessions();
  }

  // ---------- selection and routing (#message/3, #session/2) ----------

  function isSelected(kind, id) {
    return state.selected !== null && state.selected.kind === kind && state.selected.id === id;
  }

  function markSelected() {
    for (const node of document.querySelectorAll(".item.selected")) node.classList.remove("selected");
    if (!state.selected) return;
    const attr = state.selected.kind === "message" ? "data-message-id" : "data-session-id";
    const listId = state.selected.kind === "message" ? "messages" : "sessions";
    const node = $(listId).querySelector(`[${attr}="${state.selected.id}"]`);
    if (node) node.classList.add("selected");
  }

  function showPane(which) {
    $("placeholder").hidden = which !== null;
    $("message-view").hidden = which !== "message";
    $("session-view").hidden = which !== "session";
  }

  function select(kind, id) {
    const hash = kind ? `#${kind}/${id}` : "";
    if (location.hash !== hash) {
      history.replaceState(null, "", hash || location.pathname);
    }
    route();
  }

  let routeSeq = 0;
  async function route() {
    const m = /^#(message|session)\/(\d+)$/.exec(location.hash);
    const seq = ++routeSeq;
    if (!m) {
      state.selected = null;
      markSelected();
      showPane(null);
      return;
    }
    const kind = m[1];
    const id = Number(m[2]);
    state.selected = { kind, id };
    markSelected();
    try {
      const data =
        kind === "message"
          ? fromMessage(...(await Promise.all([getJSON(`/message/${id}`), getJSON(`/message/${id}/headers`)])))
          : await getJSON(`/sessions/${id}`);
      if (seq !== routeSeq) return; // a newer click won
      if (kind === "message") renderMessage(data);
      else renderSession(data);
      showPane(kind);
      showError(null);
    } catch (err) {
      if (seq !== routeSeq) return;
      showPane(null);
      showError(err);
    }
  }

  // ---------- message view ----------

  function fact(dl, name, value) {
    if (value === null || value === undefined || value === "") return;
    dl.append(el("dt", { text: name }), el("dd", null, value));
  }

  function sessionLink(id) {
    return el("a", { href: `#session/${id}`, class: "link", dataset: { sessionLink: id }, text: `session #${id}` });
  }

  function renderMessage(m) {
    const view = $("message-view");
    view.dataset.messageId = m.id;
    $("mv-subject").textContent = m.subject || "(no subject)";

    const dl = $("mv-facts");
    dl.replaceChildren();
    fact(dl, "From", m.from || "<>");
    const rcpts = list(m.recipients).length
      ? list(m.recipients).map((r) => (r.params ? `${r.address} ${r.params}` : r.address))
      : list(m.to);
    fact(dl, "To", rcpts.join(", "));
    fact(dl, "Received", `${formatTime(m.received_at)} (${m.received_at || "?"})`);
    fact(dl, "Size", formatSize(m.size));
    fact(dl, "Client", m.client);
    fact(dl, "HELO", m.helo);
    fact(dl, "MAIL params", m.mail_params);
    fact(dl, "TLS", m.tls || "no");
    fact(dl, "AUTH", m.auth_user);
    if (typeof m.session_id === "number") fact(dl, "Session", sessionLink(m.session_id));

    const perr = $("mv-parse-error");
    perr.hidden = !m.parse_error;
    perr.textContent = m.parse_error ? `MIME parse error: ${m.parse_error}` : "";

    const att = $("mv-attachments");
    att.replaceChildren(
      ...list(m.attachments).map((a) =>
        el("li", null, `${a.filename || "(unnamed)"} \u00b7 ${a.content_type || "?"} \u00b7 ${formatSize(a.size)}`),
      ),
    );
    att.hidden = att.childElementCount === 0;

    const tbody = $("mv-headers").tBodies[0];
    const rows = document.createDocumentFragment();
    for (const h of list(m.headers)) {
      rows.append(el("tr", null, el("th", { text: h.name }), el("td", { text: h.value })));
    }
    tbody.replaceChildren(rows);

    const text = $("mv-text");
    text.textContent = typeof m.text === "string" ? m.text : "(no text part)";
    text.classList.toggle("empty", typeof m.text !== "string");

    // The HTML body runs in an iframe sandboxed with no permissions at all:
    // no scripts, no same-origin, no forms, no popups. The CSP in front of it
    // also stops remote loads (tracking pixels, fonts) from the mail.
    const frame = $("mv-html");
    const csp =
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">";
    frame.srcdoc =
      typeof m.html === "string" ? csp + m.html : csp + "<p style=\"font-family:sans-serif;color:#777\">(no HTML part)</p>";

    $("mv-download").href = `${API}/message/${m.id}/raw`;
    $("mv-download").setAttribute("download", `message-${m.id}.eml`);

    state.rawFor = null;
    $("mv-raw").textContent = "";
    let tab = state.tab;
    if (tab === "html" && typeof m.html !== "string") tab = typeof m.text === "string" ? "text" : "headers";
    if (tab === "text" && typeof m.text !== "string" && typeof m.html === "string") tab = "html";
    showTab(tab, false);
  }

  function showTab(tab, remember = true) {
    if (remember) state.tab = tab;
    for (const b of document.querySelectorAll(".tabs [data-tab]")) {
      const on = b.dataset.tab === tab;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    }
    for (const p of document.querySelectorAll(".tab-panel")) p.hidden = p.dataset.panel !== tab;
    if (tab === "raw") loadRaw();
  }

  async function loadRaw() {
    const id = Number($("message-view").dataset.messageId);
    if (!id || state.rawFor === id) return;
    state.rawFor = id;
    const pre = $("mv-raw");
    pre.textContent = "loading\u2026";
    try {
      const res = await api("GET", `/message/${id}/raw`);
      const text = await res.text();
      if (state.rawFor === id) pre.textContent = text;
    } catch (err) {
      if (state.rawFor === id) {
        state.rawFor = null;
        pre.textContent = String(err.message || err);
      }
    }
  }

  // ---------- session view ----------

  const DIR_MARK = { client: "C:", server: "S:", note: "--" };

  function transcriptLine(line) {
    const dir = line.dir === "client" || line.dir === "server" ? line.dir : "note";
    const classes = ["line", dir];
    const text = typeof line.text === "string" ? line.text : "";
    if (dir === "server") {
      const code = /^([2-5])\d\d(?:[ -]|$)/.exec(text);
      if (code) classes.push(`c${code[1]}xx`);
    }
    if (line.rule) classes.push("fault");
    const li = el(
      "li",
      { class: classes.join(" "), title: line.at_ms !== undefined ? `${line.at_ms} ms` : null },
      el("span", { class: "at", text: line.at || "" }),
      el("span", { class: "dir", text: DIR_MARK[dir] }),
      el("span", { class: "text", text }),
      line.rule ? el("span", { class: "rule", title: "scenario rule", text: line.rule }) : null,
    );
    if (line.rule) li.dataset.rule = line.rule;
    return li;
  }

  function renderSession(s) {
    const view = $("session-view");
    view.dataset.sessionId = s.id;
    $("sv-title").textContent = `Session #${s.id}`;
    const dl = $("sv-facts");
    dl.replaceChildren();
    fact(dl, "Client", s.client);
    fact(dl, "Connection", s.connection !== undefined ? String(s.connection) : null);
    fact(dl, "Started", s.started_at ? `${formatTime(s.started_at)} (${s.started_at})` : null);
    fact(dl, "Ended", s.ended_at ? `${formatTime(s.ended_at)} (${s.ended_at})` : null);
    const msgs = list(s.messages);
    if (msgs.length) {
      const dd = el("span");
      msgs.forEach((id, i) => {
        if (i) dd.append(", ");
        dd.append(el("a", { href: `#message/${id}`, class: "link", dataset: { messageLink: id }, text: `#${id}` }));
      });
      fact(dl, "Messages", dd);
    }
    fact(dl, "Faults", s.faults ? String(s.faults) : null);

    const frag = document.createDocumentFragment();
    for (const line of list(s.transcript)) frag.append(transcriptLine(line));
    if (s.open) {
      frag.append(el("li", { class: "line note", text: "Session in progress: its transcript appears here when it ends." }));
    }
    $("transcript").replaceChildren(frag);
    applyHighlight(s);
  }

  // ---------- verdicts, reports, timeline ----------

  // An evidence line to mark once its session's transcript is on screen.
  let pendingHighlight = null;

  function evidenceItem(e) {
    const link = el("a", {
      href: `#session/${e.session}`,
      class: "link evidence-link",
      dataset: { sessionLink: e.session, line: e.line },
      text: `[session ${e.session} at ${e.at}]`,
    });
    link.addEventListener("click", () => {
      pendingHighlight = { session: Number(e.session), line: String(e.line) };
    });
    return el("li", null, link, " ", el("span", { class: "said", text: e.line }), el("span", { class: "why", text: e.why }));
  }

  function renderVerdicts(report) {
    const verdicts = list(report && report.verdicts);
    const summary = $("verdicts-summary");
    if (!verdicts.length) {
      summary.textContent = "The active scenario has no expect: block.";
      summary.dataset.passed = "";
    } else {
      const failed = verdicts.filter((v) => !v.passed).length;
      summary.textContent = failed ? `${failed} of ${verdicts.length} expectations FAILED` : `all ${verdicts.length} expectations passed`;
      summary.dataset.passed = String(!failed);
    }
    const frag = document.createDocumentFragment();
    for (const v of verdicts) {
      const evidence = el("ol", { class: "evidence" });
      for (const e of list(v.evidence)) evidence.append(evidenceItem(e));
      frag.append(
        el(
          "li",
          { class: `verdict ${v.passed ? "passed" : "failed"}`, dataset: { verdict: v.name, passed: String(v.passed) } },
          el("span", { class: "mark", text: v.passed ? "PASS" : "FAIL" }),
          el("span", { class: "name", text: v.name }),
          el("div", { class: "found", text: v.found }),
          evidence,
        ),
      );
    }
    $("verdicts").replaceChildren(frag);
  }

  function renderOutbox(body) {
    const reports = list(body && body.reports);
    $("outbox-count").textContent = String(reports.length);
    const frag = document.createDocumentFragment();
    for (const r of reports) {
      const what = r.type === "dsn" ? `DSN ${r.action} ${r.status}` : `ARF ${r.feedback_type}`;
      frag.append(
        el(
          "li",
          { dataset: { reportId: r.id, state: r.state } },
          el("span", { class: "state", text: r.state }),
          ` #${r.id} ${what} about <${r.recipient}> to <${r.to}> `,
          r.state !== "pending" ? el("a", { href: `${API}/outbox/${r.id}/raw`, class: "link", text: "raw" }) : null,
          r.reason ? el("span", { class: "why", text: ` (${r.reason})` }) : null,
        ),
      );
    }
    $("outbox").replaceChildren(frag);
  }

  function renderTimeline(body) {
    const tracks = list(body && body.tracks).filter((t) => t.to);
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of tracks) {
      for (const a of list(t.attempts)) {
        lo = Math.min(lo, a.at);
        hi = Math.max(hi, a.at);
      }
      for (const r of list(t.reports)) {
        lo = Math.min(lo, r.at);
        hi = Math.max(hi, r.at);
      }
    }
    const span = hi > lo ? hi - lo : 1;
    const pos = (at) => `${(((at - lo) / span) * 96 + 2).toFixed(2)}%`;
    const frag = document.createDocumentFragment();
    for (const t of tracks) {
      const axis = el("div", { class: "axis" });
      for (const a of list(t.attempts)) {
        const cls = a.code ? `c${String(a.code)[0]}xx` : "cnone";
        const tick = el("a", {
          href: `#session/${a.session}`,
          class: `tick ${cls}`,
          title: `${a.shown_at} session ${a.session}: ${a.code || "no reply"}`,
          dataset: { code: a.code || "", session: a.session },
        });
        tick.style.left = pos(a.at);
        axis.append(tick);
      }
      for (const r of list(t.reports)) {
        const mark = el("span", { class: `report ${r.kind}`, title: `report #${r.id}: ${r.kind}`, dataset: { report: r.kind } });
        mark.style.left = pos(r.at);
        axis.append(mark);
      }
      frag.append(
        el(
          "div",
          { class: "track", dataset: { from: t.from, to: t.to } },
          el("span", { class: "pair", title: `<${t.from}> -> <${t.to}>`, text: `<${t.from}> -> <${t.to}>` }),
          axis,
        ),
      );
    }
    if (!tracks.length) frag.append(el("p", { class: "more", text: "No recipient tried yet." }));
    $("timeline").replaceChildren(frag);
  }

  let reportSeq = 0;
  async function loadReport() {
    const seq = ++reportSeq;
    try {
      const [report, outbox, timeline] = await Promise.all([
        getJSON("/report?settle=0s"),
        getJSON("/outbox"),
        getJSON("/timeline"),
      ]);
      if (seq !== reportSeq) return;
      renderVerdicts(report);
      renderOutbox(outbox);
      renderTimeline(timeline);
    } catch (err) {
      if (seq === reportSeq) $("verdicts-summary").textContent = String(err.message || err);
    }
  }

  let reportTimer = 0;
  function scheduleReport() {
    clearTimeout(reportTimer);
    reportTimer = setTimeout(loadReport, 150);
  }

  // After a session is shown: mark the evidence line that led there.
  function applyHighlight(s) {
    const want = pendingHighlight;
    if (!want || want.session !== Number(s.id)) return;
    pendingHighlight = null;
    const text = want.line.replace(/^(C|S|--): /, "").replace(/ {2}\[rule: [^\]]*\]$/, "");
    for (const li of document.querySelectorAll("#transcript .line")) {
      const t = li.querySelector(".text");
      if (t && t.textContent === text) {
        li.classList.add("highlight");
        li.scrollIntoView({ block: "center" });
        return;
      }
    }
  }

  // ---------- scenario ----------

  async function loadScenario() {
    try {
      const res = await api("GET", "/scenario");
      const yaml = await res.text();
      $("scenario").textContent = yaml;
      const name = /^name:\s*(.+?)\s*$/m.exec(yaml);
      $("scenario-name").textContent = name ? name[1].replace(/^["']|["']$/g, "") : "(unnamed)";
    } catch (err) {
      $("scenario").textContent = String(err.message || err);
    }
  }

  // ---------- actions ----------

  async function reloadAll() {
    try {
      await Promise.all([loadMessages(), loadSessions(), loadScenario(), loadReport()]);
      showError(null);
    } catch (err) {
      showError(err);
    }
  }

  async function deleteAll() {
    try {
      await api("DELETE", "/messages");
      state.messages = [];
      state.messagesTotal = 0;
      renderMessages();
      if (state.selected && state.selected.kind === "message") select(null);
      await loadMessages();
      showError(null);
    } catch (err) {
      showError(err);
    }
  }

  async function reset() {
    try {
      await api("POST", "/reset");
      await afterReset();
    } catch (err) {
      showError(err);
    }
  }

  // After a reset (ours, another page's, or the server's catch-up signal
  // when this stream fell behind): reload everything, and keep the open
  // message or session only if it still exists.
  async function afterReset() {
    state.messages = [];
    state.messagesTotal = 0;
    state.sessions = [];
    await reloadAll();
    const sel = state.selected;
    if (!sel) return;
    const still =
      sel.kind === "message"
        ? state.messages.some((m) => m.id === sel.id)
        : state.sessions.some((s) => s.id === sel.id);
    if (still) markSelected();
    else select(null);
  }

  // ---------- live updates ----------

  function parse(data) {
    try {
      return JSON.parse(data);
    } catch (_) {
      return null;
    }
  }

  function setStatus(s) {
    const node = $("status");
    node.dataset.state = s;
    node.textContent = s;
  }

  let initialLoadDone = false;

  function connectEvents() {
    if (typeof EventSource === "undefined") {
      setStatus("no live updates");
      return;
    }
    const es = new EventSource(`${API}/events`);
    let opened = false;
    es.addEventListener("open", () => {
      setStatus("live");
      // After a reconnect, catch up on anything sent while we were away
      // (or a restarted server's fresh state).
      if (opened) afterReset();
      // Mail that arrived between the first list fetch and this moment
      // came with no event: fetch once more (the lists merge by id).
      else if (initialLoadDone) reloadAll();
      opened = true;
    });
    es.addEventListener("error", () => setStatus(es.readyState === EventSource.CLOSED ? "offline" : "reconnecting"));
    es.addEventListener("message", (e) => addMessage(parse(e.data)));
    es.addEventListener("session_started", (e) => addSession(parse(e.data)));
    es.addEventListener("session", (e) => {
      addSession(parse(e.data));
      scheduleReport();
    });
    es.addEventListener("report", () => scheduleReport());
    es.addEventListener("reset", () => afterReset());
    es.addEventListener("scenario", () => {
      loadScenario();
      scheduleReport();
    });
  }

  // ---------- wiring ----------

  function onListActivate(listId, attr, kind) {
    const ol = $(listId);
    const activate = (e) => {
      const item = e.target.closest(`[${attr}]`);
      if (!item || !ol.contains(item)) return;
      select(kind, Number(item.getAttribute(attr)));
    };
    ol.addEventListener("click", activate);
    ol.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        activate(e);
      }
    });
  }

  function init() {
    onListActivate("messages", "data-message-id", "message");
    onListActivate("sessions", "data-session-id", "session");
    for (const b of document.querySelectorAll(".tabs [data-tab]")) {
      b.addEventListener("click", () => showTab(b.dataset.tab));
    }
    $("delete-all").addEventListener("click", deleteAll);
    $("reset").addEventListener("click", reset);
    let filterTimer = 0;
    $("filter").addEventListener("input", (e) => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => {
        state.filter = e.target.value.trim().toLowerCase();
        renderMessages();
      }, 120);
    });
    window.addEventListener("hashchange", route);
    $("scenario-panel").open = true;
    connectEvents();
    reloadAll().then(() => {
      initialLoadDone = true;
      route();
    });
  }

  init();
})();
