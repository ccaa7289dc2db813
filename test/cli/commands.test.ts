// The other commands through the built CLI: `manifest` (NDJSON of the state, matching what `scrape` printed),
// `status` (the plan's progress.json schema with correct numbers), `--help` and `--version`.

import t from 'tap';
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildScenario } from '../../fixtures/scenarios.js';
import { ROOT, collect } from '../helpers/harness.js';
import { fakeFor, ofEvent, rawLines, runDps, stackLines } from './helpers.js';
import type { Line } from './helpers.js';

const scenario = () =>
  buildScenario({
    seed: 41,
    guilds: [
      {
        name: 'Commands Server',
        channels: [
          { name: 'alpha', messages: 30, imageRatio: 0.5, sizes: [2_000, 10_000], special: 'duplicates' },
          { name: 'beta', messages: 20, imageRatio: 0.5, sizes: [2_000, 10_000] },
        ],
      },
    ],
  });

const byId = (lines: Line[]): Map<string, Line> => new Map(lines.map((l) => [String(l.attachment_id), l]));

t.test('manifest and status describe what scrape archived', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const guild = fake.scenario.guilds[0]!;
  const [alpha, beta] = guild.channels;
  const G = guild.id;
  const A = alpha!.id;
  const B = beta!.id;
  const dir = t.testdir();
  const state = join(dir, 'state');
  const scrapeArgs = ['--server-id', G, '--channel-id', A, '--channel-id', B, '--api', fake.api, '--out', join(dir, 'out'), '--state', state];
  const env = { DISCORD_TOKEN: fake.token };
  const before = Date.now();
  const scrape = await runDps(scrapeArgs, { env });
  t.equal(scrape.code, 0, `scrape exit 0 (stderr: ${scrape.stderr})`);
  const saved = scrape.lines.filter(ofEvent('saved'));
  const savedIn = (channel: string): Line[] => saved.filter((s) => s.channel_id === channel);
  const expectedIds = (await collect(fake.expected({ guildId: G }))).map((a) => a.attachment_id).sort();
  t.same(saved.map((s) => String(s.attachment_id)).sort(), expectedIds, 'both channels archived');
  t.ok(savedIn(A).length > 5 && savedIn(B).length > 5, 'both channels have files');
  const doneFor = (lines: Line[], channel: string): Line | undefined => lines.filter(ofEvent('channel_done')).find((l) => l.channel_id === channel);

  const sameRecord = (t: Test, records: Line[], events: Line[], what: string): void => {
    t.equal(records.length, events.length, `${what}: one record per archived attachment`);
    t.equal(new Set(records.map((r) => r.attachment_id)).size, records.length, `${what}: no attachment listed twice`);
    const events_ = byId(events);
    const mismatched = records.filter((r) => {
      const e = events_.get(String(r.attachment_id));
      return (
        !e ||
        r.status !== 'saved' ||
        (['guild_id', 'channel_id', 'message_id', 'filename', 'path', 'sha256', 'bytes', 'timestamp', 'source'] as const).some((k) => r[k] !== e[k]) ||
        (r.duplicate_of ?? null) !== (e.duplicate_of ?? null)
      );
    });
    t.same(mismatched, [], `${what}: every record matches its saved event (ids, path, sha256, bytes, duplicate_of)`);
  };

  t.test('manifest: every archived attachment, as NDJSON', async (t) => {
    const run = await runDps(['manifest', '--state', state]);
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
    t.equal(run.stderr, '', 'nothing on stderr');
    const lines = rawLines(run.stdout);
    t.notOk(lines.includes(null), 'every line is a JSON object');
    t.ok(run.stdout.endsWith('\n'), 'ends with a newline');
    sameRecord(t, lines as Line[], saved, 'manifest');
    t.notOk(run.stdout.includes(fake.token), 'no token in the manifest');
  });

  t.test('manifest --channel-id and --server-id filter', async (t) => {
    const onlyA = await runDps(['manifest', '--state', state, '--channel-id', A]);
    t.equal(onlyA.code, 0);
    sameRecord(t, onlyA.lines, savedIn(A), 'manifest --channel-id A');
    const onlyB = await runDps(['manifest', '--state', state, '--channel-id', B]);
    sameRecord(t, onlyB.lines, savedIn(B), 'manifest --channel-id B');
    const server = await runDps(['manifest', '--state', state, '--server-id', G]);
    t.equal(server.lines.length, saved.length, '--server-id G lists everything');
    const other = await runDps(['manifest', '--state', state, '--server-id', '123456789012345678']);
    t.equal(other.code, 0);
    t.equal(other.stdout, '', 'another server lists nothing');
  });

  t.test("status: the plan's progress.json schema with correct numbers", async (t) => {
    const run = await runDps(['status', '--state', state]);
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
    type Entry = { name?: unknown; last_message_id?: unknown; last_updated?: unknown; total_images?: unknown; failed?: unknown; pending?: unknown };
    let report: { servers?: Record<string, { name?: unknown; channels?: Record<string, Entry> }> } = {};
    t.doesNotThrow(() => (report = JSON.parse(run.stdout)), 'stdout is one JSON document');
    t.same(Object.keys(report.servers ?? {}), [G], 'one server');
    const channels = report.servers?.[G]?.channels ?? {};
    t.same(Object.keys(channels).sort(), [A, B].sort(), 'both channels');
    t.equal(report.servers?.[G]?.name, guild.name, 'the server name');
    for (const channel of [A, B]) {
      const entry = channels[channel];
      t.equal(entry?.name, channel === A ? alpha!.name : beta!.name, 'the channel name');
      t.equal(entry?.failed, 0, 'no failures');
      t.equal(entry?.pending, 0, 'nothing pending');
      t.equal(entry?.total_images, savedIn(channel).length, `total_images of ${channel} counts its files`);
      t.equal(entry?.last_message_id, doneFor(scrape.lines, channel)?.cursor, `last_message_id of ${channel} is its cursor`);
      t.match(entry?.last_message_id, /^\d+$/, 'last_message_id is an id');
      const maxWithFile = savedIn(channel).reduce((m, s) => (BigInt(String(s.message_id)) > m ? BigInt(String(s.message_id)) : m), 0n);
      t.ok(BigInt(String(entry?.last_message_id)) >= maxWithFile, 'the cursor is at or past the newest archived message');
      t.match(entry?.last_updated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, 'last_updated is an ISO timestamp');
      t.ok(Date.parse(String(entry?.last_updated)) >= before - 1000, 'last_updated is from this run');
    }
    const filtered = await runDps(['status', '--state', state, '--server-id', '123456789012345678']);
    t.equal(filtered.code, 0);
    t.same(JSON.parse(filtered.stdout), { servers: {} }, 'status --server-id of another server is empty');
  });

  t.test('status follows an incremental run', async (t) => {
    fake.appendMessages(A, 15, { imageRatio: 1 });
    const again = await runDps(scrapeArgs, { env });
    t.equal(again.code, 0);
    const fresh = again.lines.filter(ofEvent('saved'));
    t.ok(fresh.length >= 15, `${fresh.length} new files`);
    t.ok(
      fresh.every((s) => s.channel_id === A),
      'only in the channel that got new messages',
    );
    const report = JSON.parse((await runDps(['status', '--state', state])).stdout) as {
      servers: Record<string, { channels: Record<string, { last_message_id: string; total_images: number }> }>;
    };
    const entry = report.servers[G]?.channels[A];
    t.equal(entry?.total_images, savedIn(A).length + fresh.length, 'total_images grew by the new files');
    t.equal(entry?.last_message_id, doneFor(again.lines, A)?.cursor, 'last_message_id moved to the new cursor');
    const newest = (await collect(fake.expected({ channelId: A }))).at(-1)!.message_id;
    t.ok(BigInt(entry!.last_message_id) >= BigInt(newest), 'the cursor reached the newest message');
    const manifest = await runDps(['manifest', '--state', state, '--channel-id', A]);
    sameRecord(t, manifest.lines, [...savedIn(A), ...fresh], 'manifest after the incremental run');
  });
});

