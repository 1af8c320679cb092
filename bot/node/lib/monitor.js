'use strict';
// The seed's memory monitor as an optional helper: every MEMORY_LOG_INTERVAL_SECONDS a line
// `[MEM] rss=156.2MB heapUsed=89.4MB heapTotal=112.1MB ext=8.3MB evLoopDelay=1.24ms`.

const { monitorEventLoopDelay } = require('node:perf_hooks');

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1) + 'MB';

// The monitor line for the given figures (process.memoryUsage() shape) and lag in ms.
function formatMemLine(m, lagMs) {
  const lag = Number.isFinite(lagMs) ? lagMs.toFixed(2) : '0.00';
  return `[MEM] rss=${mb(m.rss)} heapUsed=${mb(m.heapUsed)} heapTotal=${mb(m.heapTotal)} ext=${mb(m.external)} evLoopDelay=${lag}ms`;
}

// Starts the monitor; returns a stop function. intervalSeconds defaults to
// MEMORY_LOG_INTERVAL_SECONDS; 0, absent or invalid = off (stop is then a no-op).
function startMemoryMonitor({ intervalSeconds, log = console.log } = {}) {
  const secs = intervalSeconds ?? Number(process.env.MEMORY_LOG_INTERVAL_SECONDS || 0);
  if (!Number.isFinite(secs) || secs <= 0) return () => {};
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const timer = setInterval(() => {
    const lag = h.mean / 1e6;
    h.reset();
    try {
      log(formatMemLine(process.memoryUsage(), lag));
    } catch {
      // the monitor must never take the bot down
    }
  }, secs * 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    h.disable();
  };
}

module.exports = { startMemoryMonitor, formatMemLine };
