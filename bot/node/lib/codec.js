'use strict';
// Strict decoding and canonical encoding of memvisor protocol frames (proto/PROTOCOL.md),
// driven by one schema table so that decoding and re-encoding cannot drift apart. Pure: no I/O.

const MAX_FRAME_BYTES = 65536;
const MAX_DEPTH = 16;
const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const MAX_PID = 2147483647;
const MAX_DEADLINE_MS = 600000;
const MAX_MS = 1e12;
const PROTOCOL_VERSION = Object.freeze({ major: 1, minor: 1 });

const URGENCIES = ['low', 'normal', 'high', 'critical'];
const ACTIONS = ['trim', 'sweep', 'compact'];
const LEVELS = ['debug', 'info', 'warn', 'error'];

// A decode failure: `code` is the protocol's stable error code, `message` names the field.
class ProtocolError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// Field specs: [key, kind, mode, ...params]. mode: 'R' required, 'O' optional (undefined when
// absent), 'D' defaulted (param: the default). Encoding omits O fields that are undefined and
// the D fields listed in `emptyOmitted` kinds when empty/false, exactly as the C++ encoder does.
const F = (key, kind, mode, opts = {}) => ({ key, kind, mode, ...opts });
const id = (mode = 'R') => F('id', 'int', mode, { lo: 0, hi: MAX_SAFE });
const figures = [
  F('rss_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
  F('heap_used_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
  F('heap_total_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
  F('external_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
  F('heap_limit_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }), // 1.1
];
// 1.1: another part of this answer follows (PROTOCOL.md 7.6).
const more = F('more', 'bool', 'D', { def: false, omitEmpty: true });
// The members of `stats`, also the figures of a status' bot_stats (1.1).
const statsFields = [
  ...figures,
  F('event_loop_lag_ms', 'num', 'O', { lo: 0, hi: MAX_MS }),
  F('caches', 'intMap', 'D', { lo: 0, hi: MAX_SAFE, omitEmpty: true }),
  F('uptime_ms', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
];
const version = F('version', 'obj', 'R', {
  spec: [F('major', 'int', 'R', { lo: 0, hi: 65535 }), F('minor', 'int', 'R', { lo: 0, hi: 65535 })],
});
const action = [
  id(),
  F('urgency', 'enum', 'R', { values: URGENCIES }),
  F('deadline_ms', 'int', 'R', { lo: 1, hi: MAX_DEADLINE_MS }),
  F('target_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }), // 1.1
  F('headroom_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }), // 1.1
];
const outcomes = F('results', 'objList', 'R', {
  spec: [
    F('bot', 'str', 'R'),
    F('ok', 'bool', 'R'),
    F('code', 'str', 'D', { def: '', omitEmpty: true }),
    F('message', 'str', 'D', { def: '', omitEmpty: true }),
    F('freed_bytes', 'int', 'D', { def: 0, lo: -MAX_SAFE, hi: MAX_SAFE }),
    F('duration_ms', 'num', 'D', { def: 0, lo: 0, hi: MAX_MS }),
  ],
});

const SCHEMAS = {
  hello: [
    version,
    F('role', 'enum', 'R', { values: ['bot', 'control'] }),
    F('pid', 'int', 'R', { lo: 0, hi: MAX_PID }),
    F('name', 'str', 'R'),
    F('capabilities', 'strList', 'D', { omitEmpty: true }),
  ],
  welcome: [
    version,
    F('pid', 'int', 'R', { lo: 0, hi: MAX_PID }),
    F('name', 'str', 'R'),
    F('capabilities', 'strList', 'D', { omitEmpty: true }),
    F('stats_interval_ms', 'int', 'D', { def: 5000, lo: 100, hi: 86400000 }),
  ],
  error: [id('O'), F('code', 'str', 'R', { nonEmpty: true }), F('message', 'str', 'R')],
  ack: [id(), F('message', 'str', 'D', { def: '', omitEmpty: true })],
  trim: action,
  sweep: action,
  compact: action,
  ping: [id()],
  shutdown: [
    id(),
    F('deadline_ms', 'int', 'R', { lo: 1, hi: MAX_DEADLINE_MS }),
    F('reason', 'str', 'D', { def: '', omitEmpty: true }),
  ],
  action_result: [
    id(),
    F('action', 'enum', 'R', { values: ACTIONS }),
    F('ok', 'bool', 'R'),
    F('freed_bytes', 'int', 'R', { lo: -MAX_SAFE, hi: MAX_SAFE }),
    F('duration_ms', 'num', 'R', { lo: 0, hi: MAX_MS }),
    F('late', 'bool', 'D', { def: false, omitEmpty: true }),
    F('before', 'obj', 'O', { spec: figures, omitEmpty: true }),
    F('after', 'obj', 'O', { spec: figures, omitEmpty: true }),
    F('details', 'objList', 'D', {
      omitEmpty: true,
      spec: [
        F('name', 'str', 'R', { nonEmpty: true }),
        F('freed_bytes', 'int', 'R', { lo: -MAX_SAFE, hi: MAX_SAFE }),
        F('entries_before', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
        F('entries_after', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
      ],
    }),
    F('error', 'str', 'D', { def: '', omitEmpty: true }),
    F('heap_freed_bytes', 'int', 'O', { lo: -MAX_SAFE, hi: MAX_SAFE }), // 1.1
    F('target_met', 'bool', 'O'), // 1.1
  ],
  pong: [id(), F('uptime_ms', 'int', 'O', { lo: 0, hi: MAX_SAFE })],
  stats: statsFields,
  event: [
    F('level', 'enum', 'R', { values: LEVELS }),
    F('message', 'str', 'R'),
    F('fields', 'strMap', 'D', { omitEmpty: true }),
  ],
  status: [id(), F('bots', 'strList', 'D', { omitEmpty: true })],
  status_result: [
    id(),
    F('bots', 'objList', 'R', {
      spec: [
        F('name', 'str', 'R', { nonEmpty: true }),
        F('state', 'str', 'R', { nonEmpty: true }),
        F('memory_state', 'str', 'R', { nonEmpty: true }),
        F('pid', 'int', 'R', { lo: 0, hi: MAX_PID }),
        F('uptime_ms', 'int', 'R', { lo: 0, hi: MAX_SAFE }),
        F('connected', 'bool', 'R'),
        F('metric', 'str', 'R', { nonEmpty: true }),
        F('limit_bytes', 'int', 'R', { lo: 0, hi: MAX_SAFE }),
        F('limit_source', 'str', 'R', { nonEmpty: true }),
        F('rss_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
        F('pss_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
        F('working_set_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
        F('cgroup_usage_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
        F('metric_bytes', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
        F('last_action', 'obj', 'O', {
          spec: [
            F('action', 'str', 'R', { nonEmpty: true }),
            F('ok', 'bool', 'R'),
            F('freed_bytes', 'int', 'R', { lo: -MAX_SAFE, hi: MAX_SAFE }),
            F('at_ms', 'int', 'R', { lo: 0, hi: MAX_SAFE }),
            F('reason', 'str', 'D', { def: '', omitEmpty: true }),
          ],
        }),
        F('restarts', 'int', 'R', { lo: 0, hi: MAX_SAFE }),
        F('oom_kills', 'int', 'R', { lo: 0, hi: MAX_SAFE }),
        F('thresholds_bytes', 'intList', 'D', { lo: 0, hi: MAX_SAFE, omitEmpty: true }),
        F('bot_stats', 'obj', 'O', {
          spec: [F('age_ms', 'int', 'R', { lo: 0, hi: MAX_SAFE }), F('stale', 'bool', 'R'), ...statsFields],
        }),
        F('liveness', 'str', 'O'),
        F('liveness_reason', 'str', 'O'),
        F('ping_ms', 'num', 'O', { lo: 0, hi: MAX_MS }),
        F('memory_alert', 'bool', 'O'),
      ],
    }),
    more,
  ],
  run: [id(), F('bot', 'str', 'R', { nonEmpty: true }), F('action', 'enum', 'R', { values: ACTIONS })],
  run_result: [id(), outcomes, more],
  lifecycle: [
    id(),
    F('bot', 'str', 'R', { nonEmpty: true }),
    F('op', 'enum', 'R', { values: ['start', 'stop', 'restart'] }),
  ],
  lifecycle_result: [id(), outcomes, more],
  limit: [id(), F('bot', 'str', 'R', { nonEmpty: true }), F('limit_bytes', 'int', 'O', { lo: 1, hi: MAX_SAFE })],
  limit_result: [
    id(),
    F('bot', 'str', 'R', { nonEmpty: true }),
    F('limit_bytes', 'int', 'R', { lo: 0, hi: MAX_SAFE }),
    F('source', 'str', 'R', { nonEmpty: true }),
  ],
  reload: [id()],
  reload_result: [
    id(),
    F('ok', 'bool', 'R'),
    F('errors', 'strList', 'D', { omitEmpty: true }),
    F('changes', 'strList', 'D', { omitEmpty: true }),
  ],
  subscribe: [
    id(),
    F('bot', 'str', 'O'),
    F('since_ms', 'int', 'O', { lo: 0, hi: MAX_SAFE }),
    F('follow', 'bool', 'D', { def: false, omitEmpty: true }),
  ],
  journal: [
    F('ts_ms', 'int', 'R', { lo: 0, hi: MAX_SAFE }),
    F('bot', 'str', 'D', { def: '', omitEmpty: true }),
    F('kind', 'str', 'R', { nonEmpty: true }),
    F('level', 'enum', 'R', { values: LEVELS }),
    F('message', 'str', 'R'),
    F('fields', 'strMap', 'D', { omitEmpty: true }),
  ],
};

const MESSAGE_TYPES = Object.freeze(Object.keys(SCHEMAS));

function jsonTypeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v; // boolean, string, object
}

function describe(v) {
  if (typeof v === 'string') {
    const chars = Array.from(v);
    return JSON.stringify(chars.length > 40 ? chars.slice(0, 40).join('') + '...' : v);
  }
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  return jsonTypeName(v);
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const own = (o, k) => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

// Reads one object's fields per `spec`; throws ProtocolError at the first failure.
function readFields(obj, spec, type, prefix) {
  const out = {};
  const where = (path) => `${type}: field "${prefix}${path}": `;
  const badType = (path, want, got) =>
    new ProtocolError('bad_field', `${where(path)}must be ${want}, got ${jsonTypeName(got)}`);
  const checkInt = (v, path, lo, hi) => {
    if (typeof v !== 'number') throw badType(path, 'an integer', v);
    if (!Number.isInteger(v)) throw badType(path, 'an integer', v);
    if (v < lo || v > hi) {
      throw new ProtocolError('out_of_range', `${where(path)}must be ${lo}..${hi}, got ${describe(v)}`);
    }
    return v === 0 ? 0 : v; // -0 re-encodes as 0
  };
  for (const f of spec) {
    const v = own(obj, f.key);
    if (v === undefined || v === null) {
      if (f.mode === 'R') throw new ProtocolError('missing_field', `${type}: missing field "${prefix}${f.key}"`);
      if (f.mode === 'D') {
        if (f.kind === 'strList' || f.kind === 'intList' || f.kind === 'objList') out[f.key] = [];
        else if (f.kind === 'strMap' || f.kind === 'intMap') out[f.key] = {};
        else out[f.key] = f.def;
      }
      continue;
    }
    switch (f.kind) {
      case 'int':
        out[f.key] = checkInt(v, f.key, f.lo, f.hi);
        break;
      case 'num':
        if (typeof v !== 'number') throw badType(f.key, 'a number', v);
        if (!Number.isFinite(v) || v < f.lo || v > f.hi) {
          throw new ProtocolError('out_of_range', `${where(f.key)}must be a finite number in ${f.lo}..${f.hi}, got ${describe(v)}`);
        }
        out[f.key] = v;
        break;
      case 'str':
        if (typeof v !== 'string') throw badType(f.key, 'a string', v);
        if (f.nonEmpty && v === '') throw new ProtocolError('out_of_range', `${where(f.key)}must not be empty`);
        out[f.key] = v;
        break;
      case 'bool':
        if (typeof v !== 'boolean') throw badType(f.key, 'a boolean', v);
        out[f.key] = v;
        break;
      case 'enum':
        if (typeof v !== 'string') throw badType(f.key, 'a string', v);
        if (!f.values.includes(v)) {
          throw new ProtocolError('out_of_range', `${where(f.key)}must be one of ${f.values.join('|')}, got ${describe(v)}`);
        }
        out[f.key] = v;
        break;
      case 'strList':
        if (!Array.isArray(v)) throw badType(f.key, 'an array of strings', v);
        v.forEach((e, i) => {
          if (typeof e !== 'string') throw badType(`${f.key}[${i}]`, 'a string', e);
        });
        out[f.key] = v.slice();
        break;
      case 'intList':
        if (!Array.isArray(v)) throw badType(f.key, 'an array of integers', v);
        out[f.key] = v.map((e, i) => checkInt(e, `${f.key}[${i}]`, f.lo, f.hi));
        break;
      case 'strMap': {
        if (!isObject(v)) throw badType(f.key, 'an object of strings', v);
        const m = {};
        for (const [k, e] of Object.entries(v)) {
          if (typeof e !== 'string') throw badType(`${f.key}.${k}`, 'a string', e);
          m[k] = e;
        }
        out[f.key] = m;
        break;
      }
      case 'intMap': {
        if (!isObject(v)) throw badType(f.key, 'an object of integers', v);
        const m = {};
        for (const [k, e] of Object.entries(v)) m[k] = checkInt(e, `${f.key}.${k}`, f.lo, f.hi);
        out[f.key] = m;
        break;
      }
      case 'obj':
        if (!isObject(v)) throw badType(f.key, 'an object', v);
        {
          const sub = readFields(v, f.spec, type, `${prefix}${f.key}.`);
          // An empty figures object means the same as an absent one (all members optional).
          if (!(f.omitEmpty && isEmptyValue(sub))) out[f.key] = sub;
        }
        break;
      case 'objList':
        if (!Array.isArray(v)) throw badType(f.key, 'an array of objects', v);
        out[f.key] = v.map((e, i) => {
          if (!isObject(e)) throw badType(`${f.key}[${i}]`, 'an object', e);
          return readFields(e, f.spec, type, `${prefix}${f.key}[${i}].`);
        });
        break;
      default:
        throw new Error(`codec: unknown field kind ${f.kind}`);
    }
  }
  return out;
}

// Rejects nesting deeper than MAX_DEPTH before JSON.parse sees the text (same scan as C++).
function nestingWithinLimit(text) {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_DEPTH) return false;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return true;
}

// JSON.parse accepts what the protocol forbids: overflowing numbers (-> Infinity) and lone
// surrogate escapes. Walk the parsed tree for both.
function strictValue(v) {
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v === 'string') return v.isWellFormed();
  if (Array.isArray(v)) return v.every(strictValue);
  if (isObject(v)) {
    for (const [k, e] of Object.entries(v)) if (!k.isWellFormed() || !strictValue(e)) return false;
  }
  return true;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Decodes one frame (a Buffer/Uint8Array of bytes, or a string) into a normalized message:
// { type, ...fields } with defaults filled in and unknown keys dropped. Throws ProtocolError.
function decode(frame) {
  let text;
  if (typeof frame === 'string') {
    if (Buffer.byteLength(frame, 'utf8') > MAX_FRAME_BYTES) {
      throw new ProtocolError('frame_too_large', `frame: ${Buffer.byteLength(frame, 'utf8')} bytes exceeds the limit of ${MAX_FRAME_BYTES}`);
    }
    text = frame;
  } else {
    if (frame.length > MAX_FRAME_BYTES) {
      throw new ProtocolError('frame_too_large', `frame: ${frame.length} bytes exceeds the limit of ${MAX_FRAME_BYTES}`);
    }
    try {
      text = utf8.decode(frame);
    } catch {
      throw new ProtocolError('bad_json', 'frame: not valid UTF-8');
    }
  }
  if (text.charCodeAt(0) === 0xfeff) throw new ProtocolError('bad_json', 'frame: a byte order mark is not allowed');
  if (!nestingWithinLimit(text)) throw new ProtocolError('bad_json', `frame: nesting deeper than ${MAX_DEPTH} levels`);
  let j;
  try {
    j = JSON.parse(text);
  } catch {
    throw new ProtocolError('bad_json', 'frame: not valid JSON');
  }
  if (!strictValue(j)) throw new ProtocolError('bad_json', 'frame: number overflows a double, or a lone surrogate escape');
  if (!isObject(j)) throw new ProtocolError('bad_json', `frame: must be a JSON object, got ${jsonTypeName(j)}`);
  const t = own(j, 'type');
  if (t === undefined || t === null) throw new ProtocolError('missing_field', 'frame: missing field "type"');
  if (typeof t !== 'string') throw new ProtocolError('bad_field', `frame: field "type": must be a string, got ${jsonTypeName(t)}`);
  const spec = Object.prototype.hasOwnProperty.call(SCHEMAS, t) ? SCHEMAS[t] : undefined;
  if (!spec) throw new ProtocolError('unknown_type', `frame: unknown message type ${describe(t)}`);
  return { type: t, ...readFields(j, spec, t, '') };
}

function isEmptyValue(v) {
  if (v === undefined || v === null || v === false || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isObject(v)) return Object.keys(v).length === 0;
  return false;
}

function encodeFields(msg, spec) {
  const out = {};
  for (const f of spec) {
    let v = msg[f.key];
    if (v === undefined || v === null) {
      if (f.mode === 'O' || f.omitEmpty) continue;
      if (f.mode === 'D') v = f.def;
      else throw new Error(`encode: missing required field "${f.key}"`);
    }
    if (f.kind === 'obj') v = encodeFields(v, f.spec);
    else if (f.kind === 'objList') v = v.map((e) => encodeFields(e, f.spec));
    if (f.omitEmpty && isEmptyValue(v)) continue;
    out[f.key] = v;
  }
  return out;
}

// Canonical encoding (what the C++ encoder writes): `type` first, empty defaults omitted.
function encode(msg) {
  const spec = SCHEMAS[msg.type];
  if (!spec) throw new Error(`encode: unknown message type ${msg.type}`);
  return JSON.stringify({ type: msg.type, ...encodeFields(msg, spec) });
}

const encodeFrame = (msg) => encode(msg) + '\n';

module.exports = {
  MAX_FRAME_BYTES,
  MAX_SAFE,
  PROTOCOL_VERSION,
  URGENCIES,
  ACTIONS,
  LEVELS,
  MESSAGE_TYPES,
  ProtocolError,
  decode,
  encode,
  encodeFrame,
};
