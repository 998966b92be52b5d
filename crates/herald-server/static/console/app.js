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
let stream = null;
function tail(list) {
  const source = new EventSource(list.dataset.stream);
  stream = source;
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
function start() {
  const list = document.getElementById("tail");
  if (list) tail(list);
}
start();

// Partial updates: a link or form within the console fetches the next page and swaps the
// body in place (no reload of styles and script, the tail closed cleanly, history kept).
// Anything unusual (another origin, a modifier key, a download, an answer that is not a
// page, a network error) falls back to the browser's own navigation.
function local(url) {
  return url.origin === location.origin && url.pathname.startsWith("/ui/") &&
    !url.pathname.startsWith("/ui/static/") && !url.pathname.endsWith("/stream");
}
// `push`: "push" the answer's address to the history, "redirected" only if the request
// was redirected, "none" to leave it (going back).
async function swap(url, init, push) {
  let resp;
  try {
    resp = await fetch(url, { ...init, credentials: "same-origin", headers: { "X-Herald-Boost": "1" } });
  } catch (_) {
    location.assign(url);
    return;
  }
  const type = resp.headers.get("content-type") || "";
  if (!type.startsWith("text/html") || !local(new URL(resp.url))) {
    location.assign(resp.url);
    return;
  }
  const next = new DOMParser().parseFromString(await resp.text(), "text/html");
  if (stream) { stream.close(); stream = null; }
  document.title = next.title;
  document.body.replaceWith(document.adoptNode(next.body));
  if (push === "push" || (push === "redirected" && resp.redirected)) {
    history.pushState(null, "", resp.url);
  }
  window.scrollTo(0, 0);
  const heading = document.querySelector("main h1");
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
  start();
}
document.addEventListener("click", (ev) => {
  const link = ev.target.closest("a[href]");
  if (!link || ev.defaultPrevented || ev.button !== 0) return;
  if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  if (link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href);
  if (!local(url) || (url.hash && url.pathname === location.pathname)) return;
  ev.preventDefault();
  swap(url.href, { method: "GET" }, "push");
});
document.addEventListener("submit", (ev) => {
  const form = ev.target;
  if (ev.defaultPrevented || form.target) return;
  const url = new URL(form.action, location.href);
  if (!local(url)) return;
  ev.preventDefault();
  const data = new URLSearchParams(new FormData(form, ev.submitter));
  if (form.method === "get") {
    url.search = data.toString();
    swap(url.href, { method: "GET" }, "push");
  } else {
    // A post that answers with a page of its own (not a redirect) keeps the address it
    // was made from, as the browser's own reload could not repeat it.
    swap(url.href, { method: "POST", body: data }, "redirected");
  }
});
window.addEventListener("popstate", () => swap(location.href, { method: "GET" }, "none"));
