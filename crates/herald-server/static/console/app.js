// herald console: the few things that need a script. Every page reads without it.
"use strict";

// Copy buttons: <button data-copy="value">.
document.addEventListener("click", (ev) => {
  const button = ev.target.closest("button[data-copy]");
  if (!button) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    const label = button.textContent;
    button.textContent = "copied";
    setTimeout(() => { button.textContent = label; }, 1200);
  });
});

// Relative times ("3 min ago") kept current; the absolute time stays in the tooltip.
function ago(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 0) return "in the future";
  if (s < 5) return "just now";
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return Math.floor(s / 86400) + " d ago";
}
function refreshTimes() {
  const now = Date.now();
  for (const t of document.querySelectorAll("time[datetime]")) {
    const at = Date.parse(t.getAttribute("datetime"));
    if (!Number.isNaN(at)) t.textContent = ago(now - at);
  }
}
setInterval(refreshTimes, 15000);

// The live tail: each server-sent event is one line, newest first.
function tail(list) {
  const source = new EventSource(list.dataset.stream);
  const add = (kind) => (ev) => {
    const item = JSON.parse(ev.data);
    const li = document.createElement("li");
    li.className = kind;
    const link = document.createElement("a");
    link.href = item.href;
    link.textContent = item.id;
    const when = document.createElement("time");
    when.setAttribute("datetime", item.at);
    when.textContent = ago(Date.now() - Date.parse(item.at));
    li.append(when, " ", kind, " ", link, " ", item.text);
    list.prepend(li);
    while (list.children.length > 500) list.lastElementChild.remove();
  };
  source.addEventListener("event", add("event"));
  source.addEventListener("attempt", add("attempt"));
  const status = document.getElementById("tail-status");
  source.onopen = () => { if (status) status.textContent = "live"; };
  source.onerror = () => { if (status) status.textContent = "reconnecting…"; };
}
const tailList = document.getElementById("tail");
if (tailList) tail(tailList);
