// --write-metadata=channel end to end: kill -9 at random points of a run (repeatedly), then a run to the end,
// then another: each channel folder's messages.ndjson (a thread has its own) holds every message with saved files
// exactly once, every saved file exactly once, only whole lines, and says what the manifest says.

import t from 'tap';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildScenario } from '../../fixtures/scenarios.js';
import { listFiles } from '../helpers/harness.js';
import { channelRun, fakeFor, ofEvent, rawLines, runDps, startCli } from './helpers.js';
import type { Line } from './helpers.js';

// A small deterministic PRNG, so a failing sequence of kill points can be replayed (DPS_KILL_SEED).
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

const scenario = () =>
  buildScenario({
    seed: 31,
    guilds: [
      {
        name: 'Channel logs',
        channels: [
          {
            name: 'general',
            messages: 160,
            imageRatio: 0.7,
            gapRate: 0,
            sizes: [2_000, 8_000],
            special: ['duplicates', 'rich'],
            threads: [{ name: 'side thread', messages: 30, imageRatio: 0.8, gapRate: 0, sizes: [2_000, 8_000] }],
          },
        ],
      },
    ],
  });

t.test('kill -9 repeatedly, then finish: every message with saved files is in its messages.ndjson exactly once', async (t) => {
  const { out, state, env, args } = await channelRun(t, { scenario: scenario(), cdnLatencyMs: 20 });
  const scrape = [...args, '--types', 'all', '--concurrency', '4', '--no-progress', '--write-metadata=channel'];
  const seed = Number(process.env.DPS_KILL_SEED ?? 2323);
  const random = prng(seed);
  t.comment(`kill seed ${seed}`);

  let killed = 0;
  for (let round = 0; round < 8; round++) {
    const bySaves = round % 2 === 1;
    const run = startCli(scrape, { env });
    const kill = (): void => void (run.child.exitCode === null && run.child.signalCode === null && run.child.kill('SIGKILL'));
    const timer = bySaves ? undefined : setTimeout(kill, 150 + Math.floor(random() * 700));
    if (bySaves) void run.waitFor(1 + Math.floor(random() * 20), ofEvent('saved')).then(kill, () => undefined);
    const result = await run.done;
    clearTimeout(timer);
    if (result.signal === 'SIGKILL') killed++;
    else t.equal(result.code, 0, `round ${round} finished before its kill point: ${result.stderr}`);
  }
  t.ok(killed >= 5, `${killed} of 8 runs were killed mid-flight`);
  const final = await runDps(scrape, { env });
  t.equal(final.code, 0, final.stderr);
  const again = await runDps(scrape, { env });
  t.equal(again.code, 0, again.stderr);

  const manifest = await runDps(['manifest', '--state', state], { env });
  const saved = (rawLines(manifest.stdout) as Line[]).filter((r) => r.status === 'saved');
  t.ok(saved.length > 100, `${saved.length} files saved`);

  // Each log, by channel (the folder of its files): whole lines only.
  const logs = (await listFiles(out)).filter((f) => f.endsWith('messages.ndjson'));
  t.equal(logs.length, 2, 'one messages.ndjson for the channel, one for its thread');
  const lines: Array<Line & { log: string }> = [];
  for (const log of logs) {
    const text = await readFile(join(out, log), 'utf8');
    t.ok(text.endsWith('\n'), `${log} ends with a whole line`);
    for (const line of text.split('\n').slice(0, -1)) lines.push({ ...(JSON.parse(line) as Line), log });
  }
  t.same(
    lines.filter((l) => l.added !== undefined || l.retry !== undefined),
    [],
    'no line adds to an earlier one (nothing failed, nothing re-walked)',
  );

  // Exactly once: every message with saved files, and every file.
  const messageIds = lines.map((l) => String(l.message_id));
  const duplicates = messageIds.filter((id, i) => messageIds.indexOf(id) !== i);
  t.same(duplicates, [], 'no message has two lines');
  const expectedMessages = new Set(saved.map((r) => String(r.message_id)));
  t.same([...new Set(messageIds)].sort(), [...expectedMessages].sort(), 'every message with saved files has its line');
  const fileKeys = lines.flatMap((l) => (l.files as Line[]).map((f) => `${l.message_id}/${f.attachment_id}`));
  t.equal(new Set(fileKeys).size, fileKeys.length, 'no file is listed twice');
  t.same(fileKeys.sort(), saved.map((r) => `${r.message_id}/${r.attachment_id}`).sort(), 'every saved file is listed');

  // What each line says equals the manifest, and it sits in the folder of its channel's files.
  const byKey = new Map(saved.map((r) => [`${r.message_id}/${r.attachment_id}`, r]));
  let checked = 0;
  for (const line of lines) {
    for (const file of line.files as Line[]) {
      const record = byKey.get(`${line.message_id}/${file.attachment_id}`)!;
      const fields = ['message_id', 'timestamp', 'author_id', 'author_name', 'author_display_name', 'content', 'channel_name', 'thread_name', 'jump_url'];
      t.same(Object.fromEntries(fields.map((f) => [f, line[f]])), Object.fromEntries(fields.map((f) => [f, record[f]])), `line of ${line.message_id}`);
      t.same([file.path, file.sha256, file.bytes], [record.path, record.sha256, record.bytes], `file ${file.attachment_id}`);
      t.equal(dirname(join(out, line.log)), dirname(String(file.path)), 'beside its files');
      checked++;
    }
  }
  t.equal(checked, saved.length);
});

