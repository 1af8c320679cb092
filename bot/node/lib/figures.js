'use strict';
// The process's memory figures as the protocol names them, the default trim (V8 GC) and the
// settle that waits for V8's background release of pages before RSS is read.

const v8 = require('node:v8');

// { rss_bytes, heap_used_bytes, heap_total_bytes, external_bytes, heap_limit_bytes } from
// process.memoryUsage() and V8's heap statistics. heap_limit_bytes is V8's ceiling: past it
// Node aborts ("JavaScript heap out of memory") whatever the RSS, and Node sizes it from the
// cgroup limit (MACHINE-FACTS: 259 MiB in a 480 MiB cgroup) unless --max-old-space-size says
// otherwise, so memvisord needs it to put thresholds on the heap.
function currentFigures() {
  const m = process.memoryUsage();
  return {
    rss_bytes: m.rss,
    heap_used_bytes: m.heapUsed,
    heap_total_bytes: m.heapTotal,
    external_bytes: m.external,
    heap_limit_bytes: v8.getHeapStatistics().heap_size_limit,
  };
}

// Bytes of V8 heap in use, exactly as V8 counts them (no page-release lag, unlike RSS).
const heapUsed = () => v8.getHeapStatistics().used_heap_size;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

// V8 unmaps freed pages on background threads after a GC (MACHINE-FACTS: 263 MiB right after
// global.gc(), 80 MiB a second later), so RSS read at once understates what a trim freed.
// Polls RSS until it stops falling (three samples within `quietBytes`) or `maxMs` passes,
// and returns the lowest RSS seen.
//
// Under traffic RSS may not fall at all for a while (new messages allocate while V8 is still
// returning pages), so three quiet samples would end the wait before the release. With
// `expectBytes` (the heap the action freed, known exactly and at once), the wait goes on
// until RSS has dropped by at least half of it, then until it is quiet, or `maxMs`. The
// lowest sample is the "after": what comes later is traffic, not the action.
async function settleRss({ maxMs = 1000, stepMs = 50, quietBytes = 256 * 1024, expectBytes = 0 } = {}) {
  const end = Date.now() + maxMs;
  const start = process.memoryUsage.rss();
  let last = start;
  let lowest = start;
  let quiet = 0;
  const released = () => expectBytes <= 4 * 1024 * 1024 || start - lowest >= expectBytes / 2;
  while (Date.now() < end && (quiet < 3 || !released())) {
    await sleep(Math.min(stepMs, Math.max(1, end - Date.now())));
    const now = process.memoryUsage.rss();
    quiet = last - now > quietBytes ? 0 : quiet + 1;
    last = now;
    lowest = Math.min(lowest, now);
  }
  return lowest;
}

const gcAvailable = () => typeof globalThis.gc === 'function';

// Runs a full GC if node was started with --expose-gc; returns whether it could.
function collectGarbage() {
  if (!gcAvailable()) return false;
  globalThis.gc();
  return true;
}

module.exports = { currentFigures, heapUsed, settleRss, collectGarbage, gcAvailable, sleep };
