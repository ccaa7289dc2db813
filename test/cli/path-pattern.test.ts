// End to end through the built CLI (issue 23, Layout): --path-pattern sets the folders under --out. A pattern
// with no per-file part over a whole server (channels and a thread posting the same file names) loses no file:
// as many files on disk as `saved` events, each holding its bytes; channels with hostile names never make a
// folder outside --out nor an extra level; per-item placeholders ({author}, {year}, {month}) render each file's
// own; a wrong pattern is a one-line usage error before any request.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import t from 'tap';
import type { AttachmentSpec, MessageSpec } from '../../fixtures/generate.js';
import type { APIMessage } from 'discord-api-types/v10';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { sanitizeComponent } from '../../lib/fs/safe-name.js';
import { TEMP_SUFFIX } from '../../lib/fs/atomic-write.js';
import { listFiles } from '../helpers/harness.js';
import { fakeFor, ofEvent, runDps, schemaProblems, stackLines, startCli } from './helpers.js';
import type { Line } from './helpers.js';

const png = (filename: string, size: number): AttachmentSpec => ({ filename, contentType: 'image/png', size, width: 10, height: 10 });

// Every channel posts `cat.png` (different bytes) and `Cat.PNG` first, then generated files with names of their own.
const alike = (size: number): Record<number, MessageSpec> => ({ 0: { content: 'cats', attachments: [png('cat.png', size), png('Cat.PNG', size + 1)] } });
const channel = (name: string, size: number, extra: object = {}) => ({
  name,
  messages: 12,
  gapRate: 0,
  imageRatio: 1,
  sizes: [300, 2_000] as [number, number],
  overrides: alike(size),
  ...extra,
});

function server() {
  return buildScenario({
    seed: 23,
    guilds: [
      {
        name: 'Layout Server',
        channels: [
          channel('general', 1_001, {
            threads: [{ name: 'Pics', messages: 8, gapRate: 0, imageRatio: 1, sizes: [300, 2_000], spacingMs: 40 * 86_400_000, overrides: alike(1_101) }],
          }),
          channel('..', 1_002),
          channel('C:', 1_003),
          channel('a/b\\c', 1_004),
          channel('\u0001ctl\u007f', 1_005),
          channel('CON', 1_006),
        ],
      },
    ],
  });
}

