// One error hierarchy for the whole tool: the `code` is API (scripts and the CLI's exit codes depend on it),
// the message is for people and is always a single line with the token redacted.

export const ExitCode = {
  ok: 0,
  partial: 1,
  usage: 2,
  auth: 3,
  access: 4,
  store: 5,
  interrupted: 130,
  terminated: 143,
} as const;

export type ErrorCode =
  | 'DPS_USAGE'
  | 'DPS_AUTH'
  | 'DPS_ACCESS'
  | 'DPS_NOT_FOUND'
  | 'DPS_STORE_LOCKED'
  | 'DPS_STORE_CORRUPT'
  | 'DPS_NO_STATE'
  | 'DPS_DOWNLOAD'
  | 'DPS_DISK_FULL'
  | 'DPS_OUTPUT'
  | 'DPS_OUTPUT_UNSAFE'
  | 'DPS_API'
  | 'DPS_RATE_LIMIT_BUDGET'
  | 'DPS_RATE_LIMIT'
  | 'DPS_ABORTED'
  // Object storage (issue 26): the S3 credentials, the bucket, the endpoint (lib/s3/errors.ts).
  | 'DPS_S3_AUTH'
  | 'DPS_S3_ACCESS'
  | 'DPS_S3_UNREACHABLE';

const exitCodes: Record<ErrorCode, number> = {
  DPS_USAGE: ExitCode.usage,
  DPS_AUTH: ExitCode.auth,
  DPS_ACCESS: ExitCode.access,
  DPS_NOT_FOUND: ExitCode.access,
  DPS_STORE_LOCKED: ExitCode.store,
  DPS_STORE_CORRUPT: ExitCode.store,
  DPS_NO_STATE: ExitCode.store,
  DPS_DOWNLOAD: ExitCode.partial,
  DPS_DISK_FULL: ExitCode.partial,
  DPS_OUTPUT: ExitCode.partial,
  DPS_OUTPUT_UNSAFE: ExitCode.partial,
  DPS_API: ExitCode.partial,
  DPS_RATE_LIMIT_BUDGET: ExitCode.partial,
  DPS_RATE_LIMIT: ExitCode.partial,
  DPS_ABORTED: ExitCode.interrupted,
  // Object storage (issue 26)
  DPS_S3_AUTH: ExitCode.auth,
  DPS_S3_ACCESS: ExitCode.access,
  DPS_S3_UNREACHABLE: ExitCode.access,
};

// A failed file's stable `reason` (the NDJSON `failed.reason`): set where the failure is detected, never
// derived from a message, so rewording a message never changes the output.
export type FailReason =
  | 'expired'
  | `http_${number}`
  | 'size_mismatch'
  | 'network'
  | 'refused_host'
  | 'too_many_redirects'
  | 'output_unwritable'
  | 'output_unsafe'
  | 'invalid_attachment'
  | 'content_type_mismatch'
  | 's3_error'; // object storage (issue 26): the S3 service refused the upload after retries

// What an error knows about itself, set where it is thrown: the failed file's reason, the HTTP status, how long
// the server asked to wait, and the error it wraps.
export interface ErrorFields {
  cause?: unknown;
  reason?: FailReason | undefined;
  status?: number | undefined;
  retryAfterMs?: number | undefined;
}

// Brand shared by every copy of this module (a library and a CLI can load two): `isDpsError` checks it instead
// of `instanceof`, which fails across copies.
const BRAND = Symbol.for('discord-photo-scraper.DpsError');

// Base class: every error the library throws on purpose is one of these.
export class DpsError extends Error {
  readonly code: ErrorCode;
  readonly reason: FailReason | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(code: ErrorCode, message: string, options?: ErrorFields) {
    super(oneLine(message), options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.name = 'DpsError';
    this.reason = options?.reason;
    this.status = options?.status;
    this.retryAfterMs = options?.retryAfterMs;
  }
  get exitCode(): number {
    return exitCodes[this.code];
  }
}
Object.defineProperty(DpsError.prototype, BRAND, { value: true });

// True for a DpsError from any copy of this module.
export function isDpsError(error: unknown): error is DpsError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}

