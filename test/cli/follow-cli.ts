// A running `dps follow` for the CLI end-to-end tests of test/cli/follow-*.test.ts: the built CLI spawned against
// the fake Discord (REST and Gateway), its NDJSON events and stderr as they come, waits for conditions on them
// (woken by every line, never by a timer), and its exit. Also `dps status` of a state, from another process.

import type { Test } from 'tap';
import { createInterface } from 'node:readline';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { spawnCli } from '../helpers/harness.js';
import { runDps, schemaProblems } from './helpers.js';

export interface Follow {
  child: ReturnType<typeof spawnCli>;
  events: Array<Record<string, unknown>>;
  until: (what: string, test: () => boolean) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  saved: () => Set<string>;
  stderr: () => string;
  problems: () => string[]; // NDJSON schema problems of the events so far (test/cli/helpers.ts)
}

export function startFollow(t: Test, fake: FakeDiscord, args: string[], env: Record<string, string> = {}): Follow {
  const child = spawnCli(['follow', ...args], { cwd: t.testdirName, env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api, ...env } });
  const events: Array<Record<string, unknown>> = [];
  let stderr = '';
  const waiters: Array<() => void> = [];
  const wake = (): void => {
    for (const resolve of waiters.splice(0)) resolve();
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    events.push(JSON.parse(line) as Record<string, unknown>);
    wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      wake();
      resolve({ code, signal });
    }),
  );
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  t.teardown(() => {
    if (!ended) child.kill('SIGKILL');
  });
  const until = async (what: string, test: () => boolean): Promise<void> => {
    while (!test()) {
      if (ended) throw new Error(`dps follow exited before ${what}: ${stderr}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const saved = (): Set<string> => new Set(events.filter((e) => e.event === 'saved').map((e) => String(e.attachment_id)));
  const problems = (): string[] => events.flatMap((e) => schemaProblems(e));
  return { child, events, until, exited, saved, stderr: () => stderr, problems };
}

// Every id of `files` has a `saved` event.
export function allSaved(follow: Follow, files: Array<{ attachment_id: string }>): boolean {
  const saved = follow.saved();
  return files.every((file) => saved.has(file.attachment_id));
}

export interface ChannelStatus {
  name: string;
  last_message_id: string | null;
  total_images: number;
  following?: boolean;
  last_event_at?: string;
  lag_ms?: number;
}

export interface StatusOutput {
  code: number | null;
  stderr: string;
  report: { as_of?: string; servers: Record<string, { channels: Record<string, ChannelStatus> }> };
}

// `dps status --state <state>` from another process.
export async function statusOf(state: string, cwd: string): Promise<StatusOutput> {
  const out = await runDps(['status', '--state', state], { cwd });
  let report: StatusOutput['report'] = { servers: {} };
  if (out.code === 0) report = JSON.parse(out.stdout) as StatusOutput['report'];
  return { code: out.code, stderr: out.stderr, report };
}

// `dps status` until `test` holds of its report (a running follow rewrites progress.json every 2 s): each try
// runs after the previous one ended; the test's own timeout bounds the wait.
export async function statusUntil(state: string, cwd: string, test: (status: StatusOutput) => boolean): Promise<StatusOutput> {
  for (;;) {
    const status = await statusOf(state, cwd);
    if (test(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// A channel's entry in a status report.
export function channelStatus(status: StatusOutput, guildId: string, channelId: string): ChannelStatus | undefined {
  return status.report.servers[guildId]?.channels[channelId];
}
