// Shared helpers for the end-to-end CLI tests: a fake Discord per test, the built CLI spawned as a child
// process with live access to its NDJSON lines, and a schema checker for the stdout contract (README).

import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Test } from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord, FakeOptions } from '../../fixtures/fake-discord.js';
import { listFiles, spawnCli } from '../helpers/harness.js';

export type Line = Record<string, unknown>;

// The start of the one stderr line that names an API host other than Discord's (bin/cli.ts).
export const API_HOST_NOTE = 'note: sending requests to the API at ';

// A fake Discord closed when the test ends.
export async function fakeFor(t: Test, options: FakeOptions): Promise<FakeDiscord> {
  const fake = await startFakeDiscord(options);
  t.teardown(() => fake.close());
  return fake;
}

// A fake Discord for the test, a folder for its archive (`out`) and state, and the arguments that point a scrape
// at the scenario's first generated channel (its threads included), with the token in `env`.
export async function channelRun(
  t: Test,
  options: FakeOptions,
): Promise<{ fake: FakeDiscord; dir: string; out: string; state: string; env: Record<string, string>; args: string[] }> {
  const fake = await fakeFor(t, options);
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels.find((c) => c.gen && !c.thread)!;
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const args = ['--server-id', guild.id, '--channel-id', channel.id, '--api', fake.api, '--out', out, '--state', state];
  return { fake, dir, out, state, env: { DISCORD_TOKEN: fake.token }, args };
}

// The arguments that point a scrape at the fake's first channel, with --out and --state given.
export function channelArgs(fake: FakeDiscord, out: string, state: string): string[] {
  const { G, C } = firstTarget(fake);
  return ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state];
}

// The first guild and its first text channel of the fake's scenario.
export function firstTarget(fake: FakeDiscord): { G: string; C: string } {
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels.find((c) => c.gen && !c.thread)!;
  return { G: guild.id, C: channel.id };
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  lines: Line[];
}

// A running CLI: its child process, the stdout lines parsed so far, and its end.
export interface Running {
  child: ChildProcessWithoutNullStreams;
  lines: Line[];
  stdout(): string;
  stderr(): string;
  // Resolves once `count` lines matching `match` have been printed (rejects if the process ends first).
  waitFor(count: number, match?: (line: Line) => boolean): Promise<void>;
  done: Promise<Finished>;
}

// Spawns `node bin/dps.js ...args` with a clean environment (PATH and HOME) plus `env`.
// Without `cwd` it runs in a fresh empty folder, so no stray .env file can change the test.
export function startCli(args: string[], options: { env?: Record<string, string>; cwd?: string; input?: string } = {}): Running {
  const scratch = options.cwd === undefined ? mkdtempSync(join(tmpdir(), 'dps-cli-')) : undefined;
  const child = spawnCli(args, { env: options.env, cwd: options.cwd ?? scratch! });
  let out = '';
  let err = '';
  let partial = '';
  const lines: Line[] = [];
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) lines.push(parseLine(part));
    for (const wake of [...waiters]) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      if (partial) lines.push(parseLine(partial));
      for (const wake of [...waiters]) wake();
      resolve({ code, signal, stdout: out, stderr: err, lines });
    });
  });
  let ended = false;
  void done.then(() => (ended = true));
  child.stdin.end(options.input ?? '');
  return {
    child,
    lines,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor(count, match = () => true) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (lines.filter(match).length >= count) {
            waiters.splice(waiters.indexOf(check), 1);
            resolve();
          } else if (ended || child.exitCode !== null || child.signalCode !== null) {
            waiters.splice(waiters.indexOf(check), 1);
            reject(new Error(`process ended after ${lines.filter(match).length} of ${count} awaited lines; stderr: ${err}`));
          }
        };
        waiters.push(check);
        check();
      });
    },
  };
}

// Runs the CLI to completion.
export function runDps(args: string[], options: { env?: Record<string, string>; cwd?: string; input?: string } = {}): Promise<Finished> {
  return startCli(args, options).done;
}

// A stdout line that is not JSON is kept as a marker the schema check reports (instead of throwing here).
function parseLine(line: string): Line {
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Line) : { __not_an_object__: line };
  } catch {
    return { __not_json__: line };
  }
}

// Every stdout line parsed as JSON (null for a line that is not an object), including blank lines.
export function rawLines(stdout: string): Array<Line | null> {
  const body = stdout.endsWith('\n') ? stdout.slice(0, -1) : stdout;
  if (body === '') return [];
  return body.split('\n').map((line) => {
    try {
      const value: unknown = JSON.parse(line);
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Line) : null;
    } catch {
      return null;
    }
  });
}

export const ofEvent =
  (name: string) =>
  (line: Line): boolean =>
    line.event === name;

// ---- schema of the NDJSON events (README "NDJSON events") ----

type Kind =
  | 'id'
  | 'string'
  | 'nonempty'
  | 'count'
  | 'int'
  | 'boolean'
  | 'sha256'
  | 'iso'
  | 'string|null'
  | 'id|null'
  | 'size|null'
  | 'path'
  | 'per_channel'
  | 'source'
  | 'reason'
  | 'similar_files'; // dps similar (issue 25)