// The codes of an AccessError: `hasCode(error, ...ACCESS_CODES)` is "no access to it, or it does not exist".
export const ACCESS_CODES = ['DPS_ACCESS', 'DPS_NOT_FOUND'] as const;

// True for a DpsError (from any copy of this module) with one of these codes: use it instead of `instanceof` on
// a subclass (AccessError, StoreError, ...), which fails across module copies the same way.
export function hasCode<C extends ErrorCode>(error: unknown, ...codes: C[]): error is DpsError & { code: C } {
  return isDpsError(error) && (codes as ErrorCode[]).includes(error.code);
}

// Bad flags, ids or option values: the user must change the command.
export class UsageError extends DpsError {
  constructor(message: string, options?: ErrorFields) {
    super('DPS_USAGE', message, options);
    this.name = 'UsageError';
  }
}

// The token was rejected (401): retrying can never help.
export class AuthError extends DpsError {
  constructor(message: string, options?: ErrorFields) {
    super('DPS_AUTH', message, options);
    this.name = 'AuthError';
  }
}

// The token is valid but may not read the requested server or channel, or it does not exist.
export class AccessError extends DpsError {
  constructor(code: 'DPS_ACCESS' | 'DPS_NOT_FOUND', message: string, options?: ErrorFields) {
    super(code, message, options);
    this.name = 'AccessError';
  }
}

// The state directory is held by another process, or is not ours (DPS_NO_STATE: a read command found no dps state there).
export class StoreError extends DpsError {
  constructor(code: 'DPS_STORE_LOCKED' | 'DPS_STORE_CORRUPT' | 'DPS_NO_STATE', message: string, options?: ErrorFields) {
    super(code, message, options);
    this.name = 'StoreError';
  }
}

// One item could not be downloaded or written; recorded as failed, the run goes on.
export class DownloadError extends DpsError {
  readonly retryable: boolean;
  readonly expired: boolean;
  constructor(message: string, options?: ErrorFields & { retryable?: boolean; expired?: boolean }) {
    super('DPS_DOWNLOAD', message, options);
    this.name = 'DownloadError';
    this.retryable = options?.retryable ?? true;
    this.expired = options?.expired ?? false;
  }
}

// Which disk is full: the output folder's (--out) or the state directory's (--state).
export type DiskFullWhere = 'output' | 'state';

// The disk is full: the run stops cleanly with a consistent state. `where` tells the output's disk from the
// state's (both are DPS_DISK_FULL) without `instanceof`.
export class DiskFullError extends DpsError {
  readonly where: DiskFullWhere;
  constructor(message: string, options?: ErrorFields & { where?: DiskFullWhere }) {
    super('DPS_DISK_FULL', message, options);
    this.name = 'DiskFullError';
    this.where = options?.where ?? 'output';
  }
}

// The state directory's disk is full (a LevelDB write failed with "No space left"): same code, its own message.
export class StateDiskFullError extends DiskFullError {
  constructor(message: string, options?: ErrorFields) {
    super(message, { ...options, where: 'state' });
    this.name = 'StateDiskFullError';
  }
}

// True for a DiskFullError (from any copy of this module), of the given disk when `where` is set.
export function isDiskFullError(error: unknown, where?: DiskFullWhere): error is DiskFullError {
  return hasCode(error, 'DPS_DISK_FULL') && (where === undefined || (error as DiskFullError).where === where);
}

// The output folder cannot be written (read-only file system, no permission, --out is a file): the run stops
// at once instead of downloading every file to fail writing it.
export class OutputError extends DpsError {
  constructor(message: string, options?: ErrorFields) {
    super('DPS_OUTPUT', message, options);
    this.name = 'OutputError';
  }
}

