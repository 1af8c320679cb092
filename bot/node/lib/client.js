'use strict';
// The memvisor client for Node.js bots: connects to memvisord's bot socket, performs the
// handshake, runs trim/sweep/compact/ping/shutdown through the bot's handlers with measured
// replies, and sends periodic stats. It never stalls or crashes the bot: every failure only
// closes the connection and schedules a reconnect, and nothing it owns keeps the process alive.

const EventEmitter = require('node:events');
const net = require('node:net');
const path = require('node:path');
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');

const { ACTIONS, LEVELS, PROTOCOL_VERSION, ProtocolError, decode, encodeFrame } = require('./codec');
const { Framer } = require('./framer');
const { HandshakeState } = require('./handshake');
const { currentFigures, heapUsed, settleRss, collectGarbage, compactHeap, gcAvailable } = require('./figures');
const { logfmt, stderrSink } = require('./log');

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

// Capped exponential backoff with jitter: nominal 100 ms doubling to 5 s; the delay is drawn
// from the upper half of the nominal one so that restarting bots do not reconnect in step.
function backoffDelay(attempt, random = Math.random, minMs = BACKOFF_MIN_MS, maxMs = BACKOFF_MAX_MS) {
  const nominal = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

// A sweeper lifetime scaled by urgency, as the reference bot does: low x1, normal x1/2,
// high x1/4, critical 0 (everything is stale).
function sweepLifetimeSeconds(baseSeconds, urgency) {
  const scale = { low: 1, normal: 0.5, high: 0.25, critical: 0 }[urgency];
  return scale === undefined ? baseSeconds : Math.floor(baseSeconds * scale);
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const isPowerOfTwo = (n) => n > 0 && (n & (n - 1)) === 0;

class MemvisorClient extends EventEmitter {
  // options: socketPath ($MEMVISOR_SOCKET), name ($MEMVISOR_BOT_NAME), cacheCounts (() =>
  // {name: entries}), log (line => void, stderr), exitOnShutdown (true), settleMaxMs (3000),
  // handshakeTimeoutMs (5000), maxWriteQueueBytes (1 MiB), trimAfterSweep and
  // trimAfterCompact (true: a GC after the bot's handler, when --expose-gc), compactHeap
  // (true: compact's GC also compacts V8's heap when the headroom allows, see compactHeap),
  // keepProcessAlive (false), random (Math.random, for tests).
  constructor(options = {}) {
    super();
    this.options = {
      socketPath: options.socketPath ?? process.env.MEMVISOR_SOCKET ?? '',
      name: options.name ?? process.env.MEMVISOR_BOT_NAME ?? path.basename(process.argv[1] || 'node', '.js'),
      log: options.log ?? stderrSink,
      exitOnShutdown: options.exitOnShutdown ?? true,
      // V8 returns a big collection's pages within 1-3 s (issue 9's measurements under traffic).
      settleMaxMs: options.settleMaxMs ?? 3000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      maxWriteQueueBytes: options.maxWriteQueueBytes ?? 1024 * 1024,
      trimAfterSweep: options.trimAfterSweep ?? true,
      trimAfterCompact: options.trimAfterCompact ?? true,
      compactHeap: options.compactHeap ?? true,
      keepProcessAlive: options.keepProcessAlive ?? false,
      random: options.random ?? Math.random,
    };
    this.handlers = new Map();
    if (gcAvailable()) this.handlers.set('trim', null); // null = the built-in V8 trim
    this.shutdownHandler = null;
    this.cacheCounts = options.cacheCounts ?? null;
    this.conn = null;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.running = false;
    this.actionBusy = false;
    this.droppedStats = 0;
    this.statsIntervalMs = 5000;
    this.eld = null;
  }

  // Registers the handler of `action` ('trim' | 'sweep' | 'compact'). The handler gets
  // { id, action, urgency, deadlineMs, targetBytes, heapBefore } (targetBytes: what memvisord wants back,
  // protocol 1.1; undefined from a 1.0 memvisord or without a goal) and returns (or resolves to) undefined or
  // { ok?, error?, details?: [{ name, entries_before?, entries_after?, freed_bytes? }] }.
  handle(action, fn) {
    if (!ACTIONS.includes(action)) throw new TypeError(`memvisor: unknown action ${action}`);
    if (typeof fn !== 'function') throw new TypeError('memvisor: handler must be a function');
    this.handlers.set(action, fn);
    return this;
  }
  onTrim(fn) { return this.handle('trim', fn); }
  onSweep(fn) { return this.handle('sweep', fn); }
  onCompact(fn) { return this.handle('compact', fn); }
  // fn({ deadlineMs, reason }) runs after the ack; the process exits 0 when it settles
  // (or at the deadline), unless exitOnShutdown is false.
  onShutdown(fn) { this.shutdownHandler = fn; return this; }
  setCacheCounts(fn) { this.cacheCounts = fn; return this; }

  capabilities() {
    return [...ACTIONS.filter((a) => this.handlers.has(a)), 'stats', 'events', 'shutdown'];
  }

  get connected() {
    return this.conn !== null && this.conn.welcomed;
  }

  start() {
    if (this.running) return this;
    this.running = true;
    if (!this.options.socketPath) {
      this.log({ event: 'memvisor_disabled', reason: 'no socket path (MEMVISOR_SOCKET unset)' });
      return this;
    }
    this.eld = monitorEventLoopDelay({ resolution: 10 });
    this.eld.enable();
    this.connect();
    return this;
  }

  stop() {
    this.running = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.conn) this.closeConn(this.conn, 'stopped');
    if (this.eld) this.eld.disable();
  }

  // Sends an `event` (level debug|info|warn|error) for memvisord's journal; returns false
  // (dropped) when not connected or the level is unknown. Never throws.
  event(level, message, fields = {}) {
    if (!LEVELS.includes(level)) {
      this.log({ event: 'memvisor_bad_event_level', level });
      return false;
    }
    if (!this.connected) return false;
    const strFields = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)]));
    return this.send(this.conn, { type: 'event', level, message: String(message), fields: strFields }, true);
  }

  // Emits to the bot's listeners; a listener that throws costs a log line, never the bot.
  safeEmit(name, ...args) {
    try {
      this.emit(name, ...args);
    } catch (err) {
      this.log({ event: 'memvisor_listener_failed', listener: name, error: err && err.message });
    }
  }

  log(fields) {
    try {
      this.options.log(logfmt({ component: 'memvisor_client', ...fields }));
    } catch {
      // a failing log sink must not take the bot down
    }
  }

  // ---- connection ------------------------------------------------------------------------

  connect() {
    this.reconnectTimer = null;
    if (!this.running) return;
    let sock;
    try {
      sock = net.createConnection({ path: this.options.socketPath });
    } catch (err) {
      this.log({ event: 'memvisor_connect_failed', socket: this.options.socketPath, attempt: this.attempt, error: err.code || err.message });
      this.reconnectTimer = setTimeout(() => this.connect(), backoffDelay(this.attempt++, this.options.random));
      this.reconnectTimer.unref();
      return;
    }
    const conn = {
      sock,
      framer: new Framer(),
      hs: new HandshakeState('peer', 'bot'),
      welcomed: false,
      closed: false,
      statsTimer: null,
      hsTimer: null,
      socketConnected: false,
    };
    this.conn = conn;
    if (!this.options.keepProcessAlive) sock.unref();
    conn.hsTimer = setTimeout(() => this.closeConn(conn, 'handshake_timeout'), this.options.handshakeTimeoutMs);
    conn.hsTimer.unref();
    sock.on('connect', () => {
      conn.socketConnected = true;
      this.send(conn, {
        type: 'hello',
        version: PROTOCOL_VERSION,
        role: 'bot',
        pid: process.pid,
        name: this.options.name,
        capabilities: this.capabilities(),
      });
    });
    sock.on('data', (bytes) => this.onData(conn, bytes));
    sock.on('error', (err) => {
      if (!conn.socketConnected) {
        if (isPowerOfTwo(this.attempt + 1)) {
          this.log({ event: 'memvisor_connect_failed', socket: this.options.socketPath, attempt: this.attempt, error: err.code || err.message });
        }
      } else {
        this.log({ event: 'memvisor_socket_error', error: err.code || err.message });
      }
    });
    sock.on('close', () => this.onClosed(conn));
  }

  onClosed(conn) {
    conn.closed = true;
    clearTimeout(conn.hsTimer);
    clearInterval(conn.statsTimer);
    if (conn.welcomed) {
      this.log({ event: 'memvisor_disconnected', socket: this.options.socketPath });
      this.safeEmit('disconnected');
    }
    if (this.conn !== conn) return;
    this.conn = null;
    if (!this.running) return;
    const delay = backoffDelay(this.attempt, this.options.random);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  // Ends the connection, letting already queued frames (an error frame) be written first.
  closeConn(conn, reason) {
    if (conn.closed || conn.closing) return;
    conn.closing = true;
    clearTimeout(conn.hsTimer);
    clearInterval(conn.statsTimer);
    if (reason !== 'stopped' && reason !== 'protocol_error') this.log({ event: 'memvisor_closing', reason });
    conn.sock.end();
    const linger = setTimeout(() => conn.sock.destroy(), 200);
    linger.unref();
  }

  // Writes one frame. Droppable frames (stats, events) are dropped when memvisord is not
  // reading; a reply that does not fit means the connection is useless: re-establish it.
  send(conn, msg, droppable = false) {
    if (conn.closed || conn.closing || conn.sock.destroyed) return false;
    if (conn.sock.writableLength > this.options.maxWriteQueueBytes) {
      if (droppable) {
        this.droppedStats++;
        return false;
      }
      this.log({ event: 'memvisor_write_queue_full', type: msg.type });
      conn.sock.destroy();
      return false;
    }
    try {
      conn.sock.write(encodeFrame(msg));
      return true;
    } catch (err) {
      this.log({ event: 'memvisor_encode_failed', type: msg.type, error: err.message });
      return false;
    }
  }

  protocolError(conn, err, id) {
    this.log({ event: 'memvisor_protocol_error', code: err.code, message: err.message });
    this.safeEmit('protocol_error', err);
    const frame = { type: 'error', code: err.code, message: err.message };
    if (id !== undefined) frame.id = id;
    this.send(conn, frame);
    this.closeConn(conn, 'protocol_error');
  }

  onData(conn, bytes) {
    if (conn.closed || conn.closing) return;
    const { frames, tooLarge } = conn.framer.push(bytes);
    for (const frame of frames) {
      if (conn.closed || conn.closing) return;
      let msg;
      try {
        msg = decode(frame);
      } catch (err) {
        return this.protocolError(conn, err instanceof ProtocolError ? err : new ProtocolError('bad_json', String(err)));
      }
      const refusal = conn.hs.accept(msg);
      if (refusal) {
        return this.protocolError(conn, refusal, refusal.code === 'unexpected_message' ? msg.id : undefined);
      }
      try {
        this.onMessage(conn, msg);
      } catch (err) {
        // A bug of ours (or a throwing log sink) costs the connection, never the bot.
        this.log({ event: 'memvisor_internal_error', type: msg.type, error: err && err.message });
        this.closeConn(conn, 'internal_error');
        return;
      }
    }
    if (tooLarge && !conn.closing) {
      this.protocolError(conn, new ProtocolError('frame_too_large', 'frame: a line longer than 65536 bytes'));
    }
  }

  onMessage(conn, msg) {
    switch (msg.type) {
      case 'welcome':
        return this.onWelcome(conn, msg);
      case 'error':
        if (!conn.welcomed) {
          this.log({ event: 'memvisor_refused', code: msg.code, message: msg.message });
          return this.closeConn(conn, 'refused');
        }
        return this.log({ event: 'memvisor_daemon_error', id: msg.id, code: msg.code, message: msg.message });
      case 'ping':
        return this.send(conn, { type: 'pong', id: msg.id, uptime_ms: Math.round(process.uptime() * 1000) });
      case 'trim':
      case 'sweep':
      case 'compact':
        return this.onAction(conn, msg);
      case 'shutdown':
        return this.onShutdownRequest(conn, msg);
      default:
        return undefined; // ack: we send no requests that need one
    }
  }

  onWelcome(conn, msg) {
    clearTimeout(conn.hsTimer);
    conn.welcomed = true;
    this.attempt = 0;
    this.statsIntervalMs = clamp(msg.stats_interval_ms, 100, 3600 * 1000);
    this.log({ event: 'memvisor_connected', socket: this.options.socketPath, name: msg.name, daemon_pid: msg.pid, stats_interval_ms: this.statsIntervalMs });
    this.sendStats(conn);
    conn.statsTimer = setInterval(() => this.sendStats(conn), this.statsIntervalMs);
    conn.statsTimer.unref();
    this.safeEmit('connected', msg);
  }

  // ---- stats -------------------------------------------------------------------------------

  stats() {
    const s = { type: 'stats', ...currentFigures(), uptime_ms: Math.round(process.uptime() * 1000) };
    if (this.eld) {
      const lag = this.eld.mean / 1e6;
      if (Number.isFinite(lag) && lag >= 0) s.event_loop_lag_ms = Math.round(lag * 1000) / 1000;
      this.eld.reset();
    }
    if (this.cacheCounts) {
      try {
        const counts = this.cacheCounts() || {};
        s.caches = {};
        for (const [k, v] of Object.entries(counts)) {
          if (Number.isSafeInteger(v) && v >= 0) s.caches[k] = v;
        }
      } catch (err) {
        this.log({ event: 'memvisor_cache_counts_failed', error: err.message });
      }
    }
    return s;
  }

  sendStats(conn) {
    this.send(conn, this.stats(), true);
  }

  // ---- actions -----------------------------------------------------------------------------

  onAction(conn, req) {
    if (!this.handlers.has(req.type)) {
      return this.send(conn, { type: 'error', id: req.id, code: 'action_failed', message: `${req.type}: this bot has no ${req.type} handler` });
    }
    if (this.actionBusy) {
      return this.send(conn, { type: 'error', id: req.id, code: 'busy', message: `${req.type}: another action is running` });
    }
    this.actionBusy = true;
    this.runAction(req)
      .then((result) => {
        this.log({
          event: 'memvisor_action', action: req.type, id: req.id, urgency: req.urgency, ok: result.ok,
          freed_bytes: result.freed_bytes, heap_freed_bytes: result.heap_freed_bytes, target_bytes: req.target_bytes,
          target_met: result.target_met, duration_ms: result.duration_ms, deadline_ms: req.deadline_ms, late: result.late,
        });
        // Ids are per connection: a reply for a connection that went away is dropped.
        if (this.conn === conn) this.send(conn, result);
        this.safeEmit('action', result);
      })
      .catch((err) => this.log({ event: 'memvisor_action_internal', error: err.message }))
      .finally(() => {
        this.actionBusy = false;
      });
    return undefined;
  }

  // The built-in trim: a full V8 GC. What it freed shows in RSS only after V8's background
  // release, which runAction's settle waits for.
  trimStep() {
    const before = process.memoryUsage.rss();
    const ran = collectGarbage();
    return { ran, freed: before - process.memoryUsage.rss() };
  }

  async runAction(req) {
    const t0 = performance.now();
    const before = currentFigures();
    const heapBefore = heapUsed();
    // heapBefore: V8's used heap when the request arrived, the baseline of heap_freed_bytes
    // (a goal-directed handler counts its progress from it).
    const ctx = { id: req.id, action: req.type, urgency: req.urgency, deadlineMs: req.deadline_ms, targetBytes: req.target_bytes, heapBefore };
    let ok = true;
    let error = '';
    let details = [];
    let gcRan = false;
    try {
      const fn = this.handlers.get(req.type);
      let collected = false;
      if (fn) {
        const out = await fn(ctx);
        collected = Boolean(out && out.collected);
        if (out && Array.isArray(out.details)) details = out.details.map(normalizeDetail).filter(Boolean);
        if (out && out.ok === false) {
          ok = false;
          error = String(out.error || `${req.type} handler reported failure`);
        }
      }
      // Evicted entries become free memory only at V8's next collection: without one, a
      // sweep's measured effect would be nothing and memvisord would escalate for no reason.
      const trimAfter = (req.type === 'sweep' && this.options.trimAfterSweep) || (req.type === 'compact' && this.options.trimAfterCompact);
      // A handler that ran a full collection as its last step ({ collected: true }) needs no
      // second one: another full GC of a large heap would only hold the event loop longer.
      // compact: entries evicted all over the heap leave its pages partly used, and only a
      // compacting collection gives those back (figures.js compactHeap); it runs even after
      // a handler's own collection, which freed the objects but not the pages.
      if (req.type === 'compact' && this.options.compactHeap && (trimAfter || collected)) {
        const rss0 = process.memoryUsage.rss();
        const c = compactHeap({ headroomBytes: req.headroom_bytes });
        gcRan = c.ran;
        if (c.ran) details.push({ name: c.compacted ? 'v8_compaction' : 'v8_heap', freed_bytes: rss0 - process.memoryUsage.rss() });
        if (c.ran && !c.compacted) this.log({ event: 'memvisor_no_compaction', reason: c.why });
      } else if (!fn || (trimAfter && !collected)) {
        const t = this.trimStep();
        gcRan = t.ran;
        if (t.ran) details.push({ name: 'v8_heap', freed_bytes: t.freed });
      }
    } catch (err) {
      ok = false;
      error = `${req.type} handler threw: ${(err && err.name) || 'Error'}: ${(err && err.message) || String(err)}`;
    }
    // The heap freed is exact at once (V8's own count); the RSS drop follows as V8 returns pages.
    const heapFreed = heapBefore - heapUsed();
    const rssAfterHandler = process.memoryUsage.rss();
    const left = req.deadline_ms - (performance.now() - t0);
    const settled = await settleRss({ maxMs: clamp(left - 50, 0, this.options.settleMaxMs), expectBytes: Math.max(0, heapFreed) });
    if (gcRan) details.push({ name: 'v8_background_release', freed_bytes: rssAfterHandler - settled });
    const after = { ...currentFigures(), rss_bytes: settled };
    const duration = performance.now() - t0;
    // RSS that rose while the heap shrank is traffic allocating during the action, or pages V8
    // has not returned yet: not memory the action grew. Only a heap that grew too is "grown".
    let freed = before.rss_bytes - settled;
    if (freed < 0 && heapFreed >= 0) freed = 0;
    const result = {
      type: 'action_result',
      id: req.id,
      action: req.type,
      ok,
      freed_bytes: freed,
      duration_ms: Math.round(duration * 1000) / 1000,
      late: duration > req.deadline_ms,
      before,
      after,
      details,
      heap_freed_bytes: heapFreed,
    };
    if (Number.isSafeInteger(req.target_bytes)) result.target_met = ok && Math.max(freed, heapFreed) >= req.target_bytes;
    if (!ok) result.error = error;
    return result;
  }

  // ---- shutdown ----------------------------------------------------------------------------

  onShutdownRequest(conn, req) {
    this.send(conn, { type: 'ack', id: req.id });
    this.log({ event: 'memvisor_shutdown', deadline_ms: req.deadline_ms, reason: req.reason });
    this.safeEmit('shutdown', req);
    // Exit a little before the deadline, so memvisord never needs its stop signal.
    const deadline = new Promise((resolve) => setTimeout(resolve, Math.max(0, req.deadline_ms - 250)).unref());
    let work = Promise.resolve();
    if (this.shutdownHandler) {
      work = Promise.resolve()
        .then(() => this.shutdownHandler({ deadlineMs: req.deadline_ms, reason: req.reason }))
        .catch((err) => this.log({ event: 'memvisor_shutdown_handler_failed', error: err && err.message }));
    }
    Promise.race([work, deadline]).then(() => {
      this.stop();
      if (!this.options.exitOnShutdown) return;
      // Give the ack a moment to be written, then exit 0 as PROTOCOL.md asks.
      conn.sock.end(() => process.exit(0));
      setTimeout(() => process.exit(0), 200).unref();
    });
  }
}

// Details from a handler: name required; freed_bytes is what that part measurably released,
// 0 when the bot cannot separate it (V8 frees memory for all caches at once, at the next GC).
function normalizeDetail(d) {
  if (!d || typeof d.name !== 'string' || d.name === '') return null;
  const out = { name: d.name, freed_bytes: Number.isSafeInteger(d.freed_bytes) ? d.freed_bytes : 0 };
  if (Number.isSafeInteger(d.entries_before) && d.entries_before >= 0) out.entries_before = d.entries_before;
  if (Number.isSafeInteger(d.entries_after) && d.entries_after >= 0) out.entries_after = d.entries_after;
  return out;
}

module.exports = { MemvisorClient, backoffDelay, sweepLifetimeSeconds };
