// (inside fetch) A file that could not be fetched or written -> a `failed` result. Its `reason` is a stable code
// (README, "failed"): the one the error was given where it was thrown (DpsError `reason`, or `http_<status>`),
// else what its class says; never read from its message, so rewording a message changes no output.

import { isDpsError, oneLine } from '../errors.js';
import type { FailReason } from '../errors.js';
import type { FailedResult, MediaItem } from '../types.js';

// A failed result: `reason` for scripts to filter on, `detail` the human explanation.
export function failedResult(item: MediaItem, error: unknown, reason: FailReason = failureReason(error), detail = describeFailure(error)): FailedResult {
  const status = isDpsError(error) ? error.status : undefined;
  return { kind: 'failed', item, reason, detail, status };
}

// The reason code of an error: set where it was thrown; a local output error names itself; anything else on
// the way from the CDN (a reset, a timeout, a truncated body) is the network's.
export function failureReason(error: unknown): FailReason {
  if (!isDpsError(error)) return 'network';
  if (error.reason !== undefined) return error.reason;
  if (error.status !== undefined) return `http_${error.status}`;
  if (error.code === 'DPS_OUTPUT_UNSAFE') return 'output_unsafe';
  if (error.code === 'DPS_OUTPUT') return 'output_unwritable';
  return 'network';
}

// One line for people: what did not arrive in time, or the error's own message.
export function describeFailure(error: unknown): string {
  const timeout = timeoutKind(error);
  if (timeout) return `timed out: no ${timeout} from the CDN within --timeout`;
  if (error instanceof Error) return oneLine(error.message).slice(0, 300);
  return String(error);
}

// undici's timeouts (--timeout), wrapped or not: what did not arrive in time.
function timeoutKind(error: unknown): 'headers' | 'data' | undefined {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 3; e = e.cause as typeof e, depth++) {
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT') return 'headers';
    if (e.code === 'UND_ERR_BODY_TIMEOUT') return 'data';
  }
  return undefined;
}