// An output folder changed during the run (swapped for a symlink or another directory after it was checked):
// the file is not written through it, and the run stops (failed reason `output_unsafe`).
export class OutputUnsafeError extends DpsError {
  constructor(message: string, options?: ErrorFields) {
    super('DPS_OUTPUT_UNSAFE', message, options);
    this.name = 'OutputUnsafeError';
  }
}

// Any other API failure that is not the user's fault (5xx after retries, malformed bodies, budget exhausted).
export class ApiError extends DpsError {
  readonly apiCode: number | undefined;
  constructor(message: string, options?: ErrorFields & { apiCode?: number | undefined; code?: 'DPS_API' | 'DPS_RATE_LIMIT_BUDGET' }) {
    super(options?.code ?? 'DPS_API', message, options);
    this.name = 'ApiError';
    this.apiCode = options?.apiCode;
  }
}

// Discord asks for a wait longer than --max-wait (a Retry-After of hours): the run stops cleanly instead of
// sleeping, progress saved, so a scheduled job is not stuck for a day. `until` is when the wait would end.
export class RateLimitWaitError extends DpsError {
  readonly waitMs: number;
  readonly until: number;
  constructor(message: string, options: { waitMs: number; until: number; cause?: unknown }) {
    super('DPS_RATE_LIMIT', message, options);
    this.name = 'RateLimitWaitError';
    this.waitMs = options.waitMs;
    this.until = options.until;
  }
}

// The run was aborted by a signal (SIGINT/SIGTERM or a closed stdout).
export class AbortedError extends DpsError {
  private readonly exit: number;
  // exitCode: 130 for SIGINT (default), 143 for SIGTERM, 0 when the reader closed stdout.
  constructor(message = 'aborted', options?: { cause?: unknown; exitCode?: number }) {
    super('DPS_ABORTED', message, options);
    this.name = 'AbortedError';
    this.exit = options?.exitCode ?? ExitCode.interrupted;
  }
  override get exitCode(): number {
    return this.exit;
  }
}

// Collapse whitespace so every message is exactly one line.
export function oneLine(message: string): string {
  return message.replace(/\s+/g, ' ').trim();
}

// Remove every occurrence of the secrets from a string (tokens, and the token as it appears in headers).
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}

// Node's filesystem error codes that mean "no space left".
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

// Local write errors that no retry can fix: the folder (or a folder on the way) refuses every file.
const OUTPUT_UNUSABLE = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOTDIR', 'EEXIST']);
// Local write errors of one file's own path (a folder or an over-long name where the file should go).
const OUTPUT_PATH_UNUSABLE = new Set(['EISDIR', 'ENAMETOOLONG']);

// 'folder' when a write error means the output folder cannot be used, 'file' when only this file's path
// cannot, undefined for anything else (network, size mismatch, ...).
export function outputErrorKind(error: unknown): 'folder' | 'file' | undefined {
  if (hasCode(error, 'DPS_OUTPUT')) return 'folder';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (OUTPUT_UNUSABLE.has(code)) return 'folder';
  if (OUTPUT_PATH_UNUSABLE.has(code)) return 'file';
  return undefined;
}

// The `skipped` reason of a channel that cannot be read: not_found or no_access.
export function channelSkipReason(error: DpsError): 'not_found' | 'no_access' {
  return error.code === 'DPS_NOT_FOUND' ? 'not_found' : 'no_access';
}

// Object storage (issue 26): wrong or missing S3 credentials (exit 3), a missing or refused bucket (exit 4), an
// endpoint that cannot be reached (exit 4). Thrown before any Discord request when found at the start.
export class S3Error extends DpsError {
  constructor(code: 'DPS_S3_AUTH' | 'DPS_S3_ACCESS' | 'DPS_S3_UNREACHABLE', message: string, options?: ErrorFields) {
    super(code, message, options);
    this.name = 'S3Error';
  }
}
