// Hostile input: redirects to foreign hosts are refused, symlinks planted in --out are never written through,
// malformed or absurd API data (bad JSON, missing fields, null attachments, size 1e15, unknown types) does not
// crash the run, a body whose length differs from the attachment's size is never accepted, and invalid flags
// and ids get one-line errors.

import t from 'tap';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, symlinkSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { folderName } from '../../lib/fs/safe-name.js';
import { listFiles, runCli, runLibrary } from '../helpers/harness.js';
import { baseOptions } from '../helpers/verify.js';

const GUILD = '900000000000000001';
const CHANNEL = '900000000000000002';
const ODD_CHANNEL = '900000000000000003';
const BOT = '900000000000000009';
const TOKEN = 'mini.server.token';
const msgId = (n: number): string => String(910000000000000000n + BigInt(n));

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; origin: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// A minimal Discord (API + CDN) whose one channel holds every kind of odd data.
async function miniDiscord(evilOrigin: string, junkChannels = false) {
  let origin = '';
  const file = (bytes: number): Buffer => Buffer.alloc(bytes, 7);
  const att = (id: number, name: string, path: string, size: unknown, extra: Record<string, unknown> = {}) => ({
    id: String(920000000000000000n + BigInt(id)),
    filename: name,
    size,
    url: `${origin}${path}`,
    proxy_url: `${origin}${path}`,
    content_type: 'image/png',
    ...extra,
  });
  const msg = (n: number, extra: Record<string, unknown>) => ({
    id: msgId(n),
    channel_id: CHANNEL,
    type: 0,
    content: 'x',
    timestamp: '2024-01-02T03:04:05.000000+00:00',
    author: { id: BOT, username: 'someone' },
    attachments: [],
    embeds: [],
    ...extra,
  });
  const messages = (): unknown[] => [
    msg(1, { attachments: [att(1, 'good.png', '/attachments/1/good.png', 3000)] }),
    msg(2, { attachments: [att(2, 'evil.png', '/cdn/redirect-evil', 3000)] }),
    msg(3, { attachments: [att(3, 'moved.png', '/cdn/redirect-ok', 3100)] }),
    msg(4, { attachments: null, embeds: null, components: 'nope' }),
    msg(5, {
      attachments: [
        { filename: 'no-id.png', size: 10, url: `${origin}/attachments/5/a.png` },
        { id: '920000000000000005', size: 10 },
        { id: '920000000000000006', filename: 'no-url.png', size: 10 },
      ],
    }),
    msg(6, { attachments: [att(7, 'huge.png', '/attachments/7/huge.png', 1e15)] }),
    msg(7, { type: 999, attachments: [att(8, 'unknown-type.png', '/attachments/8/unknown.png', 3200)] }),
    msg(8, { attachments: [att(9, 'short.png', '/attachments/9/short.png', 5000)] }),
    msg(9, {
      attachments: [att(10, 'file.png', 'ignored', 10, { url: 'file:///etc/passwd' }), att(11, 'js.png', 'ignored', 10, { url: 'javascript:alert(1)' })],
    }),
    // Entries that are not messages (null, a string, an id that is not a snowflake) make the whole page an invalid
    // response, retried and then reported: test/faults/hostile-api.test.ts.
    msg(10, { author: null, timestamp: 'garbage', attachments: [att(12, '../../../../escape.png', '/attachments/12/escape.png', 3300)] }),
    msg(11, { attachments: [att(13, 'negative.png', '/attachments/13/neg.png', -5), att(14, 'string-size.png', '/attachments/14/str.png', 'big')] }),
  ];
  let brokenPages = 1;
  const {
    server,
    origin: o,
    hits,
  } = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    const p = url.pathname;
    if (p.startsWith('/api/v10/') && req.headers.authorization !== `Bot ${TOKEN}`) return json(401, { message: '401: Unauthorized', code: 0 });
    if (p === '/api/v10/users/@me') return json(200, { id: BOT, username: 'bot', bot: true });
    if (p === '/api/v10/applications/@me') return json(200, { id: BOT, flags: 1 << 18 });
    if (p === `/api/v10/guilds/${GUILD}`) return json(200, { id: GUILD, name: 'Mini', owner_id: BOT, roles: 'not-an-array' });
    if (p === `/api/v10/guilds/${GUILD}/channels`)
      return json(200, [
        { id: CHANNEL, type: 0, name: 'odd', guild_id: GUILD },
        { id: ODD_CHANNEL, type: 4242, name: 'future-type', guild_id: GUILD },
        ...(junkChannels ? [null, 7] : []),
      ]);
    if (p === `/api/v10/guilds/${GUILD}/members/${BOT}`) return json(200, { roles: null });
    if (p === `/api/v10/channels/${CHANNEL}`) return json(200, { id: CHANNEL, type: 0, name: 'odd', guild_id: GUILD });
    if (p === `/api/v10/channels/${ODD_CHANNEL}`) return json(200, { id: ODD_CHANNEL, type: 4242, name: 'future-type', guild_id: GUILD });
    if (p === `/api/v10/channels/${ODD_CHANNEL}/messages`) return json(200, []);
    if (p === `/api/v10/channels/${CHANNEL}/messages`) {
      const all = messages().reverse(); // newest first, as Discord sends them
      if (url.searchParams.get('limit') === '1') return json(200, all.slice(0, 1));
      if (url.searchParams.get('after') === '0') {
        if (brokenPages-- > 0) {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"broken json');
          return;
        }
        return json(200, all);
      }
      return json(200, []);
    }
    if (p === '/cdn/redirect-evil') return void res.writeHead(302, { location: `${evilOrigin}/stolen.png` }).end();
    if (p === '/cdn/redirect-ok') return void res.writeHead(302, { location: '/attachments/3/moved.png' }).end();
    if (p === '/attachments/9/short.png') return void res.writeHead(200, { 'content-type': 'image/png', 'content-length': 4000 }).end(file(4000));
    if (p === '/attachments/7/huge.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(file(5000));
    const sizes: Record<string, number> = {
      '/attachments/1/good.png': 3000,
      '/attachments/3/moved.png': 3100,
      '/attachments/8/unknown.png': 3200,
      '/attachments/12/escape.png': 3300,
    };
    const size = sizes[p];
    if (size !== undefined) return void res.writeHead(200, { 'content-type': 'image/png', 'content-length': size }).end(file(size));
    json(404, { message: '404: Not Found', code: 0 });
  });
  origin = o;
  return { server, origin, hits };
}

