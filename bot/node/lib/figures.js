'use strict';
// The process's memory figures as the protocol names them, the default trim (V8 GC) and the
// settle that waits for V8's background release of pages before RSS is read.

// { rss_bytes, heap_used_bytes, heap_total_bytes, external_bytes } from process.memoryUsage().
function currentFigures() {
  const m = process.memoryUsage();
  return {
    rss_bytes: m.rss,
    heap_used_bytes: m.heapUsed,
    heap_total_bytes: m.heapTotal,
    external_bytes: m.external,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

// V8 unmaps freed pages on background threads after a GC (MACHINE-FACTS: 263 MiB right after
// global.gc(), 80 MiB a second later), so RSS read at once understates what a trim freed.
// Polls RSS until it stops falling (three samples within `quietBytes`) or `maxMs` passes.
async function settleRss({ maxMs = 1000, stepMs = 50, quietBytes = 256 * 1024 } = {}) {
  const end = Date.now() + maxMs;
  let last = process.memoryUsage.rss();
  let quiet = 0;
  while (Date.now() < end && quiet < 3) {
    await sleep(Math.min(stepMs, Math.max(1, end - Date.now())));
    const now = process.memoryUsage.rss();
    quiet = last - now > quietBytes ? 0 : quiet + 1;
    last = now;
  }
  return last;
}

const gcAvailable = () => typeof globalThis.gc === 'function';

// Runs a full GC if node was started with --expose-gc; returns whether it could.
function collectGarbage() {
  if (!gcAvailable()) return false;
  globalThis.gc();
  return true;
}

module.exports = { currentFigures, settleRss, collectGarbage, gcAvailable, sleep };
