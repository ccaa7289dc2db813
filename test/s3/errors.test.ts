// lib/s3/errors.ts: a key too long fails its file like a local name too long (reason output_unwritable, not
// retried), whether dps sees it first (over 1,024 UTF-8 bytes: no request) or the service does (KeyTooLongError).

import t from 'tap';
import { checkKeyLength, MAX_KEY_BYTES, transferError } from '../../lib/s3/errors.js';

t.test('checkKeyLength counts UTF-8 bytes against 1,024', async (t) => {
  t.equal(MAX_KEY_BYTES, 1024);
  t.doesNotThrow(() => checkKeyLength('b', 'é'.repeat(512)), '1,024 bytes (512 two-byte characters): stored');
  const error = (() => {
    try {
      checkKeyLength('b', `${'é'.repeat(512)}x`);
    } catch (caught) {
      return caught as { reason?: unknown; retryable?: unknown; message: string };
    }
    return undefined;
  })();
  t.match(error, { reason: 'output_unwritable', retryable: false }, '1,025 bytes: output_unwritable, not retried');
  t.match(error?.message, /its key is 1025 bytes, over S3's limit of 1024/);
});

t.test("the service's KeyTooLongError is output_unwritable, not s3_error", async (t) => {
  const error = transferError({ name: 'KeyTooLongError', $metadata: { httpStatusCode: 400 } }, 's3://b/k');
  t.match(error, { reason: 'output_unwritable', retryable: false, status: 400 });
  t.match(error.message, /S3 refused s3:\/\/b\/k: its key is too long \(KeyTooLongError, HTTP 400\)/);
  t.match(transferError({ name: 'InvalidArgument', $metadata: { httpStatusCode: 400 } }, 's3://b/k'), { reason: 's3_error' }, 'another refusal stays s3_error');
});