// Message id -> its author's user name, read from the fake's history pages (the manifest does not keep it).
async function authorsOf(fake: FakeDiscord, channelIds: string[]): Promise<Map<string, string>> {
  const authors = new Map<string, string>();
  for (const id of channelIds) {
    const response = await fetch(`${fake.api}/channels/${id}/messages?limit=100`, { headers: { authorization: `Bot ${fake.token}` } });
    for (const message of (await response.json()) as APIMessage[]) authors.set(message.id, message.author.username);
  }
  return authors;
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

// Every saved event's path holds exactly the bytes of its attachment on the fake; returns how many do.
async function exactFiles(saved: Line[], expected: Map<string, string>): Promise<number> {
  let exact = 0;
  for (const e of saved) if ((await sha256(String(e.path))) === e.sha256 && expected.get(String(e.attachment_id)) === e.sha256) exact++;
  return exact;
}

t.test('one folder for a whole server ({filename} names): no file lost, every path its own bytes', async (t) => {
  const fake = await fakeFor(t, { scenario: server() });
  const G = fake.scenario.guilds[0]!.id;
  const dir = t.testdir();
  const out = join(dir, 'out');
  const args = ['--server-id', G, '--all-channels', '--api', fake.api, '--out', out, '--state', join(dir, 'state'), '--types', 'all'];
  const run = await runDps([...args, '--path-pattern', 'archive', '--name-pattern', '{filename}'], { env: { DISCORD_TOKEN: fake.token } });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  const saved = run.lines.filter(ofEvent('saved'));
  t.same(
    saved.flatMap((line) => schemaProblems(line)),
    [],
    'documented events',
  );
  const expected = new Map([...fake.expected({ guildId: G })].map((x) => [x.attachment_id, x.sha256]));
  t.ok(expected.size >= 80, `a server's worth of files (${expected.size})`);
  t.equal(saved.length, expected.size, 'one saved event per file of the server');
  t.equal(new Set(saved.map((e) => String(e.path).toLowerCase())).size, saved.length, 'each on its own path (case-folded)');
  const onDisk = await listFiles(out);
  t.equal(onDisk.length, saved.length, 'files on disk == saved events');
  t.ok(
    onDisk.every((file) => file.startsWith(`archive${sep}`) && file.split(sep).length === 2),
    'all in the one folder',
  );
  t.equal(await exactFiles(saved, expected), saved.length, 'every saved path holds exactly its bytes (sha256)');
  const cats = saved.filter((e) => /^cat(_\d+)?\.png$/i.test(String(e.path).split(sep).pop() ?? ''));
  t.equal(cats.length, 2 * 7, 'the cat.png and Cat.PNG of six channels and a thread: all kept, suffixed');

  const again = await runDps([...args, '--path-pattern', 'archive', '--name-pattern', '{filename}'], { env: { DISCORD_TOKEN: fake.token } });
  t.equal(again.code, 0);
  t.same(again.lines.filter(ofEvent('saved')), [], 'a second run saves nothing again');
  t.equal((await listFiles(out)).length, saved.length, 'and adds no file');

  // {thread} outside threads: no folder at all, the files go in --out itself.
  const rootOut = join(dir, 'root-out');
  const root = ['--server-id', G, '--all-channels', '--api', fake.api, '--out', rootOut, '--state', join(dir, 'state-2'), '--types', 'all'];
  const flat = await runDps([...root, '--path-pattern', '{thread}', '--name-pattern', '{filename}'], { env: { DISCORD_TOKEN: fake.token } });
  t.equal(flat.code, 0, `exit 0 (stderr: ${flat.stderr})`);
  const flatFiles = await listFiles(rootOut);
  const thread = fake.scenario.guilds[0]!.channels.find((c) => c.thread)!;
  const inThread = [...fake.expected({ channelId: thread.id })].length;
  t.equal(flatFiles.length, expected.size, 'every file');
  t.equal(flatFiles.filter((f) => f.startsWith(`Pics${sep}`)).length, inThread, "the thread's files in its folder");
  t.equal(flatFiles.filter((f) => !f.includes(sep)).length, expected.size - inThread, 'the others in --out itself');
  t.equal(await exactFiles(flat.lines.filter(ofEvent('saved')), expected), expected.size, 'each with its bytes');
});

t.test('hostile channel names and per-item placeholders: inside --out, one level per folder of the pattern', async (t) => {
  const fake = await fakeFor(t, { scenario: server() });
  const guild = fake.scenario.guilds[0]!;
  const dir = t.testdir();
  const out = join(dir, 'out');
  const args = ['--server-id', guild.id, '--all-channels', '--api', fake.api, '--out', out, '--state', join(dir, 'state'), '--types', 'all'];
  const pattern = '{guild}/{parent}/{channel}/{author}/{year}-{month}';
  const run = await runDps([...args, '--path-pattern', pattern, '--name-pattern', '{message_id}_{filename}'], { env: { DISCORD_TOKEN: fake.token } });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  const saved = run.lines.filter(ofEvent('saved'));
  const expected = new Map([...fake.expected({ guildId: guild.id })].map((x) => [x.attachment_id, x.sha256]));
  t.equal(saved.length, expected.size, 'every file saved');
  t.equal((await listFiles(out)).length, saved.length, 'files on disk == saved events');
  t.equal(await exactFiles(saved, expected), saved.length, 'each with its bytes');

  const authors = await authorsOf(
    fake,
    guild.channels.filter((c) => c.gen).map((c) => c.id),
  );
  const byId = new Map(guild.channels.map((c) => [c.id, c]));
  const months = new Set<string>();
  for (const e of saved) {
    const rel = relative(out, String(e.path));
    const parts = rel.split(sep);
    t.ok(rel !== '..' && !rel.startsWith(`..${sep}`), `inside --out: ${rel}`);
    for (const part of parts) t.equal(sanitizeComponent(part), part, `${JSON.stringify(part)} is a safe name`);
    const posted = byId.get(String(e.channel_id))!;
    const parent = posted.thread ? byId.get(String(posted.parent_id)) : undefined;
    const date = new Date(String(e.timestamp)).toISOString();
    const want = [
      'Layout Server',
      ...(parent ? [sanitizeComponent(parent.name ?? '')] : []), // {parent} outside threads: no folder
      sanitizeComponent(posted.name),
      sanitizeComponent(authors.get(String(e.message_id)) ?? '?'),
      `${date.slice(0, 4)}-${date.slice(5, 7)}`,
    ];
    t.same(parts.slice(0, -1), want, `${rel}: server, parent (threads only), channel, author, the file's own month`);
    months.add(parts.at(-2)!);
  }
  t.ok(months.size > 3, `files spread over months (${[...months].join(' ')})`);
  t.ok(
    saved.some((e) => relative(out, String(e.path)).split(sep)[1] === '_'),
    'the channel named ".." is a folder named "_"',
  );
  const channelFolders = new Set(saved.map((e) => relative(out, String(e.path)).split(sep)[1]));
  t.same([...channelFolders].sort(), ['C_', '_', '_CON', '_ctl_', 'a_b_c', 'general'], 'every hostile name made one safe folder');
  t.ok(
    saved.some((e) => relative(out, String(e.path)).split(sep).slice(1, 3).join('/') === 'general/Pics'),
    'the thread is under its parent',
  );
});

t.test('kill -9 mid-run with per-item folders and shared names: nothing lost, no complete file downloaded again', async (t) => {
  const scenario = buildScenario({
    seed: 24,
    guilds: [
      { name: 'Crash Server', channels: [{ name: 'general', messages: 240, gapRate: 0, imageRatio: 1, sizes: [500, 40_000], spacingMs: 5 * 86_400_000 }] },
    ],
  });
  const fake = await fakeFor(t, { scenario, cdnLatencyMs: 20 });
  const guild = fake.scenario.guilds[0]!;
  const C = guild.channels[0]!.id;
  const dir = t.testdir();
  const out = join(dir, 'out');
  const layout = ['--path-pattern', '{author}/{year}-{month}', '--name-pattern', '{date}'];
  const args = [
    '--server-id',
    guild.id,
    '--channel-id',
    C,
    '--api',
    fake.api,
    '--out',
    out,
    '--state',
    join(dir, 'state'),
    '--types',
    'all',
    '--concurrency',
    '32',
    '--quiet',
    ...layout,
  ];
  const env = { DISCORD_TOKEN: fake.token };
  const expected = new Map([...fake.expected({ channelId: C })].map((x) => [x.sha256, x.attachment_id]));
  const onDisk = new Set<string>();
  const again: string[] = [];
  const cdnIds = (): string[] => fake.requests.filter((r) => r.kind === 'cdn').map((r) => r.path.split('/')[3] ?? '');
  for (let kill = 0; kill < 3; kill++) {
    const before = cdnIds().length;
    const running = startCli(args, { env });
    await running.waitFor(40 * (kill + 1), (line) => line.event === 'saved').catch(() => undefined);
    running.child.kill('SIGKILL');
    await running.done;
    again.push(
      ...cdnIds()
        .slice(before)
        .filter((id) => onDisk.has(id)),
    );
    for (const file of (await listFiles(out)).filter((name) => !name.endsWith(TEMP_SUFFIX))) {
      const id = expected.get(await sha256(join(out, file)));
      if (id !== undefined) onDisk.add(id);
    }
  }
  const before = cdnIds().length;
  const last = await runDps(args, { env });
  t.equal(last.code, 0, `the last run completes (stderr: ${last.stderr})`);
  again.push(
    ...cdnIds()
      .slice(before)
      .filter((id) => onDisk.has(id)),
  );
  t.same(again.slice(0, 5), [], `no complete file is downloaded again (${again.length} were)`);
  const files = (await listFiles(out)).filter((name) => !name.endsWith(TEMP_SUFFIX));
  const hashes = await Promise.all(files.map((f) => sha256(join(out, f))));
  t.same(hashes.sort(), [...expected.keys()].sort(), `the archive holds exactly the ${expected.size} files, byte for byte`);
  t.ok(
    files.every((f) => /^user\d+_\d+\/\d{4}-\d{2}\/\d{4}-\d{2}-\d{2}(_\d+)*$/.test(f.split(sep).join('/'))),
    `each in its author and month folder (${files.slice(0, 2).join(' ')})`,
  );
});

t.test('a wrong --path-pattern: exit 2, one line naming it, no request', async (t) => {
  const fake = await fakeFor(t, { scenario: server() });
  const G = fake.scenario.guilds[0]!.id;
  const dir = t.testdir();
  for (const [pattern, message] of [
    ['{guild}/{chanel}', /unknown placeholder \{chanel\} in path pattern "\{guild\}\/\{chanel\}"; known placeholders: .*\{thread_id\}/],
    ['../{guild}', /cannot hold a \.\. folder.*"\.\.\/\{guild\}"/],
    ['/srv/{guild}', /cannot be absolute.*"\/srv\/\{guild\}"/],
    ['{guild}\\{channel}', /separates folders with \//],
  ] as const) {
    fake.resetLog();
    const run = await runDps(
      ['--server-id', G, '--all-channels', '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--path-pattern', pattern],
      {
        env: { DISCORD_TOKEN: fake.token },
      },
    );
    t.equal(run.code, 2, `${pattern}: exit 2`);
    const lines = run.stderr.trim().split('\n');
    t.equal(lines.length, 1, `${pattern}: one line (${run.stderr})`);
    t.match(lines[0], message, pattern);
    t.same(stackLines(run.stderr), [], 'no stack trace');
    t.equal(fake.requests.length, 0, `${pattern}: no request`);
  }
});
