// Impulse dashboard: plain JavaScript, no framework, no external resources.
// Talks to the REST gateway of the server that serves this page:
//   GET  /v1/jobs                 polled every second (job list, progress bars)
//   POST /v1/jobs                 the submit form
//   POST /v1/jobs/{id}:cancel     the cancel buttons
//   GET  /v1/jobs/{id}            details and the inline result
//   GET  /v1/jobs/{id}/events     Server-Sent Events of the selected job
//   GET  /v1/metrics/stream       Server-Sent Events of the system monitor
// Server-Sent Events are read with fetch() rather than EventSource so that an
// error status (404, 429, ...) and its JSON error body can be shown, and so a
// stream can be resumed with after_seq exactly where it stopped.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
  const KINDS = ['particles', 'pi', 'distanceMatrix', 'knn', 'wordcount',
                 'index', 'table'];
  const POLL_MS = 1000;
  const POLL_HIDDEN_MS = 5000;
  const MAX_LOG_LINES = 400;
  const MONITOR_WINDOW_MS = 60000;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ------------------------------------------------------------ REST access

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;  // HTTP status; 0 when the server is unreachable
      this.code = code;
      this.field = field || '';
      this.retryAfter = '';
    }
  }

  // The gateway answers errors as {"error":{"code","message","field"}}.
  async function errorFrom(res) {
    let body = null;
    try {
      body = await res.json();
    } catch (_) { /* not JSON */ }
    const e = body && body.error ? body.error : {};
    const err = new ApiError(res.status, e.code || `HTTP_${res.status}`,
                             e.message || res.statusText || 'request failed',
                             e.field);
    err.retryAfter = res.headers.get('Retry-After') || '';
    return err;
  }

  // A server started with --auth_tokens answers 401 to /v1/ calls without a
  // bearer token: the dashboard asks for one once and keeps it for this tab
  // only (sessionStorage). "#token=..." in the address works too.
  const TOKEN_KEY = 'impulse-token';
  const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromHash[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  let askingForToken = null;

  function withToken(headers) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    return headers;
  }

  // Resolves true when the user gave a token (one prompt at a time).
  function askForToken() {
    if (!askingForToken) {
      askingForToken = new Promise((resolve) => {
        const token = window.prompt(
            'This server needs an access token (impulsed --auth_tokens):');
        if (token && token.trim()) {
          sessionStorage.setItem(TOKEN_KEY, token.trim());
        }
        resolve(Boolean(token && token.trim()));
      }).finally(() => setTimeout(() => { askingForToken = null; }, 0));
    }
    return askingForToken;
  }

  async function api(method, path, body, retried = false) {
    const init = {method, cache: 'no-store', headers: withToken({})};
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      setConnected(false);
      throw new ApiError(0, 'UNAVAILABLE', `server unreachable (${e.message})`);
    }
    setConnected(true);
    if (res.status === 401 && !retried && await askForToken()) {
      return api(method, path, body, true);
    }
    if (!res.ok) throw await errorFrom(res);
    return res.json();
  }

  // Reads a text/event-stream response and calls onEvent({id, event, data})
  // per event. Resolves when the server ends the stream; rejects with an
  // ApiError on an error status, or on abort / network failure.
  async function readEventStream(url, {signal, onOpen, onEvent}) {
    let res;
    try {
      res = await fetch(url, {
        signal,
        cache: 'no-store',
        headers: withToken({Accept: 'text/event-stream'}),
      });
    } catch (e) {
      if (signal && signal.aborted) throw e;
      throw new ApiError(0, 'UNAVAILABLE', `server unreachable (${e.message})`);
    }
    if (!res.ok) throw await errorFrom(res);
    if (onOpen) onOpen();
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let data = [];
    let event = '';
    let id = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, {stream: true});
      let start = 0;
      let nl;
      while ((nl = buffer.indexOf('\n', start)) >= 0) {
        let line = buffer.slice(start, nl);
        start = nl + 1;
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {  // end of one event
          if (data.length) onEvent({id, event: event || 'message',
                                    data: data.join('\n')});
          data = [];
          event = '';
          continue;
        }
        if (line[0] === ':') continue;  // comment (keep-alive)
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val[0] === ' ') val = val.slice(1);
        if (field === 'data') data.push(val);
        else if (field === 'event') event = val;
        else if (field === 'id') id = val;
      }
      buffer = buffer.slice(start);
    }
  }

  // ------------------------------------------------------------ errors

  const errorsBox = $('errors');

  // Shows an error banner (deduplicated by text). `context` says what failed.
  function showError(err, context) {
    const code = err.code || 'ERROR';
    const text = `${context ? context + ': ' : ''}${code} ${err.message}` +
                 (err.field ? ` (${err.field})` : '');
    for (const item of errorsBox.children) {
      if (item.dataset.text === text) {
        const n = Number(item.dataset.count || 1) + 1;
        item.dataset.count = n;
        item.querySelector('.count').textContent = ` ×${n}`;
        restartDismissTimer(item);
        return;
      }
    }
    const item = document.createElement('div');
    item.className = 'error-item';
    item.dataset.text = text;
    item.dataset.code = code;
    item.setAttribute('role', 'alert');
    const what = document.createElement('span');
    if (context) what.append(`${context}: `);
    const codeEl = document.createElement('span');
    codeEl.className = 'code';
    codeEl.textContent = code;
    what.append(codeEl, ` — ${err.message}`);
    if (err.field) {
      const f = document.createElement('span');
      f.className = 'field';
      f.textContent = ` [field ${err.field}]`;
      what.append(f);
    }
    if (err.retryAfter) what.append(` (retry after ${err.retryAfter} s)`);
    const count = document.createElement('span');
    count.className = 'count';
    what.append(count);
    const close = document.createElement('button');
    close.type = 'button';
    close.title = 'dismiss';
    close.textContent = '×';
    close.addEventListener('click', () => item.remove());
    item.append(what, close);
    errorsBox.append(item);
    while (errorsBox.children.length > 5) errorsBox.firstChild.remove();
    restartDismissTimer(item);
  }

  function restartDismissTimer(item) {
    clearTimeout(item._timer);
    item._timer = setTimeout(() => item.remove(), 20000);
  }

  let connected = null;
  function setConnected(ok) {
    if (ok === connected) return;
    connected = ok;
    const el = $('conn');
    el.className = 'conn ' + (ok ? 'conn-ok' : 'conn-bad');
    el.textContent = ok ? 'connected' : 'server unreachable';
  }

  // ------------------------------------------------------------ formatting

  function kindOf(spec) {
    if (!spec) return '?';
    for (const k of KINDS) if (spec[k]) return k;
    return '?';
  }

  function specSummary(spec) {
    const k = kindOf(spec);
    const s = spec ? spec[k] : null;
    if (!s) return '';
    if (k === 'particles') {
      const n = s.randomParticles || (s.particles ? s.particles.length : 0);
      let t = `${fmtInt(n)} particles, t_end ${s.tEnd}`;
      if (s.timestep) t += `, dt ${s.timestep}`;
      if (s.snapshotEvery) t += `, snapshot every ${s.snapshotEvery} steps`;
      return t;
    }
    if (k === 'pi') return `${fmtInt(s.samples)} samples, seed ${s.seed || 0}`;
    if (s.dataset) return `dataset ${s.dataset}`;
    return '';
  }

  function fmtInt(v) {
    const n = Number(v);
    return Number.isFinite(n) ? n.toLocaleString('en-US') : String(v);
  }

  function fmtTime(ts) {
    if (!ts) return '';
    const d = new Date(ts);
    if (isNaN(d) || d.getTime() <= 0) return '';
    return d.toLocaleTimeString('en-GB', {hour12: false});
  }

  function fmtDuration(job) {
    const start = Date.parse(job.startTime || '');
    if (!start || start <= 0) return '';
    let end = Date.parse(job.endTime || '');
    if (!end || end <= 0) end = TERMINAL.has(job.state) ? start : Date.now();
    const s = Math.max(0, (end - start) / 1000);
    if (s < 10) return `${s.toFixed(2)} s`;
    if (s < 600) return `${s.toFixed(1)} s`;
    return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  }

  function fmtBytes(v) {
    let n = Number(v);
    if (!Number.isFinite(n)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
  }

  const pct = (v) => `${(100 * v).toFixed(1)} %`;

  // ------------------------------------------------------------ charts
  // A little canvas plotting of our own: sized for the device pixel ratio,
  // redrawn at most once per animation frame.

  function canvasContext(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const rect = canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(rect.width * dpr));
    const h = Math.max(1, Math.round(rect.height * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, rect.width, rect.height);
    return {ctx, w: rect.width, h: rect.height};
  }

  // About `count` round tick values covering [min, max].
  function niceTicks(min, max, count) {
    const span = max - min;
    if (!(span > 0)) return [min];
    let step = Math.pow(10, Math.floor(Math.log10(span / count)));
    const err = (count / span) * step;
    if (err <= 0.15) step *= 10;
    else if (err <= 0.35) step *= 5;
    else if (err <= 0.75) step *= 2;
    const ticks = [];
    for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9;
         v += step) {
      ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return ticks;
  }

  // opts: {xMin, xMax, yMin, yMax, xFmt, yFmt, series: [{points: [[x, y]],
  // color, width, alpha, dash}], hlines: [{y, color, dash, label}]}
  function drawLineChart(canvas, opts) {
    const {ctx, w, h} = canvasContext(canvas);
    const pad = {l: 54, r: 12, t: 8, b: 22};
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    if (pw <= 10 || ph <= 10) return;
    const {xMin, xMax, yMin, yMax} = opts;
    const X = (x) => pad.l + ((x - xMin) / (xMax - xMin || 1)) * pw;
    const Y = (y) => pad.t + (1 - (y - yMin) / (yMax - yMin || 1)) * ph;
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#e6e9ef';
    ctx.fillStyle = '#6b7385';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const t of niceTicks(yMin, yMax, 5)) {
      const y = Math.round(Y(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(pad.l + pw, y);
      ctx.stroke();
      ctx.fillText(opts.yFmt ? opts.yFmt(t) : String(t), pad.l - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of niceTicks(xMin, xMax, Math.max(2, Math.floor(pw / 90)))) {
      const x = Math.round(X(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, pad.t);
      ctx.lineTo(x, pad.t + ph);
      ctx.stroke();
      const label = opts.xFmt ? opts.xFmt(t) : String(t);
      const half = ctx.measureText(label).width / 2;
      ctx.fillText(label, Math.min(Math.max(x, half + 1), w - half - 1),
                   pad.t + ph + 5);
    }
    ctx.strokeStyle = '#b9c0cc';
    ctx.strokeRect(pad.l + 0.5, pad.t + 0.5, pw, ph);

    ctx.save();
    ctx.beginPath();
    ctx.rect(pad.l, pad.t, pw, ph);
    ctx.clip();
    for (const line of opts.hlines || []) {
      const y = Y(line.y);
      ctx.setLineDash(line.dash || [5, 4]);
      ctx.strokeStyle = line.color || '#999';
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(pad.l + pw, y);
      ctx.stroke();
      if (line.label) {
        ctx.fillStyle = line.color || '#999';
        ctx.textAlign = 'left';
        ctx.textBaseline = 'bottom';
        ctx.fillText(line.label, pad.l + 4, y - 2);
      }
    }
    ctx.setLineDash([]);
    ctx.lineJoin = 'round';
    for (const s of opts.series) {
      if (s.points.length === 0) continue;
      ctx.globalAlpha = s.alpha === undefined ? 1 : s.alpha;
      ctx.strokeStyle = s.color;
      ctx.lineWidth = s.width || 1.5;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      s.points.forEach(([x, y], i) => {
        if (i === 0) ctx.moveTo(X(x), Y(y));
        else ctx.lineTo(X(x), Y(y));
      });
      if (s.points.length === 1) {
        ctx.arc(X(s.points[0][0]), Y(s.points[0][1]), 1.5, 0, 2 * Math.PI);
      }
      ctx.stroke();
    }
    ctx.restore();
    ctx.globalAlpha = 1;
  }

  // Particle positions: the latest snapshot bright, a few before it faded.
  function drawParticles(canvas, frames, bound) {
    const {ctx, w, h} = canvasContext(canvas);
    const size = Math.min(w, h);
    const cx = w / 2;
    const cy = h / 2;
    const scale = (size / 2 - 10) / bound;
    ctx.fillStyle = '#0f1420';
    ctx.fillRect(0, 0, w, h);
    // grid: axes and circles of round radii
    ctx.strokeStyle = 'rgba(255,255,255,0.12)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(cx - bound * scale, cy);
    ctx.lineTo(cx + bound * scale, cy);
    ctx.moveTo(cx, cy - bound * scale);
    ctx.lineTo(cx, cy + bound * scale);
    ctx.stroke();
    ctx.fillStyle = 'rgba(255,255,255,0.35)';
    ctx.font = '10px system-ui, sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    for (const r of niceTicks(0, bound, 3)) {
      if (r <= 0 || r > bound) continue;
      ctx.beginPath();
      ctx.arc(cx, cy, r * scale, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.fillText(String(+r.toPrecision(3)), cx + r * scale + 2, cy - 2);
    }
    frames.forEach((frame, fi) => {
      const latest = fi === frames.length - 1;
      ctx.globalAlpha = latest ? 1 : 0.12 + (0.3 * fi) / frames.length;
      const dot = latest ? 2.4 : 1.4;
      const {x, y} = frame;
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        ctx.fillStyle = `hsl(${(i * 137.508) % 360},80%,62%)`;
        ctx.fillRect(cx + x[i] * scale - dot / 2, cy - y[i] * scale - dot / 2,
                     dot, dot);
      }
    });
    ctx.globalAlpha = 1;
    const last = frames[frames.length - 1];
    if (last) {
      ctx.fillStyle = 'rgba(255,255,255,0.8)';
      ctx.font = '12px system-ui, sans-serif';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      ctx.fillText(last.label, 8, 8);
      canvas.dataset.drawnStep = String(last.step);
      canvas.dataset.points = String(Math.min(last.x.length, last.y.length));
    }
  }

  // One redraw per animation frame for everything marked dirty.
  const dirty = new Set();
  let frameRequested = false;
  function redraw(what) {
    dirty.add(what);
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(() => {
      frameRequested = false;
      const todo = [...dirty];
      dirty.clear();
      for (const fn of todo) fn();
    });
  }

  // ------------------------------------------------------------ job list

  const jobs = new Map();  // id -> Job JSON (latest known)
  const rows = new Map();  // id -> {tr, cells...}
  const tbody = $('jobs-body');

  function upsertJob(job) {
    const old = jobs.get(job.id);
    // Keep an inline result fetched earlier (List answers leave it out).
    if (old && old.result && !job.result) job.result = old.result;
    // A list answer may be older than the followed job's latest event.
    if (old && old.state === job.state && old.attempt === job.attempt &&
        Number(old.progress) > Number(job.progress)) {
      job.progress = old.progress;
    }
    jobs.set(job.id, job);
    renderRow(job);
    if (follow && follow.id === job.id) renderDetailHeader(job);
  }

  function makeRow(id) {
    const tr = document.createElement('tr');
    tr.dataset.jobId = id;
    const cell = (cls) => {
      const td = document.createElement('td');
      if (cls) td.className = cls;
      tr.append(td);
      return td;
    };
    const r = {tr};
    r.id = cell('id');
    r.id.textContent = id;
    r.kind = cell();
    r.stateCell = cell();
    r.state = document.createElement('span');
    r.stateCell.append(r.state);
    const progressCell = cell();
    r.bar = document.createElement('div');
    r.bar.className = 'bar';
    r.fill = document.createElement('div');
    r.fill.className = 'fill';
    r.label = document.createElement('span');
    r.label.className = 'label';
    r.bar.append(r.fill, r.label);
    progressCell.append(r.bar);
    r.device = cell();
    r.created = cell();
    r.duration = cell();
    const actions = cell();
    r.cancel = document.createElement('button');
    r.cancel.type = 'button';
    r.cancel.className = 'danger small cancel';
    r.cancel.textContent = 'Cancel';
    r.cancel.addEventListener('click', (e) => {
      e.stopPropagation();
      cancelJob(id, r.cancel);
    });
    actions.append(r.cancel);
    tr.tabIndex = 0;
    tr.addEventListener('click', () => selectJob(id));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target === tr) selectJob(id);
    });
    rows.set(id, r);
    return r;
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function setProgress(r, fraction, state) {
    const p = Math.max(0, Math.min(1, Number(fraction) || 0));
    r.bar.dataset.state = state;
    r.bar.dataset.progress = p.toFixed(4);
    r.fill.style.width = `${(p * 100).toFixed(2)}%`;
    // Floor, so 100 % means done.
    setText(r.label, `${Math.floor(p * 100 + 1e-9)} %`);
  }

  function renderRow(job) {
    const r = rows.get(job.id) || makeRow(job.id);
    const state = job.state || 'JOB_STATE_UNSPECIFIED';
    r.tr.dataset.state = state;
    setText(r.kind, kindOf(job.spec));
    r.kind.title = specSummary(job.spec);
    r.state.className = `state state-${state}`;
    setText(r.state, state + (job.cached ? ' (cached)' : ''));
    r.state.title = job.error && job.error.message
                        ? `${job.error.code}: ${job.error.message}`
                        : '';
    setProgress(r, job.progress, state);
    const placed = job.placedOn && state !== 'QUEUED' ? job.placedOn : '';
    const asked = job.spec && job.spec.device ? job.spec.device : 'AUTO';
    setText(r.device, placed && placed !== asked ? `${asked} → ${placed}`
                                                 : placed || asked);
    setText(r.created, fmtTime(job.createTime));
    setText(r.duration, fmtDuration(job));
    r.cancel.hidden = TERMINAL.has(state);
    if (TERMINAL.has(state)) r.cancel.disabled = false;
    r.tr.classList.toggle('selected', !!follow && follow.id === job.id);
  }

  // Lays the rows out in the order the server listed them (newest first);
  // jobs no longer listed leave the table.
  function renderList(list) {
    const keep = new Set(list.map((j) => j.id));
    for (const [id, r] of rows) {
      if (!keep.has(id)) {
        r.tr.remove();
        rows.delete(id);
        if (!follow || follow.id !== id) jobs.delete(id);
      }
    }
    let prev = null;
    for (const job of list) {
      upsertJob(job);
      const tr = rows.get(job.id).tr;
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    $('jobs-empty').hidden = list.length > 0;
    setText($('jobs-count'), list.length ? `${list.length} shown` : '');
  }

  let pollTimer = null;
  let polling = false;
  let pollAgain = false;
  let lastPollError = '';
  // One poll loop: a poll asked for while one is in flight runs right after
  // it (so a changed filter is applied), never beside it.
  async function poll() {
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = true;
    clearTimeout(pollTimer);
    const state = $('filter-state').value;
    const query = `page_size=50${state ? `&state=${state}` : ''}`;
    try {
      const answer = await api('GET', `/v1/jobs?${query}`);
      if (!pollAgain) renderList(answer.jobs || []);
      lastPollError = '';
    } catch (e) {
      // One banner per distinct failure, not one per second.
      if (e.message !== lastPollError) showError(e, 'listing jobs');
      lastPollError = e.message;
    } finally {
      polling = false;
    }
    if (pollAgain) {
      pollAgain = false;
      poll();
      return;
    }
    pollTimer = setTimeout(poll, document.hidden ? POLL_HIDDEN_MS : POLL_MS);
  }

  async function cancelJob(id, button) {
    if (button) button.disabled = true;
    try {
      const job = await api('POST', `/v1/jobs/${encodeURIComponent(id)}:cancel`);
      upsertJob(job);
    } catch (e) {
      showError(e, `cancelling ${id}`);
      if (button) button.disabled = false;
    }
  }

  // ------------------------------------------------------------ submit form

  const form = $('submit-form');

  function showKindFields() {
    const kind = $('f-kind').value;
    for (const fs of form.querySelectorAll('fieldset[data-kind]')) {
      fs.hidden = fs.dataset.kind !== kind;
    }
  }

  // Reads the form into a JobSpec (protobuf JSON; 64-bit integers as
  // strings). Throws an ApiError-like object naming the field on bad input.
  function buildSpec() {
    const bad = (el, message) => {
      const err = new ApiError(0, 'INVALID_ARGUMENT', message, el.dataset.field);
      err.input = el;
      return err;
    };
    const uint = (id, label, min) => {
      const el = $(id);
      const v = el.value.trim();
      if (!/^\d+$/.test(v)) throw bad(el, `${label} must be a whole number`);
      if (BigInt(v) < BigInt(min)) throw bad(el, `${label} must be at least ${min}`);
      return v.replace(/^0+(?=\d)/, '');
    };
    const real = (id, label, optional) => {
      const el = $(id);
      const v = el.value.trim();
      if (v === '' && optional) return undefined;
      const n = Number(v);
      if (v === '' || !Number.isFinite(n)) throw bad(el, `${label} must be a number`);
      return n;
    };
    const kind = $('f-kind').value;
    const spec = {};
    if (kind === 'particles') {
      spec.particles = {
        randomParticles: Number(uint('f-particles-count', 'random particles', 1)),
        tEnd: real('f-particles-tend', 't_end'),
        snapshotEvery: Number(uint('f-particles-snapshot', 'snapshot every', 0)),
        seed: uint('f-particles-seed', 'seed', 0),
      };
      const dt = real('f-particles-timestep', 'timestep', true);
      if (dt !== undefined) spec.particles.timestep = dt;
    } else {
      spec.pi = {
        samples: uint('f-pi-samples', 'samples', 1),
        seed: uint('f-pi-seed', 'seed', 0),
      };
    }
    spec.device = $('f-device').value;
    const priority = $('f-priority').value.trim();
    if (priority !== '' && priority !== '0') {
      if (!/^-?\d+$/.test(priority)) {
        throw bad($('f-priority'), 'priority must be a whole number');
      }
      spec.priority = Number(priority);
    }
    if ($('f-nocache').checked) spec.noCache = true;
    return spec;
  }

  // Marks the input the server's error names ("spec.particles.t_end" or
  // "particles.tEnd": compared without case and underscores).
  function markField(field) {
    const norm = (s) => s.toLowerCase().replace(/_/g, '').replace(/^spec\./, '');
    const want = norm(field || '');
    for (const el of form.querySelectorAll('input, select')) {
      const f = el.dataset.field ? norm(el.dataset.field) : null;
      el.classList.toggle('invalid', !!want && f === want);
    }
  }

  async function submitForm(event) {
    event.preventDefault();
    const status = $('submit-status');
    const button = $('submit-btn');
    markField('');
    let spec;
    try {
      spec = buildSpec();
    } catch (e) {
      if (e.input) e.input.classList.add('invalid');
      status.textContent = e.message;
      status.className = 'error-text';
      return;
    }
    button.disabled = true;
    status.className = 'muted';
    status.textContent = 'submitting…';
    try {
      const job = await api('POST', '/v1/jobs', spec);
      form.dataset.lastJobId = job.id;
      status.textContent = `submitted ${job.id}`;
      upsertJob(job);
      if (!rows.get(job.id).tr.parentNode) tbody.prepend(rows.get(job.id).tr);
      $('jobs-empty').hidden = true;
      selectJob(job.id);
      poll();
    } catch (e) {
      markField(e.field);
      status.className = 'error-text';
      status.textContent = `${e.code}: ${e.message}`;
      showError(e, 'submitting the job');
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------ job details

  let follow = null;  // the selected job being followed

  function selectJob(id) {
    if (follow && follow.id === id) return;
    if (follow) follow.abort.abort();
    follow = {
      id,
      abort: new AbortController(),
      lastSeq: 0,
      done: false,
      frames: [],       // the last few particle snapshots
      bound: 0,         // half-width of the particle plot
      piPoints: [],     // [samples, estimate, hits]
      pending: [],      // events not yet in the log
      skipped: 0,       // sequence numbers the server coalesced away
      framesChanged: false,
      piChanged: false,
      resultShown: false,
    };
    for (const [rid, r] of rows) r.tr.classList.toggle('selected', rid === id);
    if (location.hash !== `#${id}`) history.replaceState(null, '', `#${id}`);
    $('d-cancel').disabled = false;
    $('d-none').hidden = true;
    $('d-body').hidden = false;
    $('d-events').replaceChildren();
    setText($('d-skipped'), '');
    $('d-result').hidden = true;
    $('d-particles').hidden = true;
    $('d-pi').hidden = true;
    const canvas = $('particles-canvas');
    delete canvas.dataset.drawnStep;
    delete canvas.dataset.points;
    setText($('pi-estimate'), '–');
    setText($('pi-details'), '');
    setText($('d-id'), id);
    const known = jobs.get(id);
    if (known) renderDetailHeader(known);
    const f = follow;
    api('GET', `/v1/jobs/${encodeURIComponent(id)}`)
        .then((job) => {
          if (follow !== f) return;
          upsertJob(job);
          if (TERMINAL.has(job.state)) showResult(f, job);
        })
        .catch((e) => showError(e, `loading ${id}`));
    streamEvents(f);
  }

  function renderDetailHeader(job) {
    const state = job.state || '';
    const el = $('d-state');
    el.className = `state state-${state}`;
    setText(el, state);
    $('d-cancel').hidden = TERMINAL.has(state) || !state;
    const kind = kindOf(job.spec);
    $('d-particles').hidden = kind !== 'particles';
    $('d-pi').hidden = kind !== 'pi';
    const parts = [
      ['kind', kind],
      ['spec', specSummary(job.spec)],
      ['progress', pct(Number(job.progress) || 0)],
      ['device', job.placedOn && state !== 'QUEUED' ? job.placedOn
                                                      : (job.spec || {}).device],
      ['created', fmtTime(job.createTime)],
      ['ran', fmtDuration(job)],
    ];
    if (Number(job.attempt) > 1) parts.push(['attempt', String(job.attempt)]);
    if (job.cached) parts.push(['cached from', job.cachedFrom]);
    if (job.error && job.error.code) {
      parts.push(['error', `${job.error.code}: ${job.error.message}`]);
    }
    const summary = $('d-summary');
    summary.replaceChildren(...parts.filter(([, v]) => v).map(([k, v]) => {
      const span = document.createElement('span');
      const b = document.createElement('b');
      b.textContent = v;
      span.append(`${k} `, b);
      return span;
    }));
  }

  async function streamEvents(f) {
    const badge = $('d-stream');
    let failures = 0;
    while (!f.done && !f.abort.signal.aborted) {
      badge.className = 'badge';
      badge.textContent = 'connecting…';
      try {
        await readEventStream(
            `/v1/jobs/${encodeURIComponent(f.id)}/events?after_seq=${f.lastSeq}`,
            {
              signal: f.abort.signal,
              onOpen: () => {
                failures = 0;
                badge.className = 'badge ok';
                badge.textContent = 'live';
              },
              onEvent: (ev) => onJobEvent(f, ev),
            });
      } catch (e) {
        if (f.abort.signal.aborted) return;
        if (e.status >= 400 && e.status < 500 && e.status !== 408 &&
            e.status !== 429) {
          badge.className = 'badge bad';
          badge.textContent = 'unavailable';
          showError(e, `events of ${f.id}`);
          return;
        }
        failures++;
      }
      if (f.done || f.abort.signal.aborted) break;
      // The stream ended early (server restart, network): resume after the
      // last event seen.
      badge.className = 'badge bad';
      badge.textContent = 'reconnecting…';
      await sleep(Math.min(10000, 500 * 2 ** Math.min(failures, 5)));
    }
    if (!f.abort.signal.aborted) {
      badge.className = 'badge';
      badge.textContent = 'ended';
    }
  }

  // Events can arrive by the hundred per second: each one only updates the
  // followed job's state here; the page is brought up to date once per frame
  // (flushFollowed).
  function onJobEvent(f, sse) {
    if (follow !== f) return;
    let ev;
    try {
      ev = JSON.parse(sse.data);
    } catch (_) {
      return;
    }
    const seq = Number(ev.seq || sse.id || 0);
    if (seq && seq <= f.lastSeq) return;  // already seen (resume overlap)
    // The server keeps a bounded log and coalesces progress events: count
    // the sequence numbers never seen.
    if (seq > f.lastSeq + 1) f.skipped += seq - f.lastSeq - 1;
    if (seq) f.lastSeq = seq;
    f.pending.push({ev, seq});
    if (f.pending.length > MAX_LOG_LINES) f.pending.shift();
    const job = jobs.get(f.id);
    if (ev.type === 'STATE_CHANGED' && ev.state) {
      if (job) {
        job.state = ev.state;
        if (ev.error) job.error = ev.error;
        if (ev.state === 'SUCCEEDED') job.progress = 1;
      }
      if (TERMINAL.has(ev.state)) {
        f.done = true;
        api('GET', `/v1/jobs/${encodeURIComponent(f.id)}`)
            .then((j) => {
              if (follow !== f) return;
              upsertJob(j);
              showResult(f, j);
            })
            .catch((e) => showError(e, `loading ${f.id}`));
      }
    }
    if (ev.type === 'PROGRESS') {
      if (job && typeof ev.fraction === 'number' &&
          !TERMINAL.has(job.state)) {
        job.progress = ev.fraction;
        if (job.state === 'QUEUED') job.state = 'RUNNING';
      }
      if (ev.particles) addSnapshot(f, ev.particles);
      if (ev.pi) addPiEstimate(f, ev.pi);
    }
    redraw(flushFollowed);
  }

  function flushFollowed() {
    const f = follow;
    if (!f) return;
    const batch = f.pending.splice(0);
    if (batch.length) appendLog(batch);
    setText($('d-skipped'),
            f.skipped ? `${fmtInt(f.skipped)} coalesced by the server` : '');
    const job = jobs.get(f.id);
    if (job) {
      renderRow(job);
      renderDetailHeader(job);
    }
    if (f.piChanged) {
      f.piChanged = false;
      const [samples, estimate, hits] = f.piPoints[f.piPoints.length - 1];
      setText($('pi-estimate'), estimate.toFixed(8));
      setText($('pi-details'),
              `${fmtInt(hits)} hits of ${fmtInt(samples)} samples · ` +
                  `error ${(estimate - Math.PI).toExponential(2)}`);
      $('pi-estimate').dataset.estimate = String(estimate);
      drawFollowedPi();
    }
    if (f.framesChanged) {
      f.framesChanged = false;
      const last = f.frames[f.frames.length - 1];
      setText($('d-particles-caption'),
              `${last.label}, ${Math.min(last.x.length, last.y.length)} shown`);
      $('d-particles').hidden = false;
      drawFollowedParticles();
    }
  }

  function eventLine(ev, seq) {
    const li = document.createElement('li');
    const seqEl = document.createElement('span');
    seqEl.className = 'seq';
    seqEl.textContent = `#${seq}`;
    let text = `${fmtTime(ev.time)}  `;
    if (ev.type === 'STATE_CHANGED') {
      li.className = `ev-state ev-${ev.state}`;
      text += `→ ${ev.state}`;
      if (ev.error && ev.error.code) {
        text += `  ${ev.error.code}: ${ev.error.message}`;
      }
    } else {
      text += `progress ${pct(Number(ev.fraction) || 0)}`;
      const counters = Object.entries(ev.counters || {})
                           .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
                           .map(([k, v]) => `${k}=${fmtInt(v)}`)
                           .join(' ');
      if (counters) text += `  ${counters}`;
      if (ev.particles) {
        const n = (ev.particles.x || []).length;
        text += `  snapshot step ${fmtInt(ev.particles.step)} (${n} pts)`;
      }
      if (ev.pi) text += `  π ≈ ${Number(ev.pi.estimate).toFixed(6)}`;
    }
    if (ev.message) text += `  — ${ev.message}`;
    li.append(seqEl, text);
    li.title = li.textContent;
    return li;
  }

  // Appends events to the log, keeping the newest MAX_LOG_LINES lines.
  function appendLog(batch) {
    const list = $('d-events');
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    const fragment = document.createDocumentFragment();
    for (const {ev, seq} of batch) fragment.append(eventLine(ev, seq));
    list.append(fragment);
    let excess = list.children.length - MAX_LOG_LINES;
    while (excess-- > 0) list.firstChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function addSnapshot(f, snap, label) {
    const x = snap.x || [];
    const y = snap.y || [];
    if (x.length === 0) return;
    let r = 0;
    for (let i = 0; i < x.length; i++) {
      r = Math.max(r, Math.abs(x[i]), Math.abs(y[i]));
    }
    // The plot keeps its scale unless a particle leaves it.
    if (r > f.bound) f.bound = r * 1.1 || 1;
    const step = Number(snap.step || 0);
    f.frames.push({x, y, step,
                   label: label || `snapshot at step ${fmtInt(step)}`});
    if (f.frames.length > 6) f.frames.shift();
    f.framesChanged = true;
    redraw(flushFollowed);
  }

  function drawFollowedParticles() {
    if (!follow || follow.frames.length === 0) return;
    drawParticles($('particles-canvas'), follow.frames, follow.bound);
  }

  function addPiEstimate(f, pi) {
    const samples = Number(pi.samples);
    const estimate = Number(pi.estimate);
    if (!Number.isFinite(estimate) || !(samples > 0)) return;
    const pts = f.piPoints;
    pts.push([samples, estimate, Number(pi.hits)]);
    // In order of samples (the final result may come before the replayed
    // events): the last point is the newest estimate.
    if (pts.length > 1 && pts[pts.length - 2][0] > samples) {
      pts.sort((a, b) => a[0] - b[0]);
    }
    // Thin out (every other point) rather than forget the early history.
    if (f.piPoints.length > 2000) {
      f.piPoints = f.piPoints.filter((_, i) => i % 2 === 1);
    }
    f.piChanged = true;
    redraw(flushFollowed);
  }

  // The estimate against the samples drawn so far, on a log scale: the
  // error shrinks like 1/sqrt(samples).
  function drawFollowedPi() {
    if (!follow || follow.piPoints.length === 0) return;
    const pts = follow.piPoints.map(([n, y]) => [Math.log10(n), y]);
    let lo = Math.PI;
    let hi = Math.PI;
    for (const [, y] of pts) {
      lo = Math.min(lo, y);
      hi = Math.max(hi, y);
    }
    const margin = Math.max((hi - lo) * 0.15, 1e-6);
    // Enough decimals that the ticks (about 5) read differently.
    const digits = Math.min(10, Math.max(
        2, Math.ceil(-Math.log10((hi - lo + 2 * margin) / 5)) + 1));
    const xMin = Math.floor(pts[0][0]);
    const xMax = Math.max(xMin + 1, Math.ceil(pts[pts.length - 1][0]));
    drawLineChart($('pi-chart'), {
      xMin,
      xMax,
      yMin: lo - margin,
      yMax: hi + margin,
      xFmt: (v) => compact(Math.pow(10, v)),
      yFmt: (v) => v.toFixed(digits),
      series: [{points: pts, color: '#2f6fde', width: 2}],
      hlines: [{y: Math.PI, color: '#1f9d55', label: 'π'}],
    });
  }

  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e12) return `${+(v / 1e12).toPrecision(3)}T`;
    if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
    if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
    if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
    return String(+v.toPrecision(3));
  }

  // A finished job: its result (inline when small) or error.
  function showResult(f, job) {
    if (f.resultShown) return;
    f.resultShown = true;
    const box = $('d-result');
    const text = $('d-result-text');
    box.hidden = false;
    if (job.state !== 'SUCCEEDED') {
      text.textContent = job.error && job.error.code
                             ? `${job.error.code}: ${job.error.message}`
                             : job.state;
      return;
    }
    const result = job.result || {};
    if (result.pi) {
      const pi = result.pi;
      text.textContent = `π ≈ ${Number(pi.estimate).toFixed(10)}\n` +
                         `${fmtInt(pi.hits)} hits of ${fmtInt(pi.samples)} samples\n` +
                         `error ${(Number(pi.estimate) - Math.PI).toExponential(3)}`;
      if (f.piPoints.length === 0) addPiEstimate(f, pi);
    } else if (result.particles) {
      const p = result.particles;
      text.textContent = `${fmtInt(p.totalParticles)} particles after ` +
                         `${fmtInt(p.steps)} steps`;
      // No snapshots were streamed (snapshot_every 0, or a cached result):
      // plot the final positions.
      if (f.frames.length === 0 && p.x && p.y) {
        const n = Math.min(1000, p.x.length, p.y.length);
        addSnapshot(f, {x: p.x.slice(0, n), y: p.y.slice(0, n), step: p.steps},
                    `final positions (step ${fmtInt(p.steps)})`);
      }
    } else if (Object.keys(result).length) {
      const json = JSON.stringify(result, null, 1);
      text.textContent = json.length > 4000 ? json.slice(0, 4000) + '\n…' : json;
    } else {
      text.textContent = `${fmtBytes(job.resultBytes)} result: ` +
                         `GET /v1/jobs/${job.id}/result`;
    }
  }

  // ------------------------------------------------------------ monitor

  const monitor = {samples: [], threshold: 0.9, cores: 0};

  function coreColor(i, n) {
    return `hsl(${Math.round((i * 360) / Math.max(n, 1))},65%,55%)`;
  }

  function onMetricsSample(s) {
    if (!s || (s.coreLoad === undefined && s.totalLoad === undefined)) return;
    const now = performance.now();
    const cores = (s.coreLoad || []).map(Number);
    monitor.samples.push({t: now, cores, total: Number(s.totalLoad) || 0,
                          avg: Number(s.avgLoad) || 0});
    while (monitor.samples.length &&
           monitor.samples[0].t < now - MONITOR_WINDOW_MS) {
      monitor.samples.shift();
    }
    if (cores.length !== monitor.cores) {
      monitor.cores = cores.length;
      renderMonitorLegend();
    }
    setText($('m-avg'), pct(Number(s.avgLoad) || 0));
    setText($('m-mem'), `${fmtBytes(s.memUsedBytes)} / ${fmtBytes(s.memTotalBytes)}`);
    const gpu = Number(s.gpuUtilization);
    setText($('m-gpu'), gpu >= 0 ? pct(gpu) : 'none');
    setText($('m-queue'), fmtInt(s.queueDepth || 0));
    setText($('m-running'), fmtInt(s.runningJobs || 0));
    setText($('m-jps'), (Number(s.jobsPerSecond) || 0).toFixed(1));
    if (s.alert && s.alert.threshold) monitor.threshold = Number(s.alert.threshold);
    const alertBox = $('monitor-alert');
    const alert = s.alert || {};
    if (alert.kind === 'RAISED') {
      monitor.alertText = alert.message ||
          `high load: ${pct(Number(alert.load) || 0)} above ` +
              `${pct(Number(alert.threshold) || monitor.threshold)}`;
    }
    if (s.alertActive) {
      alertBox.hidden = false;
      alertBox.className = 'alert raised';
      setText(alertBox, monitor.alertText || 'high load');
    } else if (alert.kind === 'CLEARED') {
      alertBox.hidden = false;
      alertBox.className = 'alert';
      setText(alertBox, alert.message || 'load back below the threshold');
      clearTimeout(monitor.alertTimer);
      monitor.alertTimer = setTimeout(() => {
        if (!alertBox.classList.contains('raised')) alertBox.hidden = true;
      }, 5000);
    } else if (alertBox.classList.contains('raised')) {
      alertBox.hidden = true;
      alertBox.className = 'alert';
    }
    $('monitor-chart').dataset.samples = String(monitor.samples.length);
    redraw(drawMonitor);
  }

  function renderMonitorLegend() {
    const legend = $('monitor-legend');
    const item = (color, label, height) => {
      const span = document.createElement('span');
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = color;
      if (height) sw.style.height = `${height}px`;
      span.append(sw, label);
      return span;
    };
    const items = [item('#1d2330', 'average', 4), item('#2f6fde', 'total', 2)];
    for (let i = 0; i < monitor.cores; i++) {
      items.push(item(coreColor(i, monitor.cores), `cpu${i}`));
    }
    legend.replaceChildren(...items);
  }

  function drawMonitor() {
    const samples = monitor.samples;
    if (samples.length === 0) return;
    const now = samples[samples.length - 1].t;
    const series = [];
    for (let c = 0; c < monitor.cores; c++) {
      series.push({
        points: samples.map((s) => [(s.t - now) / 1000, 100 * (s.cores[c] || 0)]),
        color: coreColor(c, monitor.cores),
        width: 1,
        alpha: 0.55,
      });
    }
    series.push({points: samples.map((s) => [(s.t - now) / 1000, 100 * s.total]),
                 color: '#2f6fde', width: 1.5});
    series.push({points: samples.map((s) => [(s.t - now) / 1000, 100 * s.avg]),
                 color: '#1d2330', width: 3});
    drawLineChart($('monitor-chart'), {
      xMin: -MONITOR_WINDOW_MS / 1000,
      xMax: 0,
      yMin: 0,
      yMax: 100,
      xFmt: (v) => (v === 0 ? 'now' : `${v}s`),
      yFmt: (v) => `${v}%`,
      series,
      hlines: [{y: 100 * monitor.threshold, color: '#d23b3b',
                label: `alert ${Math.round(100 * monitor.threshold)}%`}],
    });
  }

  function setMonitorStatus(kind, text) {
    const badge = $('monitor-status');
    badge.className = `badge ${kind}`;
    badge.textContent = text;
  }

  function setMonitorUnavailable(unavailable) {
    const wrap = $('monitor-chart').parentNode;
    let note = wrap.querySelector('.unavailable');
    if (unavailable && !note) {
      note = document.createElement('div');
      note.className = 'unavailable';
      note.textContent = 'monitor unavailable';
      wrap.replaceChildren($('monitor-chart'), note);
      $('monitor-chart').hidden = true;
    } else if (!unavailable && note) {
      note.remove();
      $('monitor-chart').hidden = false;
    }
  }

  async function runMonitor() {
    let failures = 0;
    for (;;) {
      setMonitorStatus('', 'connecting…');
      try {
        await readEventStream('/v1/metrics/stream', {
          onOpen: () => {
            failures = 0;
            setMonitorUnavailable(false);
            setMonitorStatus('ok', 'live');
          },
          onEvent: (ev) => {
            try {
              onMetricsSample(JSON.parse(ev.data));
            } catch (_) { /* not a sample */ }
          },
        });
      } catch (e) {
        if (e.status === 404 || e.status === 501 || e.status === 405) {
          // This server has no monitor stream: say so, look again later.
          setMonitorUnavailable(true);
          setMonitorStatus('bad', 'unavailable');
          await sleep(30000);
          continue;
        }
        if (e.status) showError(e, 'system monitor');
      }
      failures++;
      setMonitorStatus('bad', 'reconnecting…');
      await sleep(Math.min(10000, 500 * 2 ** Math.min(failures, 5)));
    }
  }

  // ------------------------------------------------------------ start

  function start() {
    form.addEventListener('submit', submitForm);
    $('f-kind').addEventListener('change', showKindFields);
    form.addEventListener('input', (e) => e.target.classList.remove('invalid'));
    $('filter-state').addEventListener('change', poll);
    $('d-cancel').addEventListener('click', () => {
      if (follow) cancelJob(follow.id, $('d-cancel'));
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) poll();
    });
    if (typeof ResizeObserver === 'function') {
      const ro = new ResizeObserver(() => {
        redraw(drawMonitor);
        redraw(drawFollowedParticles);
        redraw(drawFollowedPi);
      });
      for (const id of ['monitor-chart', 'particles-canvas', 'pi-chart']) {
        ro.observe($(id));
      }
    }
    // Durations of running jobs tick between polls.
    setInterval(() => {
      for (const job of jobs.values()) {
        const r = rows.get(job.id);
        if (r && job.state === 'RUNNING') setText(r.duration, fmtDuration(job));
      }
    }, 250);
    showKindFields();
    poll();
    runMonitor();
    const hash = decodeURIComponent(location.hash.slice(1));
    if (hash) selectJob(hash);
  }

  start();
})();
