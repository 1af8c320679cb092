'use strict';
// memvisor-client: the Node.js side of the memvisor bot protocol (see README.md).

const { MemvisorClient, backoffDelay, sweepLifetimeSeconds } = require('./lib/client');
const codec = require('./lib/codec');
const { Framer } = require('./lib/framer');
const { HandshakeState } = require('./lib/handshake');
const { currentFigures, settleRss } = require('./lib/figures');
const { startMemoryMonitor, formatMemLine } = require('./lib/monitor');

// Creates and starts a client: the usual one-liner for a bot.
function connect(options) {
  return new MemvisorClient(options).start();
}

module.exports = {
  MemvisorClient,
  connect,
  backoffDelay,
  sweepLifetimeSeconds,
  currentFigures,
  settleRss,
  startMemoryMonitor,
  formatMemLine,
  Framer,
  HandshakeState,
  codec,
};
