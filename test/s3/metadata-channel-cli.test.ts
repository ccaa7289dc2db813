// `--write-metadata=channel` with `--out s3://` end to end (issue 26): the built CLI against the fake Discord and a
// real S3 server (Ceph RGW). Each channel folder (a thread has its own) gets one messages.ndjson object holding
// one whole line per message with saved files, in post order, saying what the manifest says; an incremental run
// adds the new messages' lines after the old ones; kill -9 at random points then a run to the end leaves exactly
// one line per message and every file listed once. The files' objects match the fake's bytes (sha256).

import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { buildScenario } from '../../fixtures/scenarios.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { fakeFor, ofEvent, rawLines, runDps, startCli } from '../cli/helpers.js';
import type { Line } from '../cli/helpers.js';
import { keyOf, objectsUnder, s3Args } from './objects.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

const scenario = () =>
  buildScenario({
    seed: 37,
    guilds: [
      {
        name: 'Object logs',
        channels: [
          {
            name: 'general',
            messages: 90,
            imageRatio: 0.7,
            gapRate: 0,
            sizes: [2_000, 8_000],
            special: ['duplicates', 'rich'],
            threads: [{ name: 'side thread', messages: 20, imageRatio: 0.8, gapRate: 0, sizes: [2_000, 8_000] }],
          },
        ],
      },
    ],
  });

// A small deterministic PRNG, so a failing sequence of kill points can be replayed (DPS_KILL_SEED).
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

interface Logs {
  lines: Array<Line & { log: string }>;
  keys: string[];
}

// Every messages.ndjson object in the bucket, parsed (whole lines checked).
async function logsIn(t: Test, bucket: string): Promise<Logs> {
  const objects = await objectsUnder(client, bucket);
  const keys = [...objects.keys()].filter((k) => k.endsWith('/messages.ndjson')).sort();
  const lines: Logs['lines'] = [];
  for (const key of keys) {
    const text = objects.get(key)!.bytes.toString('utf8');
    t.ok(text.endsWith('\n'), `${key} ends with a whole line`);
    for (const line of text.split('\n').slice(0, -1)) lines.push({ ...(JSON.parse(line) as Line), log: key });
  }
  return { lines, keys };
}

// The logs say exactly what the manifest says: one line per message with saved files, every file once, each log
// in the folder of its files; and every saved file's object holds the fake's bytes.
async function checkLogs(t: Test, fake: FakeDiscord, bucket: string, state: string): Promise<Logs> {
  const manifest = await runDps(['manifest', '--state', state]);
  const saved = (rawLines(manifest.stdout) as Line[]).filter((r) => r.status === 'saved');
  const logs = await logsIn(t, bucket);
  t.equal(logs.keys.length, 2, 'one messages.ndjson for the channel, one for its thread');
  const ids = logs.lines.map((l) => String(l.message_id));
  t.same(
    ids.filter((id, i) => ids.indexOf(id) !== i),
    [],
    'no message has two lines',
  );
  t.same([...new Set(ids)].sort(), [...new Set(saved.map((r) => String(r.message_id)))].sort(), 'every message with saved files has its line');
  const fileKeys = logs.lines.flatMap((l) => (l.files as Line[]).map((f) => `${l.message_id}/${f.attachment_id}`));
  t.same(fileKeys.sort(), saved.map((r) => `${r.message_id}/${r.attachment_id}`).sort(), 'every saved file is listed once');
  const byKey = new Map(saved.map((r) => [`${r.message_id}/${r.attachment_id}`, r]));
  let beside = 0;
  for (const line of logs.lines) {
    for (const file of line.files as Line[]) {
      const record = byKey.get(`${line.message_id}/${file.attachment_id}`)!;
      if (file.sha256 !== record.sha256 || file.path !== record.path || line.content !== record.content) t.fail(`line of ${line.message_id} says the manifest`);
      if (keyOf(bucket, record.path).replace(/\/[^/]+$/, '') === line.log.replace(/\/[^/]+$/, '')) beside++;
    }
  }
  t.equal(beside, fileKeys.length, 'each log is in the folder of its files');
  for (const log of logs.keys) {
    const own = logs.lines.filter((l) => l.log === log).map((l) => BigInt(String(l.message_id)));
    t.ok(
      own.every((id, i) => i === 0 || id > own[i - 1]!),
      `${log}: lines in post order`,
    );
  }
  const objects = await objectsUnder(client, bucket);
  const expected = new Map([...fake.expected()].map((a) => [a.attachment_id, a.sha256]));
  const wrong = saved.filter((r) => objects.get(keyOf(bucket, r.path))?.sha256 !== expected.get(String(r.attachment_id)));
  t.same(
    wrong.map((r) => r.path),
    [],
    `the ${saved.length} saved files' objects hold the fake's bytes`,
  );
  return logs;
}

