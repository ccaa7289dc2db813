import t from 'tap';
import { AbortedError, AccessError, ApiError, DiskFullError, type DpsError, ExitCode, OutputError, RateLimitWaitError, UsageError } from '../lib/errors.js';
import { endsWithSummary, exitCodeOf, fatalOf } from '../lib/run-exit.js';
import type { RunOutcome } from '../lib/run-exit.js';

const aborted = new AbortedError('aborted');
const sigterm = new AbortedError('SIGTERM', { exitCode: ExitCode.terminated });
const stdoutClosed = new AbortedError('stdout closed', { exitCode: ExitCode.ok });
const rateLimit = new RateLimitWaitError('wait over --max-wait', { waitMs: 3_600_000, until: 0 });
const usage = new UsageError('bad');
const disk = new DiskFullError('disk full');

t.test('exit codes', async (t) => {
  const table: Array<[string, RunOutcome, number]> = [
    ['nothing went wrong', { accessDenied: false, failed: 0 }, ExitCode.ok],
    ['some files failed', { accessDenied: false, failed: 3 }, ExitCode.partial],
    ['a channel could not be read', { accessDenied: true, failed: 0 }, ExitCode.access],
    ['a channel could not be read and files failed: access wins', { accessDenied: true, failed: 2 }, ExitCode.access],
    ['aborted, no reason given', { fatal: aborted, accessDenied: false, failed: 0 }, ExitCode.interrupted],
    ['aborted by SIGTERM', { fatal: aborted, accessDenied: true, failed: 5, stopReason: sigterm }, ExitCode.terminated],
    ['aborted by a closed stdout', { fatal: aborted, accessDenied: false, failed: 5, stopReason: stdoutClosed }, ExitCode.ok],
    ['aborted with a reason that is not ours', { fatal: aborted, accessDenied: false, failed: 0, stopReason: new Error('x') }, ExitCode.interrupted],
    ['a rate-limit stop', { fatal: rateLimit, accessDenied: false, failed: 0 }, ExitCode.partial],
    ['a rate-limit stop after an unreadable channel', { fatal: rateLimit, accessDenied: true, failed: 0 }, ExitCode.access],
    ['a full disk', { fatal: disk, accessDenied: false, failed: 0 }, ExitCode.partial],
    ['a usage error outranks failed files', { fatal: usage, accessDenied: false, failed: 1 }, ExitCode.usage],
  ];
  for (const [name, outcome, code] of table) t.equal(exitCodeOf(outcome), code, name);
});

t.test('which errors end the run with a summary', async (t) => {
  const table: Array<[string, DpsError | undefined, number, boolean]> = [
    ['no error', undefined, 0, true],
    ['an error once a channel started', new ApiError('x'), 1, true],
    ['an error before any channel', new ApiError('x'), 0, false],
    ['an access error before any channel', new AccessError('DPS_ACCESS', 'x'), 0, false],
    ['an abort before any channel', aborted, 0, true],
    ['a rate-limit stop before any channel', rateLimit, 0, true],
    ['an unusable --out before any channel', new OutputError('x'), 0, true],
    ['a full disk before any channel', disk, 0, true],
  ];
  for (const [name, fatal, started, summary] of table) t.equal(endsWithSummary(fatal, started), summary, name);
});

t.test('the error that stopped the run', async (t) => {
  t.equal(fatalOf(usage, rateLimit, true), rateLimit, 'a --max-wait stop wins over what it caused');
  t.equal(fatalOf(usage, undefined, false), usage, 'a DpsError');
  t.equal(fatalOf(usage, undefined, true), usage, 'a DpsError of its own, even once aborted');
  const wrapped = fatalOf(new Error('premature close'), undefined, true);
  t.equal(wrapped?.code, 'DPS_ABORTED', 'anything thrown once aborted is the abort');
  t.equal((wrapped?.cause as Error | undefined)?.message, 'premature close');
  t.equal(fatalOf(aborted, undefined, true)?.code, 'DPS_ABORTED');
  t.equal(fatalOf(new TypeError('bug'), undefined, false), undefined, 'not ours: rethrown by the caller');
});