t.test('help and version', { jobs: 4 }, async (t) => {
  const readmeFlags = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/^\| `(--[a-z-]+)/gm)].map((m) => m[1]!);
  t.ok(readmeFlags.length >= 20, `the README documents ${readmeFlags.length} scrape flags`);

  t.test('dps --help', async (t) => {
    const run = await runDps(['--help']);
    t.equal(run.code, 0, 'exit 0');
    t.same(stackLines(run.stderr), []);
    for (const command of ['scrape', 'manifest', 'status', 'demo']) t.match(run.stdout, new RegExp(`\\b${command}\\b`), `lists the ${command} command`);
    for (const flag of ['--server-id', '--channel-id', '--out', '--state', '--token', '--api', '--help', '--version'])
      t.ok(run.stdout.includes(flag), `lists ${flag}`);
  });

  t.test('dps scrape --help lists every flag of the README', async (t) => {
    const run = await runDps(['scrape', '--help']);
    t.equal(run.code, 0, 'exit 0');
    const missing = readmeFlags.filter((flag) => !run.stdout.includes(flag) && !(flag.startsWith('--no-') && run.stdout.includes(`--${flag.slice(5)}`)));
    t.same(missing, [], 'every README flag is listed');
  });

  t.test('dps -h is --help', async (t) => {
    const run = await runDps(['-h']);
    t.equal(run.code, 0);
    t.ok(run.stdout.includes('--server-id'));
  });

  t.test('dps manifest --help and dps status --help', async (t) => {
    for (const command of ['manifest', 'status']) {
      const run = await runDps([command, '--help']);
      t.equal(run.code, 0, `${command} --help exit 0`);
      t.ok(run.stdout.includes('--state'), `${command} --help lists --state`);
    }
  });

  t.test('dps --version prints the package version', async (t) => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const run = await runDps(['--version']);
    t.equal(run.code, 0, 'exit 0');
    t.equal(run.stdout.trim(), version, `prints ${version}`);
    t.equal(run.stderr, '');
  });
});
