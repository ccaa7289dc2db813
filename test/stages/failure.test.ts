// Failure reasons (lib/stages/failure.ts) come from what an error carries, never from its message: a reason set
// where it was thrown, an HTTP status, the class of a local output error; anything else is the network's.
// failedResult is pure (no I/O, no signal), so it has no abort cases.

import t from 'tap';
import { DownloadError, OutputError, OutputUnsafeError } from '../../lib/errors.js';
import { describeFailure, failedResult, failureReason } from '../../lib/stages/failure.js';
import { localItem } from '../helpers/stage-items.js';

const context = { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' };

t.test('the typed reason wins, whatever the message says', async (t) => {
  t.equal(failureReason(new DownloadError('anything at all', { reason: 'size_mismatch' })), 'size_mismatch');
  t.equal(failureReason(new DownloadError('too many redirects', { reason: 'refused_host' })), 'refused_host', 'the message is not read');
  t.equal(failureReason(new DownloadError('size mismatch: received 3 of 5 bytes')), 'network', 'a message alone makes no reason');
});

t.test('a status is http_<status>; output errors name themselves; the rest is network', async (t) => {
  t.equal(failureReason(new DownloadError('CDN answered 503', { status: 503 })), 'http_503');
  t.equal(failureReason(new OutputError('cannot write')), 'output_unwritable');
  t.equal(failureReason(new OutputUnsafeError('swapped')), 'output_unsafe');
  t.equal(failureReason(Object.assign(new Error('socket hang up'), { code: 'UND_ERR_SOCKET' })), 'network');
  t.equal(failureReason(Object.assign(new Error('x'), { reason: 'size_mismatch', status: 500 })), 'network', 'fields count only on our own errors');
  t.equal(failureReason(undefined), 'network');
});

t.test('failedResult: reason, detail and status; an explicit reason overrides', async (t) => {
  const item = localItem(context, '81');
  t.same(failedResult(item, new DownloadError('CDN answered 404', { status: 404 })), {
    kind: 'failed',
    item,
    reason: 'http_404',
    detail: 'CDN answered 404',
    status: 404,
  });
  t.match(failedResult(item, undefined, 'invalid_attachment', 'no url'), { reason: 'invalid_attachment', detail: 'no url', status: undefined });
});

t.test('describeFailure: undici timeouts say what did not arrive, wrapped or not', async (t) => {
  const timeout = Object.assign(new Error('Body Timeout Error'), { code: 'UND_ERR_BODY_TIMEOUT' });
  t.equal(describeFailure(new DownloadError('network error', { cause: timeout })), 'timed out: no data from the CDN within --timeout');
  t.equal(describeFailure(new Error('a\n  b')), 'a b');
});
