// Object storage (issue 26): an S3 SDK error translated once, where it enters, into ours (the SDK's error stays
// as `cause`). Messages name the S3 error code and status, never the service's message text (which may echo a
// key id), so no credential reaches any output.

import { DiskFullError, DownloadError, S3Error } from '../errors.js';
import type { DpsError } from '../errors.js';

const AUTH = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'CredentialsProviderError']);
const ACCESS = new Set(['AccessDenied', 'AllAccessDisabled', 'NoSuchBucket', 'AccountProblem', 'InvalidBucketName', 'PermanentRedirect']);
const QUOTA = new Set(['QuotaExceeded', 'StorageQuotaExceeded', 'ServiceQuotaExceeded', 'InsufficientStorage']);
const THROTTLED = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeTooSkewed', 'ServiceUnavailable', 'InternalError', 'RequestTimeout']);
const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'TimeoutError']);

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

// The error's S3 code ('NoSuchBucket', ...) and HTTP status, as far as they are known.
export function s3ErrorCode(error: unknown): { name: string; status?: number | undefined } {
  const e = (error ?? {}) as SdkError;
  const name = e.Code ?? (typeof e.code === 'string' ? e.code : undefined) ?? e.name ?? 'Error';
  return { name, status: e.$metadata?.httpStatusCode };
}

// True when the service said the key does not exist (HeadObject's bodiless 404 included).
export function isNotFound(error: unknown): boolean {
  const { name, status } = s3ErrorCode(error);
  return name === 'NotFound' || name === 'NoSuchKey' || status === 404;
}

// An error of a request made before the run's first Discord request (the preflight): credentials, bucket and
// endpoint problems each stop the run with their code; anything else is an unusable bucket too.
export function preflightError(error: unknown, where: string, endpoint: string | undefined): DpsError {
  const { name, status } = s3ErrorCode(error);
  const said = status === undefined ? name : `${name}, HTTP ${status}`;
  if (AUTH.has(name)) {
    return new S3Error(
      'DPS_S3_AUTH',
      `S3 refused the credentials for ${where} (${said}): set them through the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role)`,
      { cause: error },
    );
  }
  if (name === 'NoSuchBucket') return new S3Error('DPS_S3_ACCESS', `S3 bucket of ${where} does not exist (${said})`, { cause: error });
  if (isNetwork(error)) {
    return new S3Error(
      'DPS_S3_UNREACHABLE',
      `S3 endpoint ${endpoint ?? '(AWS default)'} cannot be reached (${said}): check --s3-endpoint / AWS_ENDPOINT_URL_S3`,
      { cause: error },
    );
  }
  if (THROTTLED.has(name) || (status !== undefined && status >= 500)) {
    return new S3Error('DPS_S3_UNREACHABLE', `S3 at ${endpoint ?? '(AWS default)'} is busy or failing (${said}) after retries: try again later`, {
      cause: error,
    });
  }
  return new S3Error('DPS_S3_ACCESS', `S3 refused access to ${where} (${said})`, { cause: error });
}

// An error of an upload or of a request about one item during the run: a full quota stops the run like a full
// disk; refused credentials or access stop it too; throttling and 5xx are retried (after the SDK's own retries)
// with fetch's backoff; anything else fails the item with reason `s3_error`.
export function transferError(error: unknown, where: string): DpsError {
  const { name, status } = s3ErrorCode(error);
  const said = status === undefined ? name : `${name}, HTTP ${status}`;
  // A key the service finds too long: the file cannot be stored under this name, like a local name too long.
  if (name === 'KeyTooLongError')
    return new DownloadError(`S3 refused ${where}: its key is too long (${said})`, { cause: error, retryable: false, reason: 'output_unwritable', status });
  if (QUOTA.has(name))
    return new DiskFullError(`S3 quota exceeded in ${where} (${said}): raise the quota or free some space and re-run to resume`, { cause: error });
  if (AUTH.has(name)) return new S3Error('DPS_S3_AUTH', `S3 refused the credentials for ${where} (${said})`, { cause: error });
  if (ACCESS.has(name)) return new S3Error('DPS_S3_ACCESS', `S3 refused access to ${where} (${said})`, { cause: error });
  if (THROTTLED.has(name) || (status !== undefined && status >= 500)) {
    return new DownloadError(`S3 is busy or failing (${said}) while storing ${where}`, {
      cause: error,
      retryable: true,
      status: status ?? 503,
      reason: 's3_error',
    });
  }
  if (isNetwork(error))
    return new DownloadError(`S3 connection failed (${said}) while storing ${where}`, { cause: error, retryable: true, reason: 's3_error' });
  return new DownloadError(`S3 refused ${where} (${said})`, { cause: error, retryable: false, reason: 's3_error', status });
}

// S3's longest key, in UTF-8 bytes.
export const MAX_KEY_BYTES = 1024;

// Throws, before any request, for a key over S3's limit: the file fails with reason `output_unwritable` (what a
// local name too long gets) and is retried next run like one.
export function checkKeyLength(bucket: string, key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes <= MAX_KEY_BYTES) return;
  throw new DownloadError(
    `cannot store s3://${bucket}/${key.slice(0, 60)}…: its key is ${bytes} bytes, over S3's limit of ${MAX_KEY_BYTES}; shorten the prefix, --path-pattern or --name-pattern`,
    { retryable: false, reason: 'output_unwritable' },
  );
}

function isNetwork(error: unknown): boolean {
  for (let e = error as { code?: unknown; name?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (NETWORK.has(String(e.code)) || NETWORK.has(String(e.name))) return true;
  }
  return false;
}