t.test('files saved by the retry pass get their sidecar, and a messages.ndjson line of their own marked retry', async (t) => {
  for (const mode of ['file', 'channel'] as const) {
    const fake = await fakeFor(t, {
      scenario: buildScenario({
        seed: 41,
        guilds: [{ name: 'Retry', channels: [{ name: 'general', messages: 40, imageRatio: 0.7, gapRate: 0, sizes: [1_000, 6_000] }] }],
      }),
      faults: { error5xxRate: 0.85, seed: 4, target: 'cdn', cdnRetryAfterSec: 0 },
    });
    const guild = fake.scenario.guilds[0]!;
    const channel = guild.channels.find((c) => c.gen && !c.thread)!;
    const dir = t.testdir();
    const out = join(dir, 'out');
    const state = join(dir, 'state');
    const env = { DISCORD_TOKEN: fake.token };
    const common = ['--server-id', guild.id, '--api', fake.api, '--out', out, '--state', state, '--types', 'all', `--write-metadata=${mode}`];
    const scrape = await runDps([...common, '--channel-id', channel.id], { env });
    t.equal(scrape.code, 1, `${mode}: some files failed`);
    const failed = scrape.lines.filter(ofEvent('failed')).map((l) => String(l.attachment_id));
    t.ok(failed.length > 0, `${mode}: ${failed.length} failed`);
    fake.setOption({ faults: {} });
    const retry = await runDps(['retry-failed', ...common], { env });
    t.equal(retry.code, 0, retry.stderr);
    const retried = retry.lines.filter(ofEvent('saved'));
    t.same(retried.map((l) => String(l.attachment_id)).sort(), [...failed].sort(), `${mode}: the retry saved them`);
    const manifest = (rawLines((await runDps(['manifest', '--state', state], { env })).stdout) as Line[]).filter((r) => r.status === 'saved');
    if (mode === 'file') {
      for (const line of retried) {
        const sidecar = JSON.parse(await readFile(`${String(line.path)}.json`, 'utf8')) as Line;
        t.match(sidecar, { attachment_id: line.attachment_id, message_id: line.message_id, sha256: line.sha256 }, `sidecar of retried ${line.attachment_id}`);
      }
      const sidecars = (await listFiles(out)).filter((f) => f.endsWith('.json'));
      t.equal(sidecars.length, manifest.length, 'one sidecar per saved file');
    } else {
      const logs = (await listFiles(out)).filter((f) => f.endsWith('messages.ndjson'));
      const lines = (await readFile(join(out, logs[0]!), 'utf8'))
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l) as Line);
      const keys = lines.flatMap((l) => (l.files as Line[]).map((f) => String(f.attachment_id)));
      t.equal(new Set(keys).size, keys.length, 'no file listed twice');
      t.same([...keys].sort(), manifest.map((r) => String(r.attachment_id)).sort(), 'every saved file listed');
      const retryLines = lines.filter((l) => l.retry === true);
      t.same(
        retryLines.flatMap((l) => (l.files as Line[]).map((f) => String(f.attachment_id))).sort(),
        [...failed].sort(),
        'the retried files are on retry lines',
      );
    }
  }
});

t.test('kill -9 before the cursor moves, then --from-start: the killed run files are announced and in messages.ndjson', async (t) => {
  const { out, state, env, args } = await channelRun(t, { scenario: scenario(), cdnLatencyMs: 20 });
  const scrape = [...args, '--types', 'all', '--concurrency', '4', '--no-progress', '--write-metadata=channel'];
  const manifest = async (): Promise<Line[]> =>
    (rawLines((await runDps(['manifest', '--state', state], { env })).stdout) as Line[]).filter((r) => r.status === 'saved');
  const onDisk = async (): Promise<number> => (await listFiles(out).catch(() => [])).filter((f) => !f.includes('dps-tmp')).length;
  const first = startCli(scrape, { env });
  // Killed while files are on disk (recorded) whose saved events are not printed yet.
  while ((await onDisk()) < first.lines.filter(ofEvent('saved')).length + 4 && first.child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
  first.child.kill('SIGKILL');
  await first.done;
  const before = await manifest();
  const printed = new Set(first.lines.filter(ofEvent('saved')).map((l) => String(l.attachment_id)));
  t.ok(before.filter((r) => !printed.has(String(r.attachment_id))).length > 0, 'the killed run recorded files it never announced');
  const rewalk = await runDps([...scrape, '--from-start'], { env });
  t.equal(rewalk.code, 0, rewalk.stderr);

  const saved = (await manifest()).map((r) => `${r.message_id}/${r.attachment_id}`);
  const announced = new Set([...first.lines, ...rewalk.lines].filter(ofEvent('saved')).map((l) => `${l.message_id}/${l.attachment_id}`));
  t.same(
    saved.filter((k) => !announced.has(k)),
    [],
    'every saved file had its saved event',
  );
  const logs = (await listFiles(out)).filter((f) => f.endsWith('messages.ndjson'));
  const listed: string[] = [];
  for (const log of logs) {
    const text = await readFile(join(out, log), 'utf8');
    for (const line of text.split('\n').slice(0, -1)) {
      const parsed = JSON.parse(line) as Line;
      for (const file of parsed.files as Line[]) listed.push(`${parsed.message_id}/${file.attachment_id}`);
    }
  }
  t.equal(new Set(listed).size, listed.length, 'no file is listed twice');
  t.same(listed.sort(), saved.sort(), 'every saved file is listed');
});
