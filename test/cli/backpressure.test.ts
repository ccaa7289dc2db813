// A slow reader slows the run down instead of growing its memory: the CLI waits for stdout to drain
// (lib/output/ndjson.ts returns a promise while the pipe is full, lib/archive.ts emitAll awaits it). A run of
// 100,000 events is started with its stdout paused: it must stop walking the channel while nobody reads, its
// RSS must stay flat meanwhile, and once the reader resumes every event arrives.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import type { MessageSpec } from '../../fixtures/generate.js';
import { spawnCli } from '../helpers/harness.js';
import { fakeFor } from './helpers.js';

const MESSAGES = 10_000;
const PER_MESSAGE = 10; // 100,000 files, every one skipped by --types (no downloads: the run is all events)
const FLAT_POLLS = 10; // the paused phase ends once the fake has seen no request for this many polls
const POLL_MS = 100;
// Long file names make each event ~420 bytes (42 MB of NDJSON): without backpressure a paused reader leaves all of
// it in the process (+63 MB measured); with it, growth is start-up noise (+8 to +24 MB measured, on a loaded machine).
const NAME = 'n'.repeat(150);
const RSS_GROWTH_BOUND_MB = 36;

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

t.test('stdout paused: the run waits with flat memory, then completes with every event', async (t) => {
  const overrides: Record<number, MessageSpec> = {};
  for (let i = 0; i < MESSAGES; i++) {
    overrides[i] = { attachments: Array.from({ length: PER_MESSAGE }, (_, k) => ({ filename: `${NAME}${k}.png`, contentType: 'image/png', size: 100 })) };
  }
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 11, messages: MESSAGES, imageRatio: 0, gapRate: 0, overrides }), rateLimit: { off: true } });
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const dir = t.testdir();
  const child = spawnCli(
    [
      '--server-id',
      guild.id,
      '--channel-id',
      channel.id,
      '--types',
      'pdf',
      '--out',
      join(dir, 'out'),
      '--state',
      join(dir, 'state'),
      '--no-progress',
      '--global-rate-limit',
      '100000',
    ],
    { cwd: dir, env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api } },
  );
  child.stdin.end();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const history = (): number => fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length;

  // Nobody reads stdout (no 'data' listener): sample the RSS until the run has made no request for a while.
  const paused = await new Promise<{ base: number; peak: number; pages: number }>((resolve, reject) => {
    let base = 0;
    let peak = 0;
    let last = -1;
    let flat = 0;
    const timer = setInterval(() => {
      if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`dps ended while paused: ${stderr}`));
        return;
      }
      const pages = history();
      const rss = rssMb(child.pid!);
      if (base === 0 && pages >= 2) base = rss; // the run is under way: start-up memory is behind it
      if (base > 0) peak = Math.max(peak, rss);
      flat = pages === last ? flat + 1 : 0;
      last = pages;
      if (base > 0 && flat >= FLAT_POLLS) {
        clearInterval(timer);
        resolve({ base, peak, pages });
      }
    }, POLL_MS);
  });
  const totalPages = Math.ceil(MESSAGES / 100);
  t.ok(paused.pages < totalPages / 2, `the walk stopped while nobody read (${paused.pages} history requests of ${totalPages}+)`);
  t.ok(
    paused.peak - paused.base < RSS_GROWTH_BOUND_MB,
    `RSS stayed flat while paused: ${paused.base.toFixed(1)} -> ${paused.peak.toFixed(1)} MB (bound +${RSS_GROWTH_BOUND_MB} MB)`,
  );

  // The reader resumes: the run goes on to the end and every event arrives, once.
  let skipped = 0;
  let partial = '';
  let summary: Record<string, unknown> | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const event = JSON.parse(line) as Record<string, unknown>;
      if (event.event === 'skipped' && event.reason === 'type') skipped++;
      if (event.event === 'summary') summary = event;
    }
  });
  const code = await closed;
  t.equal(code, 0, `exit 0: ${stderr}`);
  t.equal(partial, '', 'stdout ends with a newline');
  t.equal(skipped, MESSAGES * PER_MESSAGE, 'every one of the 100,000 events arrived');
  t.equal(summary?.skipped, MESSAGES * PER_MESSAGE, 'the summary counts them all');
});