type Ev = { event: string; attachment_id?: string; filename?: string; reason?: string; detail?: string; path?: string; error?: string };
const why = (e: Ev | undefined): string => `${e?.reason ?? ''} ${e?.detail ?? ''}`;

t.test('odd API data, foreign redirects and wrong sizes: handled without crashing, nothing escapes --out', async (t) => {
  const evil = await listen((_req, res) => res.writeHead(200, { 'content-type': 'image/png', 'content-length': 3000 }).end(Buffer.alloc(3000)));
  t.teardown(() => close(evil.server));
  const mini = await miniDiscord(evil.origin);
  t.teardown(() => close(mini.server));
  const dir = t.testdir();
  const out = join(dir, 'out');
  const run = await runLibrary({
    token: TOKEN,
    api: `${mini.origin}/api/v10`,
    guildId: GUILD,
    channelIds: [CHANNEL],
    out,
    state: join(dir, 'state'),
    types: 'all',
    retries: 1,
    backoffMs: 5,
  });
  const events = run.events as unknown as Ev[];
  t.equal(events.at(-1)?.event, 'summary', 'the run ends with a summary');
  t.equal(run.result.exitCode, 1, 'exit code 1: some files failed, nothing crashed');
  const saved = new Map(events.filter((e) => e.event === 'saved').map((e) => [e.filename, e]));
  const failed = new Map(events.filter((e) => e.event === 'failed').map((e) => [e.filename, e]));
  t.ok(saved.has('good.png'), 'a normal attachment is saved (after the malformed first page was retried)');
  t.ok(saved.has('moved.png'), 'a redirect to the allowed origin is followed');
  t.ok(saved.has('unknown-type.png'), 'a message of an unknown type is still archived');
  t.ok(saved.has('../../../../escape.png'), 'a traversal filename is saved, sanitised');
  t.match(why(failed.get('evil.png')), /refusing.*not a Discord host/, 'a redirect to a foreign host is refused');
  t.same(evil.hits, [], 'the foreign host never received a request');
  t.match(why(failed.get('short.png')), /size|bytes/, 'a body shorter than the attachment size is rejected');
  t.notOk(saved.has('huge.png'), 'an absurd size (1e15) is never accepted');
  t.notOk(saved.has('file.png') || saved.has('js.png'), 'file: and javascript: URLs are not fetched');
  for (const e of saved.values()) t.notOk(relative(out, e.path ?? '').startsWith('..'), `inside --out: ${e.path}`);
  const files = await listFiles(out);
  t.equal(files.length, saved.size, 'one file per saved event, nothing else');
  t.same(
    files.filter((f) => f.endsWith('.dps-tmp')),
    [],
    'no temp files',
  );
  t.same(readdirSync(dir).sort(), ['out', 'progress.json', 'state'], 'nothing written beside --out but progress.json beside the state');
});

