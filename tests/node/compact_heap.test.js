'use strict';
// figures.js compactHeap on a real V8 heap: after evicting every other entry of a large Map,
// a plain full GC leaves the heap's pages committed (each still holds live entries), and a
// compacting one gives them back; with too little headroom for the copy it must not compact.
// Each case runs in its own node process started with --expose-gc, so heaps do not mix.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { clientDir } = require('./fixtures/env');

const figures = path.join(clientDir, 'lib/figures.js');

function run(headroomBytes) {
  const script = `
    const f = require(${JSON.stringify(figures)});
    const v8 = require('node:v8');
    const m = new Map();
    for (let i = 0; i < 200000; i++) m.set(i, { id: 'user' + i, content: 'hello world '.repeat(8) + i, n: [i, i + 1] });
    for (let i = 0; i < 200000; i += 2) m.delete(i);
    globalThis.gc();
    const before = v8.getHeapStatistics();
    const r = f.compactHeap({ headroomBytes: ${JSON.stringify(headroomBytes)} });
    const after = v8.getHeapStatistics();
    console.log(JSON.stringify({ r, kept: m.size, usedBefore: before.used_heap_size, totalBefore: before.total_heap_size,
      usedAfter: after.used_heap_size, totalAfter: after.total_heap_size }));`;
  return JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' }));
}

test('with headroom for the live heap, compactHeap compacts and V8 gives the partly used pages back', () => {
  const o = run(1024 * 1024 * 1024);
  assert.equal(o.r.compacted, true, JSON.stringify(o));
  assert.equal(o.kept, 100000);
  // Half the entries are gone, but after the plain GC the heap still spans all their pages.
  assert.ok(o.totalAfter < o.totalBefore - 0.25 * (o.totalBefore - o.usedBefore),
    `compaction returned too little: total ${o.totalBefore} -> ${o.totalAfter}, used ${o.usedBefore}`);
});

test('without headroom for the copy, compactHeap runs a plain GC and says why', () => {
  const o = run(1024 * 1024);
  assert.equal(o.r.ran, true);
  assert.equal(o.r.compacted, false);
  assert.match(o.r.why, /does not fit in 1048576 B of headroom/);
  // A plain GC does not evacuate: the committed heap stays within a few pages of before.
  assert.ok(o.totalAfter > o.totalBefore - 4 * 1024 * 1024, JSON.stringify(o));
});

test('without --expose-gc, compactHeap does nothing and says so', () => {
  const out = execFileSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(figures)}).compactHeap({ headroomBytes: 1e9 })))`], { encoding: 'utf8' });
  const r = JSON.parse(out);
  assert.equal(r.ran, false);
  assert.match(r.why, /--expose-gc/);
});