type Schema = { required: Record<string, Kind>; optional?: Record<string, Kind> };

const SOURCES = new Set(['attachment', 'forward', 'embed', 'component', 'sticker']);
const COUNTS: Record<string, Kind> = { messages: 'count', saved: 'count', duplicates: 'count', skipped: 'count', failed: 'count', bytes: 'count' };

export const SCHEMAS: Record<string, Schema> = {
  saved: {
    required: {
      event: 'string',
      guild_id: 'id',
      channel_id: 'id',
      message_id: 'id',
      attachment_id: 'id',
      filename: 'nonempty',
      path: 'path',
      bytes: 'count',
      sha256: 'sha256',
      content_type: 'string|null',
      timestamp: 'iso',
      source: 'source',
    },
    optional: { duplicate_of: 'path', adopted: 'boolean' },
  },
  skipped: {
    required: { event: 'string', reason: 'reason', guild_id: 'id', channel_id: 'id' },
    optional: { message_id: 'id', attachment_id: 'id', filename: 'nonempty', size: 'size|null', content_type: 'string|null', detail: 'string' },
  },
  failed: {
    // reason is a stable code (README), detail the human explanation.
    required: { event: 'string', reason: 'reason', guild_id: 'id', channel_id: 'id', message_id: 'id', attachment_id: 'id', filename: 'nonempty' },
    optional: { status: 'int', detail: 'nonempty' },
  },
  channel_done: {
    required: { event: 'string', guild_id: 'id', channel_id: 'id', channel_name: 'string', cursor: 'id|null', complete: 'boolean', ...COUNTS },
    optional: { parent_id: 'id' },
  },
  warning: {
    required: { event: 'string', code: 'reason', detail: 'nonempty' },
    optional: { guild_id: 'id', channel_id: 'id' },
  },
  summary: {
    required: { event: 'string', channels: 'count', ...COUNTS, elapsed_ms: 'count', exit_code: 'int', per_channel: 'per_channel' },
    optional: { error: 'nonempty', estimated_floor_ms: 'count' },
  },
};

// warning `rate_limited` (a rate-limit wait over 10 s): what is waited for and until when.
Object.assign(SCHEMAS.warning!.optional!, { scope: 'reason', route: 'nonempty', wait_ms: 'count', until: 'iso' });

const PER_CHANNEL: Schema = { required: { channel_id: 'id', channel_name: 'string', ...COUNTS } };

// Dry runs (--dry-run, README "Sizing an archive"): would_save, and the dry-run counts of channel_done, summary and
// its per_channel entries.
const DRY_RUN_COUNTS: Record<string, Kind> = { would_save: 'count', would_download: 'count', would_save_bytes: 'count', would_save_unsized: 'count' };
SCHEMAS.would_save = {
  required: {
    event: 'string',
    guild_id: 'id',
    channel_id: 'id',
    message_id: 'id',
    attachment_id: 'nonempty', // embeds and stickers have synthetic ids (embed-…, sticker-…)
    filename: 'nonempty',
    path: 'path',
    size: 'size|null',
    content_type: 'string|null',
    timestamp: 'iso',
    author_id: 'id|null',
    author_name: 'string|null',
    source: 'source',
  },
  optional: { duplicate_of: 'path', adopted: 'boolean', retry: 'boolean' },
};
Object.assign(SCHEMAS.would_save.optional!, { archived: 'boolean' }); // saved by an interrupted run, never announced
Object.assign(SCHEMAS.channel_done!.optional!, DRY_RUN_COUNTS);
Object.assign(SCHEMAS.summary!.optional!, { dry_run: 'boolean', ...DRY_RUN_COUNTS });
PER_CHANNEL.optional = { ...PER_CHANNEL.optional, ...DRY_RUN_COUNTS };

// ---- dps gallery, dps similar (issue 25, README "Gallery") ----
const SIMILAR_FILE: Schema = { required: { attachment_id: 'nonempty', path: 'path', sha256: 'sha256' } };
// warning `thumbnail_failed`: the file that could not be decoded.
Object.assign(SCHEMAS.warning!.optional!, { path: 'path', sha256: 'sha256' });
SCHEMAS.gallery_channel = {
  required: { event: 'string', guild_id: 'id', channel_id: 'id', channel_name: 'string', files: 'count', data: 'nonempty' },
};
SCHEMAS.similar = { required: { event: 'string', files: 'similar_files', distance: 'count' } };
SCHEMAS['summary:gallery'] = {
  required: {
    event: 'string',
    command: 'string',
    channels: 'count',
    files: 'count',
    thumbnails_made: 'count',
    thumbnails_kept: 'count',
    placeholders: 'count',
    warnings: 'count',
    gallery: 'path',
    elapsed_ms: 'count',
    exit_code: 'int',
  },
};
// dps gallery with --out s3:// (issue 26): the site's files uploaded (those changed since the last upload).
SCHEMAS['summary:gallery'].optional = { ...SCHEMAS['summary:gallery'].optional, uploaded: 'count' };
SCHEMAS['summary:similar'] = {
  required: {
    event: 'string',
    command: 'string',
    files: 'count',
    decoded: 'count',
    groups: 'count',
    distance: 'count',
    warnings: 'count',
    elapsed_ms: 'count',
    exit_code: 'int',
  },
};
// dps gallery (issue 25, performance): channels whose data file was already up to date.
SCHEMAS['summary:gallery'].required.channels_unchanged = 'count';
// issue 26: channels the state no longer holds, out of the index; with s3://, the site's objects deleted.
SCHEMAS['summary:gallery'].required.channels_removed = 'count';
SCHEMAS['summary:gallery'].optional = { ...SCHEMAS['summary:gallery'].optional, deleted: 'count' };

