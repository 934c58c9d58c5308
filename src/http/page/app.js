"use strict";
async function load() {
  const list = document.getElementById("messages");
  const body = await (await fetch("/api/v1/messages")).json();
  list.replaceChildren(...body.messages.map((m) => {
    const li = document.createElement("li");
    li.textContent = `${m.id} ${m.from} -> ${m.to.join(", ")} ${m.subject ?? ""}`;
    return li;
  }));
}
load();
new EventSource("/api/v1/events").onmessage = load;
