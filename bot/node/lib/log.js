'use strict';
// logfmt lines (key=value, one event a line) for the client's own log, on stderr by default.

function quote(v) {
  const s = String(v);
  return s === '' || /[\s"=\\]/.test(s) ? JSON.stringify(s) : s;
}

function logfmt(fields) {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(' ');
}

const stderrSink = (line) => {
  try {
    process.stderr.write(line + '\n');
  } catch {
    // a closed stderr must not take the bot down
  }
};

module.exports = { logfmt, stderrSink };
