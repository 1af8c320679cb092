'use strict';
// Handshake order and role rules (PROTOCOL.md sections 5 and 6) for either side of a
// connection, as a small state machine over decoded messages. Pure.

const { PROTOCOL_VERSION, ProtocolError } = require('./codec');

const BOT_MAY_SEND = new Set(['action_result', 'pong', 'ack', 'error', 'stats', 'event']);
const CONTROL_MAY_SEND = new Set(['status', 'run', 'lifecycle', 'limit', 'reload', 'subscribe', 'error']);
const DAEMON_TO_BOT = new Set(['trim', 'sweep', 'compact', 'ping', 'shutdown', 'ack', 'error']);
const DAEMON_TO_CONTROL = new Set([
  'status_result', 'run_result', 'lifecycle_result', 'limit_result', 'reload_result', 'journal', 'ack', 'error',
]);

// The error for a peer of another major version, or null when compatible.
function checkVersion(v) {
  if (v.major === PROTOCOL_VERSION.major) return null;
  return new ProtocolError(
    'incompatible_version',
    `protocol version ${v.major}.${v.minor} is not compatible with ${PROTOCOL_VERSION.major}.${PROTOCOL_VERSION.minor} (major versions differ)`,
  );
}

class HandshakeState {
  // side: 'daemon' (checks what a peer sends) or 'peer' (checks what memvisord sends);
  // role: for side 'peer', the role this peer announced ('bot' | 'control'), or undefined.
  constructor(side, role) {
    this.side = side;
    this.role = role;
    this.established = false;
    this.refused = false;
  }

  // Returns null when `msg` is acceptable now, else a ProtocolError (state left unchanged).
  accept(msg) {
    const unexpected = (what) => new ProtocolError('unexpected_message', what);
    if (this.side === 'daemon') {
      if (!this.established) {
        if (msg.type !== 'hello') return unexpected(`expected hello as the first frame, got ${msg.type}`);
        const e = checkVersion(msg.version);
        if (e) return e;
        this.role = msg.role;
        this.established = true;
        return null;
      }
      const allowed = (this.role === 'bot' ? BOT_MAY_SEND : CONTROL_MAY_SEND).has(msg.type);
      return allowed ? null : unexpected(`a ${this.role} peer may not send ${msg.type}`);
    }
    if (this.refused) return unexpected(`connection was refused by memvisord; got ${msg.type}`);
    if (!this.established) {
      if (msg.type === 'error') {
        this.refused = true;
        return null;
      }
      if (msg.type !== 'welcome') return unexpected(`expected welcome or error as the first frame, got ${msg.type}`);
      const e = checkVersion(msg.version);
      if (e) return e;
      this.established = true;
      return null;
    }
    let allowed;
    if (this.role === 'bot') allowed = DAEMON_TO_BOT.has(msg.type);
    else if (this.role === 'control') allowed = DAEMON_TO_CONTROL.has(msg.type);
    else allowed = DAEMON_TO_BOT.has(msg.type) || DAEMON_TO_CONTROL.has(msg.type);
    return allowed ? null : unexpected(`memvisord may not send ${msg.type} to this peer`);
  }
}

module.exports = { HandshakeState, checkVersion };