t.test('a full run, then an incremental one: one object log per channel folder, new lines after the old', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels.find((c) => c.gen && !c.thread)!;
  const bucket = await s3.createBucket(bucketName('logs'));
  const dir = t.testdir();
  const state = join(dir, 'state');
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };
  const args = s3Args(fake.api, guild.id, channel.id, `s3://${bucket}/a`, state, '--types', 'all', '--write-metadata=channel');

  const first = await runDps(args, { env });
  t.equal(first.code, 0, `exit 0 (stderr: ${first.stderr})`);
  t.notMatch(first.stderr, /Are you using|Warning/, 'no SDK warning on stderr');
  const before = await checkLogs(t, fake, bucket, state);
  t.ok(before.lines.length > 50, `${before.lines.length} lines`);

  fake.appendMessages(channel.id, 12, { imageRatio: 1 });
  const second = await runDps(args, { env });
  t.equal(second.code, 0, `exit 0 (stderr: ${second.stderr})`);
  t.ok(second.lines.filter(ofEvent('saved')).length >= 12, 'the new files are saved');
  const after = await checkLogs(t, fake, bucket, state);
  const main = (logs: Logs): string[] => logs.lines.filter((l) => l.log === logs.keys.find((k) => !k.includes('/threads/'))).map((l) => String(l.message_id));
  t.same(main(after).slice(0, main(before).length), main(before), 'the old lines first, unchanged');
  t.ok(main(after).length >= main(before).length + 12, 'then a line per new message');

  const third = await runDps(args, { env });
  t.equal(third.code, 0, 'a run with nothing new');
  t.same((await logsIn(t, bucket)).lines, after.lines, 'the logs unchanged');
});

t.test('kill -9 at random points, then a run to the end: exactly one line per message', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario(), cdnLatencyMs: 20 });
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels.find((c) => c.gen && !c.thread)!;
  const bucket = await s3.createBucket(bucketName('logkill'));
  const dir = t.testdir();
  const state = join(dir, 'state');
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };
  const args = s3Args(fake.api, guild.id, channel.id, `s3://${bucket}/k`, state, '--types', 'all', '--concurrency', '4', '--write-metadata=channel');
  const seed = Number(process.env.DPS_KILL_SEED ?? 4141);
  const random = prng(seed);
  t.comment(`kill seed ${seed}`);
  let killed = 0;
  for (let round = 0; round < 6; round++) {
    const run = startCli(args, { env });
    const kill = (): void => void (run.child.exitCode === null && run.child.signalCode === null && run.child.kill('SIGKILL'));
    void run.waitFor(1 + Math.floor(random() * 15), ofEvent('saved')).then(kill, () => undefined);
    const result = await run.done;
    if (result.signal === 'SIGKILL') killed++;
    else t.equal(result.code, 0, `round ${round} finished before its kill point: ${result.stderr}`);
  }
  t.ok(killed >= 4, `${killed} of 6 runs were killed mid-flight`);
  const final = await runDps(args, { env });
  t.equal(final.code, 0, final.stderr);
  const logs = await checkLogs(t, fake, bucket, state);
  t.same(
    logs.lines.filter((l) => l.added !== undefined || l.retry !== undefined),
    [],
    'no line adds to an earlier one (nothing failed, nothing re-walked)',
  );
});
