'use strict';
// The process's memory figures as the protocol names them, the default trim (V8 GC) and the
// settle that waits for V8's background release of pages before RSS is read.

const os = require('node:os');
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
// Polls RSS every 50 ms until it stops falling (three samples within `quietBytes`) or
// `maxMs` passes, and returns the lowest RSS seen. memvisord's settle (supervisor/policy
// settle.hpp) samples every 200 ms and goes on up to 3 s after the reply; under traffic V8
// keeps returning pages past this window, so memvisord's figure can be the larger (README of
// this package, "Measured"). Sampling every 200 ms here was tried: fewer samples missed the
// troughs between traffic, and the two figures agreed less often (19 of 56 within 10 %).
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

// The memory the process may take, for a moment, above its RSS now: memvisord's headroom
// below its hard ceiling when the request carried one (protocol 1.1 headroom_bytes), else the
// room left under the cgroup's limit (process.constrainedMemory()), else free memory.
function roomToGrow(headroomBytes) {
  if (Number.isSafeInteger(headroomBytes)) return headroomBytes;
  const rss = process.memoryUsage.rss();
  const limit = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  if (limit > 0 && limit < Number.MAX_SAFE_INTEGER) return Math.max(0, limit - rss);
  return os.freemem();
}

// A full GC that also compacts V8's old generation. Evicting cache entries frees objects
// scattered over many pages; a plain full GC returns only the pages left empty, so the heap
// in use falls while RSS does not (measured, 150,000 of 300,000 entries evicted: heap used
// 287 -> 159 MiB, RSS unchanged; with compaction RSS 227 -> 162 MiB, one 214 ms pause).
// Compaction copies the live objects of the fragmented pages before it frees them: RSS
// first rises by up to the live heap (measured: +67 MiB for 81 MiB live). It runs only when
// that fits in `headroomBytes` (see roomToGrow) with a quarter to spare; otherwise a plain
// full GC. V8 has no per-collection switch: the flag is set for one collection and cleared.
// Returns { ran, compacted, why }.
function compactHeap({ headroomBytes } = {}) {
  if (!gcAvailable()) return { ran: false, compacted: false, why: 'node runs without --expose-gc' };
  const live = heapUsed();
  const room = roomToGrow(headroomBytes);
  if (live * 1.25 > room) {
    globalThis.gc();
    return { ran: true, compacted: false, why: `live heap ${live} B does not fit in ${room} B of headroom` };
  }
  v8.setFlagsFromString('--compact-on-every-full-gc');
  try {
    globalThis.gc();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return { ran: true, compacted: true, why: '' };
}

module.exports = { currentFigures, heapUsed, settleRss, collectGarbage, compactHeap, roomToGrow, gcAvailable, sleep };
