'use strict';
// Stream framer for newline-delimited frames: feed it bytes as they arrive (partial reads,
// several frames per read), take complete frames out as Buffers. CRLF accepted, blank lines
// skipped; a line longer than the limit is reported once and the framer stays failed, without
// ever buffering more than the limit plus one read.

const { MAX_FRAME_BYTES } = require('./codec');

const NL = 0x0a;
const CR = 0x0d;

function isBlank(buf) {
  for (const b of buf) if (b !== 0x20 && b !== 0x09 && b !== CR) return false;
  return true;
}

class Framer {
  constructor(maxFrame = MAX_FRAME_BYTES) {
    this.max = maxFrame;
    this.chunks = [];
    this.pending = 0;
    this.failed = false;
  }

  // Appends `bytes` and returns { frames: Buffer[], tooLarge: boolean }. Frames before an
  // oversize line in the same read are still returned, in order.
  push(bytes) {
    const frames = [];
    if (this.failed) return { frames, tooLarge: true };
    let start = 0;
    while (start <= bytes.length) {
      const nl = bytes.indexOf(NL, start);
      if (nl === -1) {
        const rest = bytes.subarray(start);
        const pending = this.pending + rest.length;
        const lastIsCr = rest.length > 0 ? rest[rest.length - 1] === CR : this.lastCr();
        if (pending > this.max + 1 || (pending === this.max + 1 && !lastIsCr)) return this.fail(frames);
        if (rest.length > 0) {
          this.chunks.push(Buffer.from(rest)); // copy: the caller may reuse its buffer
          this.pending = pending;
        }
        break;
      }
      let line = bytes.subarray(start, nl);
      if (this.chunks.length > 0) {
        line = Buffer.concat([...this.chunks, line]);
        this.chunks = [];
        this.pending = 0;
      }
      start = nl + 1;
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length > this.max) return this.fail(frames);
      if (!isBlank(line)) frames.push(Buffer.from(line));
    }
    return { frames, tooLarge: false };
  }

  lastCr() {
    const last = this.chunks[this.chunks.length - 1];
    return last !== undefined && last[last.length - 1] === CR;
  }

  fail(frames) {
    this.failed = true;
    this.chunks = [];
    this.pending = 0;
    return { frames, tooLarge: true };
  }
}

module.exports = { Framer };
