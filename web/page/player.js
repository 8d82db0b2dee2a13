/*
 * The player page of streamreg-server: the lineup from /channels, the chosen
 * channel played with hls.js, and the sessions table from /api/sessions.
 *
 * window.srPlayer holds what the page saw while playing (advances of
 * currentTime, stalls, hls.js errors), so a test driving a real browser can
 * read the viewer's side of things instead of guessing from the server's.
 */
"use strict";

const REFRESH_MS = 2000;   // sessions table and channel states
const SAMPLE_MS = 250;     // how often playback progress is sampled
const RECOVER_MS = 2000;   // wait before reloading after a fatal network error

const $ = (id) => document.getElementById(id);
const video = $("video");

let channels = [];         // from /channels, in lineup order
let hls = null;
let playing = null;        // id of the channel being played

const stats = {
  channel: null,
  startedAt: 0,            // performance.now() of the load
  firstFrameMs: null,      // load → first advance of currentTime
  currentTime: 0,
  lastAdvance: 0,          // performance.now() when currentTime last moved
  maxStallMs: 0,           // longest time without an advance since the first frame
  stalls: 0,               // waits of more than 1 s without an advance
  fatal: [],               // fatal hls.js errors: {type, details, t}
  errors: 0,               // non-fatal hls.js errors
  recoveries: 0,
  played: 0,               // samples in which currentTime moved
  levels: 0,
};
window.srPlayer = stats;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function setStatus(text) {
  $("status").textContent = text;
}

function fmtIdle(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return ms + " ms";
  if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
  return Math.round(ms / 60000) + " min";
}

function channelName(id) {
  const c = channels.find((x) => x.id === id);
  return c ? c.name || id : id;
}

function renderChannels() {
  const ul = $("channels");
  ul.replaceChildren();
  if (!channels.length) {
    ul.append(el("li", "the lineup is empty", "muted"));
    return;
  }
  for (const c of channels) {
    const li = el("li");
    if (c.id === playing) li.className = "current";
    const b = el("button", c.name || c.id);
    b.type = "button";
    b.dataset.id = c.id;
    b.addEventListener("click", () => play(c.id));
    const state = el("span", c.state, "state " + c.state);
    const link = el("a", "HLS", "small");
    link.href = c.master;
    link.title = "master playlist for VLC, ffplay or Safari";
    li.append(b, " ", state, " ", link);
    ul.append(li);
  }
}

function renderSessions(sessions) {
  const tb = $("sessions").tBodies[0];
  tb.replaceChildren();
  if (!sessions.length) {
    const tr = el("tr");
    const td = el("td", "no session yet: nobody has asked for a channel", "muted");
    td.colSpan = 7;
    tr.append(td);
    tb.append(tr);
    return;
  }
  for (const s of sessions) {
    const tr = el("tr");
    const err = el("td", String(s.error_count));
    if (s.last_error) {
      err.title = s.last_error;
      err.className = "bad";
    }
    const variants = (s.qualities || [])
      .map((q) => `${q.level} ${q.bitrate_kbps}k`).join(", ");
    tr.append(
      el("td", channelName(s.channel_id)),
      el("td", s.state, "state " + s.state),
      el("td", String(s.clients), "num"),
      err,
      el("td", variants || "–"),
      el("td", fmtIdle(s.idle_ms), "num"),
      el("td", s.pid ? "pid " + s.pid : "–"));
    tb.append(tr);
  }
}

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

async function refresh() {
  try {
    const [ch, sessions] = await Promise.all([getJSON("/channels"), getJSON("/api/sessions")]);
    channels = ch;
    renderChannels();
    renderSessions(sessions);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("updated").textContent = "cannot refresh: " + e.message;
  }
}

function sample() {
  if (!playing) return;
  const now = performance.now();
  const t = video.currentTime;
  // Any move counts: a reload after an error may restart the clock lower.
  if (Math.abs(t - stats.currentTime) > 0.01) {
    if (stats.firstFrameMs === null) stats.firstFrameMs = Math.round(now - stats.startedAt);
    stats.currentTime = t;
    stats.lastAdvance = now;
    stats.played += 1;
  } else if (stats.firstFrameMs !== null) {
    const gap = now - stats.lastAdvance;
    if (gap > stats.maxStallMs) stats.maxStallMs = Math.round(gap);
    if (gap > 1000 && gap - SAMPLE_MS <= 1000) stats.stalls++;
  }
  const lvl = hls && hls.currentLevel >= 0 && hls.levels[hls.currentLevel];
  setStatus(`${channelName(playing)}: ${t.toFixed(1)} s played` +
    (lvl ? `, ${lvl.height}p` : "") +
    (stats.maxStallMs > 1000 ? `, longest stall ${(stats.maxStallMs / 1000).toFixed(1)} s` : "") +
    (stats.fatal.length ? `, ${stats.fatal.length} fatal error(s)` : ""));
}

function onHlsError(_ev, data) {
  if (!data.fatal) {
    stats.errors++;
    return;
  }
  stats.fatal.push({ type: data.type, details: data.details, t: Math.round(performance.now()) });
  setStatus(`hls.js: ${data.details}, recovering…`);
  // A viewer's page keeps trying by itself, as a TV would.
  stats.recoveries++;
  if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
    hls.recoverMediaError();
  } else {
    const id = playing;
    setTimeout(() => { if (playing === id) play(id); }, RECOVER_MS);
  }
}

function play(id) {
  const c = channels.find((x) => x.id === id);
  if (!c) return;
  if (typeof Hls === "undefined") {
    $("overlay").textContent = "hls.js is not installed on the server: run scripts/setup.sh";
    return;
  }
  if (hls) hls.destroy();
  const again = playing === id;
  playing = id;
  if (!again) {
    Object.assign(stats, { channel: id, currentTime: 0, firstFrameMs: null, maxStallMs: 0,
      stalls: 0, fatal: [], errors: 0, recoveries: 0, played: 0 });
  }
  if (!again) {
    stats.startedAt = performance.now();
    stats.lastAdvance = stats.startedAt;
  }
  location.hash = "play=" + id;
  $("overlay").hidden = true;
  renderChannels();
  if (!Hls.isSupported()) {
    video.src = c.master; // Safari plays HLS natively
  } else {
    hls = new Hls({ liveDurationInfinity: true });
    hls.on(Hls.Events.ERROR, onHlsError);
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => { stats.levels = d.levels.length; });
    hls.loadSource(c.master);
    hls.attachMedia(video);
  }
  video.play().catch(() => {}); // muted, so autoplay is allowed
  setStatus(`${c.name || id}: loading…`);
}

async function main() {
  if (typeof Hls !== "undefined") $("hlsver").textContent = Hls.version;
  await refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(sample, SAMPLE_MS);
  const m = /play=([0-9a-f-]{36})/.exec(location.hash);
  if (m) play(m[1]);
}

main();