function checkKind(kind: Kind, value: unknown): string | undefined {
  const bad = (what: string): string => `expected ${what}, got ${JSON.stringify(value)}`;
  switch (kind) {
    case 'id':
      return typeof value === 'string' && /^[1-9]\d{0,19}$/.test(value) ? undefined : bad('a snowflake string');
    case 'id|null':
      return value === null ? undefined : checkKind('id', value);
    case 'string':
      return typeof value === 'string' ? undefined : bad('a string');
    case 'nonempty':
    case 'path':
      return typeof value === 'string' && value.length > 0 ? undefined : bad('a non-empty string');
    case 'string|null':
      return value === null || typeof value === 'string' ? undefined : bad('a string or null');
    case 'count':
      return Number.isSafeInteger(value) && (value as number) >= 0 ? undefined : bad('a non-negative integer');
    case 'int':
      return Number.isSafeInteger(value) ? undefined : bad('an integer');
    case 'size|null':
      return value === null ? undefined : checkKind('count', value);
    case 'boolean':
      return typeof value === 'boolean' ? undefined : bad('a boolean');
    case 'sha256':
      return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value) ? undefined : bad('64 lowercase hex digits');
    case 'iso':
      return typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : bad('an ISO 8601 timestamp');
    case 'source':
      return typeof value === 'string' && SOURCES.has(value) ? undefined : bad(`one of ${[...SOURCES].join(', ')}`);
    case 'reason':
      return typeof value === 'string' && /^[a-z][a-z0-9_]*$/.test(value) ? undefined : bad('a snake_case reason');
    case 'similar_files': {
      // dps similar (issue 25): two or more files, each its attachment id, path and sha256.
      if (!Array.isArray(value) || value.length < 2) return bad('an array of at least two files');
      for (const [i, entry] of value.entries()) {
        const problems = checkObject(entry, SIMILAR_FILE);
        if (problems.length) return `files[${i}]: ${problems.join('; ')}`;
      }
      return undefined;
    }
    case 'per_channel': {
      if (!Array.isArray(value)) return bad('an array');
      for (const [i, entry] of value.entries()) {
        const problems = checkObject(entry, PER_CHANNEL);
        if (problems.length) return `per_channel[${i}]: ${problems.join('; ')}`;
      }
      return undefined;
    }
  }
}

function checkObject(value: unknown, schema: Schema): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`not an object: ${JSON.stringify(value)}`];
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const [field, kind] of Object.entries(schema.required)) {
    if (!(field in record)) problems.push(`missing ${field}`);
    else {
      const problem = checkKind(kind, record[field]);
      if (problem) problems.push(`${field}: ${problem}`);
    }
  }
  for (const [field, fieldValue] of Object.entries(record)) {
    if (field in schema.required) continue;
    const kind = schema.optional?.[field];
    if (!kind) problems.push(`undocumented field ${field}`);
    else {
      const problem = checkKind(kind, fieldValue);
      if (problem) problems.push(`${field}: ${problem}`);
    }
  }
  return problems;
}

// Problems with one stdout line against its event's documented schema (empty when it conforms).
export function schemaProblems(line: Line | null): string[] {
  if (line === null) return ['not a JSON object'];
  const name = line.event;
  if (typeof name !== 'string') return [`no event name: ${JSON.stringify(line).slice(0, 200)}`];
  // dps gallery and dps similar (issue 25): their summaries say which command they end (`command`).
  if (name === 'summary' && line.command !== undefined) {
    const commandSchema = SCHEMAS[`summary:${String(line.command)}`];
    return commandSchema ? checkObject(line, commandSchema).map((p) => `${name}: ${p}`) : [`summary: undocumented command ${JSON.stringify(line.command)}`];
  }
  const schema = SCHEMAS[name];
  if (!schema) return [`undocumented event ${name}`];
  return checkObject(line, schema).map((p) => `${name}: ${p}`);
}

// Every byte of every file under `dirs`, as buffers keyed by path (for secret scans).
export async function allFileBytes(...dirs: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const dir of dirs) {
    for (const rel of await listFiles(dir)) {
      const path = join(dir, rel);
      out.set(path, await readFile(path));
    }
  }
  return out;
}

// Lines of a stack trace ("    at fn (file:1:2)").
export function stackLines(text: string): string[] {
  return text.split('\n').filter((line) => /^\s+at /.test(line));
}

// Non-empty stderr lines (without the note naming an API host that is not Discord's, such as the fake's).
export function stderrLines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(API_HOST_NOTE));
}
