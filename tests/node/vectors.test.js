'use strict';
// Runs every golden vector of proto/vectors (frame and session files) through the Node.js
// client's decoder, encoder, framer and handshake rules, as proto/vectors/README.md asks.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loadClient, vectorsDir } = require('./fixtures/env');

const { decode, encode, ProtocolError } = loadClient('lib/codec');
const { Framer } = loadClient('lib/framer');
const { HandshakeState } = loadClient('lib/handshake');

function readJsonl(file) {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

// JSON-value equality: key order and number spelling do not matter.
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  }
  return v;
}

function frameBytes(v) {
  return v.frame_hex !== undefined ? Buffer.from(v.frame_hex, 'hex') : Buffer.from(v.frame, 'utf8');
}

function decodeResult(bytes) {
  try {
    return { msg: decode(bytes) };
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return { err: e };
  }
}

// Feeds frame + CRLF through a framer in 7-byte chunks; returns the frames and the oversize flag.
function throughFramer(bytes) {
  const framer = new Framer();
  const all = Buffer.concat([bytes, Buffer.from('\r\n')]);
  const frames = [];
  let tooLarge = false;
  for (let i = 0; i < all.length; i += 7) {
    const r = framer.push(all.subarray(i, i + 7));
    frames.push(...r.frames);
    tooLarge = tooLarge || r.tooLarge;
  }
  return { frames, tooLarge };
}

test('the vectors directory has the frame vector files', () => {
  const files = fs.readdirSync(vectorsDir).filter((f) => f.endsWith('.jsonl'));
  assert.ok(files.length >= 5, `expected the five frame vector files, got ${files}`);
});

{
  const names = new Set();
  for (const file of fs.readdirSync(vectorsDir).filter((f) => f.endsWith('.jsonl')).sort()) {
    for (const v of readJsonl(path.join(vectorsDir, file))) {
      test(`frame vector ${file}:${v.name}`, () => {
        assert.ok(!names.has(v.name), `duplicate vector name ${v.name}`);
        names.add(v.name);
        const bytes = frameBytes(v);
        const r = decodeResult(bytes);
        if (v.expect.type !== undefined) {
          assert.ok(r.msg, `expected ${v.expect.type}, got error ${r.err && r.err.code}: ${r.err && r.err.message}`);
          assert.equal(r.msg.type, v.expect.type);
          const again = decode(encode(r.msg));
          assert.deepEqual(canon(again), canon(r.msg), 'decode(encode(m)) == m');
          if (v.expect.decoded !== undefined) {
            assert.deepEqual(canon(JSON.parse(encode(r.msg))), canon(v.expect.decoded));
          }
        } else {
          assert.ok(r.err, `expected error ${v.expect.error}, decoded ${JSON.stringify(r.msg)}`);
          assert.equal(r.err.code, v.expect.error, r.err.message);
          if (v.expect.field !== undefined) {
            assert.ok(r.err.message.includes(`"${v.expect.field}"`), `message "${r.err.message}" names "${v.expect.field}"`);
          }
        }
        // The stream framer must deliver the same bytes (or report the oversize line).
        const f = throughFramer(bytes);
        if (v.expect.error === 'frame_too_large') {
          assert.ok(f.tooLarge, 'framer reports the oversize line');
        } else if (bytes.length > 0 && !/^[ \t\r]*$/.test(bytes.toString('latin1'))) {
          assert.equal(f.tooLarge, false);
          assert.equal(f.frames.length, 1);
          assert.ok(f.frames[0].equals(bytes));
        }
      });
    }
  }

  const sessionsDir = path.join(vectorsDir, 'sessions');
  for (const file of fs.readdirSync(sessionsDir).filter((f) => f.endsWith('.jsonl')).sort()) {
    for (const s of readJsonl(path.join(sessionsDir, file))) {
      test(`session vector ${file}:${s.name}`, () => {
        const state = new HandshakeState(s.side, s.role);
        s.steps.forEach((step, i) => {
          const msg = decode(Buffer.from(step.frame, 'utf8'));
          const err = state.accept(msg);
          const got = err ? err.code : 'ok';
          assert.equal(got, step.expect, `step ${i} (${msg.type}): ${err && err.message}`);
        });
      });
    }
  }
}

test('framer: partial reads, several frames per read, CRLF, blank lines', () => {
  const framer = new Framer();
  const out = [];
  for (const part of ['{"a":1}\r\n\n  \r\n{"b"', ':2}\n{"c":3}', '\n']) {
    const r = framer.push(Buffer.from(part));
    assert.equal(r.tooLarge, false);
    out.push(...r.frames.map(String));
  }
  assert.deepEqual(out, ['{"a":1}', '{"b":2}', '{"c":3}']);
});

test('framer: an oversize line is reported before its newline and never buffered', () => {
  const framer = new Framer(16);
  assert.equal(framer.push(Buffer.from('x'.repeat(16))).tooLarge, false);
  assert.equal(framer.push(Buffer.from('\r')).tooLarge, false, 'limit + CR may still be a CRLF');
  const r = framer.push(Buffer.from('y'));
  assert.equal(r.tooLarge, true);
  assert.equal(framer.pending, 0);
  assert.equal(framer.push(Buffer.from('\n{}\n')).tooLarge, true, 'failure is sticky');
});
