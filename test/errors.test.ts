// lib/errors.ts: the brand and hasCode stand in for `instanceof` (which fails across two copies of the module),
// DiskFullError says which disk is full, and every message is one line.
import t from 'tap';
import {
  ACCESS_CODES,
  AccessError,
  DiskFullError,
  DpsError,
  hasCode,
  isDiskFullError,
  isDpsError,
  OutputError,
  oneLine,
  outputErrorKind,
  StateDiskFullError,
} from '../lib/errors.js';

// An error as another copy of lib/errors.ts makes it: the same brand, another prototype chain.
function fromAnotherCopy(code: string, fields: Record<string, unknown> = {}): Error {
  const error = Object.assign(new Error('elsewhere'), { code, ...fields });
  Object.defineProperty(error, Symbol.for('discord-photo-scraper.DpsError'), { value: true });
  return error;
}

t.test('isDpsError and hasCode go by the brand and the code, not the class', async (t) => {
  const foreign = fromAnotherCopy('DPS_NOT_FOUND');
  t.notOk(foreign instanceof DpsError, 'instanceof fails across copies');
  t.ok(isDpsError(foreign));
  t.ok(hasCode(foreign, ...ACCESS_CODES));
  t.ok(hasCode(new AccessError('DPS_ACCESS', 'no access'), ...ACCESS_CODES));
  t.notOk(hasCode(foreign, 'DPS_AUTH'));
  t.notOk(hasCode(Object.assign(new Error('plain'), { code: 'DPS_NOT_FOUND' }), 'DPS_NOT_FOUND'), 'a code without the brand is not ours');
  t.notOk(hasCode(undefined, 'DPS_USAGE'));
});

t.test('DiskFullError tells the output disk from the state disk without instanceof', async (t) => {
  const output = new DiskFullError('disk full');
  const state = new StateDiskFullError('state disk full');
  t.equal(output.where, 'output');
  t.equal(state.where, 'state');
  t.equal(state.code, 'DPS_DISK_FULL');
  t.ok(isDiskFullError(output) && isDiskFullError(state));
  t.ok(isDiskFullError(state, 'state'));
  t.notOk(isDiskFullError(output, 'state'));
  t.ok(isDiskFullError(fromAnotherCopy('DPS_DISK_FULL', { where: 'state' }), 'state'), 'from another copy too');
  t.notOk(isDiskFullError(new OutputError('no'), 'output'));
});

t.test('outputErrorKind: our DPS_OUTPUT and the folder-level codes are the folder, a path code the file', async (t) => {
  t.equal(outputErrorKind(new OutputError('read-only')), 'folder');
  t.equal(outputErrorKind(fromAnotherCopy('DPS_OUTPUT')), 'folder');
  t.equal(outputErrorKind(Object.assign(new Error('x'), { code: 'EROFS' })), 'folder');
  t.equal(outputErrorKind(Object.assign(new Error('x'), { code: 'EISDIR' })), 'file');
  t.equal(outputErrorKind(Object.assign(new Error('x'), { code: 'ECONNRESET' })), undefined);
});

t.test('one line', async (t) => {
  t.equal(oneLine('  a\n\tb  c \r\n'), 'a b c');
  t.equal(new DpsError('DPS_API', 'first\nsecond').message, 'first second');
});
