// Progressive parts of the pylo web view; every page works without this script.
"use strict";

function fmt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }

function when(iso) {
  if (!iso) return "–";
  const t = new Date(iso);
  return isNaN(t) ? iso : t.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function setBar(svg, d) {
  if (!svg) return;
  const total = d.total || 0;
  const f = total ? 100 * d.finished / total : 0, x = total ? 100 * d.failed / total : 0;
  const parts = [["finished", 0, f], ["failed", f, x], ["pending", f + x, Math.max(0, 100 - f - x)]];
  for (const [name, at, width] of parts) {
    const rect = svg.querySelector("rect." + name);
    rect.setAttribute("x", at.toFixed(3));
    rect.setAttribute("width", width.toFixed(3));
  }
  svg.setAttribute("aria-label", `${fmt(d.finished)} finished, ${fmt(d.failed)} failed, ${fmt(d.pending)} pending of ${fmt(d.total)}`);
}

function setStatus(el, status) {
  if (!el) return;
  el.className = "status status-" + status;
  el.textContent = status.replace(/_/g, " ");
}

function applyCounts(section, d) {
  for (const key of ["finished", "failed", "pending", "total", "inherited"]) {
    const el = section.querySelector(`[data-field="${key}"]`);
    if (el) el.textContent = fmt(d[key]);
  }
  const ended = section.querySelector('[data-field="ended"]');
  if (ended) ended.textContent = when(d.ended);
  setBar(section.querySelector('svg[data-field="bar"]'), d);
  setStatus(section.querySelector('[data-field="status"]'), d.status);
  for (const w of d.workers || []) {
    const row = document.querySelector(`tr[data-worker="${w.worker}"]`);
    if (!row) continue;
    for (const key of ["finished", "failed", "pending", "failed_attempts", "budget_left"]) {
      row.querySelector(`[data-field="${key}"]`).textContent = fmt(w[key]);
    }
    row.querySelector('[data-field="gave_up"]').textContent = w.gave_up ? "gave up" : "no";
    row.querySelector('[data-field="started"]').textContent = when(w.started);
    row.querySelector('[data-field="ended"]').textContent = when(w.ended);
  }
}

// The pictures are drawn by the server (SVG): while the execution runs they are fetched again
// with the counts, and once more when it ends.
async function refreshPictures() {
  const section = document.querySelector("section.pictures[data-pictures-url]");
  if (!section) return;
  try {
    const reply = await fetch(section.dataset.picturesUrl, { headers: { Accept: "text/html" }, cache: "no-store" });
    if (reply.ok) section.querySelector("[data-pictures]").innerHTML = await reply.text();
  } catch (err) {
    // The counts' note already says when the store cannot be read; the old pictures stay.
  }
}

function startLive(section) {
  const url = section.dataset.liveUrl, every = Math.max(0.1, parseFloat(section.dataset.refresh) || 2);
  const note = section.querySelector("[data-live-note]");
  if (section.dataset.status !== "running") {
    note.textContent = "Not running: the counts above are final (reload to check again).";
    note.hidden = false;
    return;
  }
  note.hidden = false;
  const tick = async () => {
    let d;
    try {
      const reply = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      d = await reply.json();
      if (!reply.ok) throw new Error(`HTTP ${reply.status}: ${d.error || reply.statusText}`);
    } catch (err) {
      note.textContent = `Live: updates every ${every} s; the last update failed (${err.message || err}), retrying.`;
      setTimeout(tick, every * 1000);
      return;
    }
    if (d.damaged) {
      note.textContent = `Live updates stopped: ${d.damaged}`;
      return;
    }
    applyCounts(section, d);
    // The note says what the counts say at once; the pictures follow (they are a second fetch).
    const at = new Date().toISOString().slice(11, 19);
    const running = d.status === "running";
    note.textContent = running
      ? `Live: updates every ${every} s (last at ${at} UTC).`
      : `Live updates stopped at ${at} UTC: the execution is ${d.status.replace(/_/g, " ")}.`;
    await refreshPictures();
    if (running) setTimeout(tick, every * 1000);
  };
  note.textContent = `Live: updates every ${every} s.`;
  setTimeout(tick, every * 1000);
}

// The executions list: rows of running executions follow their counts until they stop.
function startLiveRows(table) {
  const rows = Array.from(table.querySelectorAll("tr[data-live-url]"));
  const note = document.querySelector("[data-rows-note]");
  if (!rows.length || !note) return;
  const every = Math.max(0.1, parseFloat(table.dataset.refresh) || 2);
  note.textContent = `Rows of running executions update every ${every} s.`;
  note.hidden = false;
  const follow = async (row) => {
    try {
      const reply = await fetch(row.dataset.liveUrl, { headers: { Accept: "application/json" }, cache: "no-store" });
      const d = await reply.json();
      if (!reply.ok || d.damaged) throw new Error(d.error || d.damaged || reply.statusText);
      applyCounts(row, d);
      if (d.status !== "running") return;  // settled: this row is final
    } catch (err) {
      note.textContent = `Rows of running executions update every ${every} s; the last update failed (${err.message || err}), retrying.`;
    }
    setTimeout(() => follow(row), every * 1000);
  };
  for (const row of rows) setTimeout(() => follow(row), every * 1000);
}

function startFilter(form) {
  const input = form.querySelector("input[type=search]"), shown = form.querySelector("[data-shown]");
  const rows = Array.from(document.querySelectorAll("table.executions tbody tr"));
  input.addEventListener("input", () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let n = 0;
    for (const row of rows) {
      const text = (row.dataset.search || "").toLowerCase();
      const keep = words.every((w) => text.includes(w));
      row.hidden = !keep;
      if (keep) n += 1;
    }
    if (shown) shown.textContent = `${n} of ${rows.length} shown`;
  });
}

function startCopy(button) {
  const target = document.getElementById(button.dataset.copy);
  if (!target || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.textContent);
      button.textContent = "Copied";
    } catch (err) {
      button.textContent = "Select and copy";
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("section.live[data-live-url]").forEach(startLive);
  document.querySelectorAll("form.filter").forEach(startFilter);
  document.querySelectorAll("table.executions[data-refresh]").forEach(startLiveRows);
  document.querySelectorAll("button.copy[data-copy]").forEach(startCopy);
});