t.test('an unknown channel type is reported, not crashed on', async (t) => {
  const mini = await miniDiscord('http://127.0.0.1:9');
  t.teardown(() => close(mini.server));
  const dir = t.testdir();
  const base = {
    token: TOKEN,
    api: `${mini.origin}/api/v10`,
    guildId: GUILD,
    out: join(dir, 'out'),
    state: join(dir, 'state'),
    types: 'all',
    retries: 0,
    backoffMs: 5,
  };
  const outcome = await runLibrary({ ...base, channelIds: [ODD_CHANNEL] }).then(
    (run) => ({ code: run.result.exitCode as number | string, text: JSON.stringify(run.events) }),
    (error: { code?: string; message: string }) => ({ code: error.code ?? 'crash', text: error.message }),
  );
  t.ok(outcome.code === 0 || outcome.code === 'DPS_USAGE', `handled: ${String(outcome.code)} ${outcome.text.slice(0, 200)}`);
  const all = await runLibrary({ ...base, allChannels: true, channelIds: [] });
  t.equal(all.events.at(-1)?.event, 'summary', '--all-channels over a list with an unknown channel type completes');
});

t.test('junk entries (null, numbers) in the channel list do not crash the run', async (t) => {
  const mini = await miniDiscord('http://127.0.0.1:9', true);
  t.teardown(() => close(mini.server));
  const dir = t.testdir();
  const base = {
    token: TOKEN,
    api: `${mini.origin}/api/v10`,
    guildId: GUILD,
    out: join(dir, 'out'),
    state: join(dir, 'state'),
    types: 'all',
    retries: 0,
    backoffMs: 5,
  };
  for (const extra of [{ channelIds: [CHANNEL] }, { allChannels: true, channelIds: [] }]) {
    const outcome = await runLibrary({ ...base, ...extra }).then(
      (run) => run.events.at(-1)?.event,
      (error: Error) => error.message,
    );
    t.equal(outcome, 'summary', 'the run completes');
  }
});

t.test('a symlink planted where a channel folder goes is never written through', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 61, messages: 40, imageRatio: 0.5 }) });
  t.teardown(() => fake.close());
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channel.id), retries: 0, backoffMs: 5 };
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  mkdirSync(join(options.out, folderName(guild.name, guild.id)), { recursive: true });
  symlinkSync(outside, join(options.out, folderName(guild.name, guild.id), folderName(channel.name, channel.id)));
  const run = await runLibrary(options);
  t.equal(run.events.at(-1)?.event, 'summary', 'the run ends with a summary');
  t.same(readdirSync(outside), [], 'nothing was written through the symlink');
  const failed = run.events.filter((e) => e.event === 'failed') as unknown as Ev[];
  t.ok(failed.length > 0, 'the files are reported as failed');
  t.match(why(failed[0]), /symlink/, `with the reason: ${why(failed[0])}`);
  t.equal(run.events.filter((e) => e.event === 'saved').length, 0, 'nothing saved');
});

t.test('invalid flags and ids get one-line errors', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['unknown flag', ['--server-id', '1', '--channel-id', '2', '--bogus']],
    ['id that is not a number', ['--server-id', 'abc', '--channel-id', '2']],
    ['channel id with a path', ['--server-id', '1', '--channel-id', '../2']],
    ['concurrency 0', ['--server-id', '1', '--channel-id', '2', '--concurrency', '0']],
    ['bad size', ['--server-id', '1', '--channel-id', '2', '--max-size', 'lots']],
    ['bad date', ['--server-id', '1', '--channel-id', '2', '--after', 'yesterday-ish']],
    ['bad name pattern', ['--server-id', '1', '--channel-id', '2', '--name-pattern', '{nope}']],
  ];
  await Promise.all(
    cases.map(async ([name, args]) => {
      const result = await runCli([...args, '--out', '/nonexistent/out', '--state', '/nonexistent/state'], { env: { DISCORD_TOKEN: 'x'.repeat(30) } });
      t.equal(result.code, 2, `${name}: exit code 2`);
      t.equal(result.stderr.trim().split('\n').length, 1, `${name}: one line on stderr: ${result.stderr.trim()}`);
      t.equal(result.stdout, '', `${name}: nothing on stdout`);
    }),
  );
});
