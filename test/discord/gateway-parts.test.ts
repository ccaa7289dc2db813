// The parts of the Gateway client that need no socket: the bounded queue (one gap, flat memory, the sequence
// the state may resume from), dispatch mapping (this server only, removal is fatal), the session kept in the
// state (never a token, never the client's null when dps stops, never a sequence the consumer has not taken),
// the session-start wait (said once, until when, abortable), and the Gateway URL the token may go to.

import t from 'tap';
import { Level } from 'level';
import { mapDispatch, readyHasGuild } from '../../lib/discord/gateway-events.js';
import type { GatewayEvent } from '../../lib/discord/gateway-events.js';
import { GatewayQueue } from '../../lib/discord/gateway-queue.js';
import { SessionKeeper, validSession } from '../../lib/discord/gateway-session.js';
import type { SessionInfo } from '../../lib/discord/gateway-session.js';
import { checkGatewayUrl, StartGate } from '../../lib/discord/gateway-start.js';
import { hasCode } from '../../lib/errors.js';
import { openStore } from '../../lib/store/open.js';
import { ManualClock } from '../helpers/manual-clock.js';

const G = '100000000000000001';
const session = (sessionId: string, sequence: number): SessionInfo => ({
  sessionId,
  sequence,
  resumeURL: 'ws://127.0.0.1:1/resume',
  shardId: 0,
  shardCount: 1,
});

t.test('queue: events in order; past the limit one gap for every dropped event; then events again', async (t) => {
  const delivered: Array<[string, number]> = [];
  const q = new GatewayQueue<GatewayEvent | string>(
    3,
    (n) => `gap:${n}`,
    (s, seq) => delivered.push([s, seq]),
  );
  for (let i = 1; i <= 10; i++) q.push(`e${i}`, 'S', i);
  t.equal(q.length, 4, 'three events and one gap: memory bounded');
  t.equal(q.droppedTotal, 7);
  t.same([q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], ['e1', 'e2', 'e3', 'gap:7', undefined]);
  t.same(delivered.at(-1), ['S', 10], 'taking the gap lets the state resume past what it swallowed');
  q.push('e11', 'S', 11);
  t.equal(q.shift(), 'e11', 'after the gap, events flow again');
});

t.test('queue: memory stays flat over a million events through a slow consumer', async (t) => {
  const q = new GatewayQueue<string>(
    100,
    (n) => `gap:${n}`,
    () => undefined,
  );
  let gaps = 0;
  let longest = 0;
  for (let i = 0; i < 1_000_000; i++) {
    q.push('x', 'S', i);
    if (i % 7 === 0 && q.shift()?.startsWith('gap:')) gaps++;
    if (q.length > longest) longest = q.length;
  }
  t.equal(longest, 101, 'never more than the limit and one gap');
  t.ok(gaps > 0);
});

t.test('queue: an ignored dispatch counts as taken only once everything before it is', async (t) => {
  const delivered: number[] = [];
  const q = new GatewayQueue<string>(
    10,
    () => 'gap',
    (_s, seq) => delivered.push(seq),
  );
  q.skip('S', 1);
  t.same(delivered, [1], 'nothing queued: taken at once');
  q.push('a', 'S', 2);
  q.skip('S', 3);
  t.same(delivered, [1], 'not while "a" waits');
  q.shift();
  t.same(delivered, [1, 3], 'taking "a" covers the ignored one after it');
});

t.test('queue: ready() waits for an event and wake() ends the wait', async (t) => {
  const q = new GatewayQueue<string>(
    10,
    () => 'gap',
    () => undefined,
  );
  const waiting = q.ready();
  q.push('a', 'S', 1);
  await waiting;
  t.equal(q.shift(), 'a');
  const again = q.ready();
  q.wake();
  await again;
  t.equal(q.shift(), undefined);
});

t.test('mapping: only the followed server; threads and channels from GUILD_CREATE; deletes; removal is fatal', async (t) => {
  const msg = { id: '200', channel_id: '300', guild_id: G, attachments: [] };
  t.same(mapDispatch({ t: 'MESSAGE_CREATE', s: 1, d: msg }, G), [{ type: 'message', message: msg, update: false }]);
  t.same(mapDispatch({ t: 'MESSAGE_UPDATE', s: 1, d: { id: '200', channel_id: '300', guild_id: G } }, G)[0], {
    type: 'message',
    message: { id: '200', channel_id: '300', guild_id: G },
    update: true,
  });
  t.same(mapDispatch({ t: 'MESSAGE_CREATE', s: 1, d: { ...msg, guild_id: '999' } }, G), [], 'another server');
  t.same(mapDispatch({ t: 'MESSAGE_CREATE', s: 1, d: { ...msg, guild_id: undefined } }, G), [], 'a DM');
  t.same(mapDispatch({ t: 'MESSAGE_CREATE', s: 1, d: { ...msg, id: '../x' } }, G), [], 'a hostile id');
  t.same(mapDispatch({ t: 'THREAD_CREATE', s: 1, d: { id: '400', guild_id: G, parent_id: '300', type: 11 } }, G)[0], {
    type: 'channel',
    channel: { id: '400', guild_id: G, parent_id: '300', type: 11 },
    created: true,
  });
  t.same(mapDispatch({ t: 'CHANNEL_UPDATE', s: 1, d: { id: '300', guild_id: G } }, G)[0]?.type, 'channel');
  t.same(mapDispatch({ t: 'THREAD_DELETE', s: 1, d: { id: '400', guild_id: G, parent_id: '300', type: 11 } }, G), [
    { type: 'channel_gone', channel_id: '400', parent_id: '300' },
  ]);
  const created = mapDispatch({ t: 'GUILD_CREATE', s: 2, d: { id: G, channels: [{ id: '300', type: 0 }], threads: [{ id: '400', parent_id: '300' }] } }, G);
  t.same(
    created.map((e) => (e.type === 'channel' ? [e.channel.id, (e.channel as { guild_id?: string }).guild_id, e.created] : e)),
    [
      ['300', G, false],
      ['400', G, false],
    ],
  );
  t.same(mapDispatch({ t: 'THREAD_LIST_SYNC', s: 3, d: { guild_id: G, threads: [{ id: '401' }], members: [] } }, G).length, 1);
  t.same(mapDispatch({ t: 'GUILD_DELETE', s: 4, d: { id: G, unavailable: true } }, G), [], 'an outage is not a removal');
  t.same(mapDispatch({ t: 'GUILD_DELETE', s: 4, d: { id: '999' } }, G), [], 'another server');
  try {
    mapDispatch({ t: 'GUILD_DELETE', s: 4, d: { id: G } }, G);
    t.fail('removal must throw');
  } catch (error) {
    t.ok(hasCode(error, 'DPS_ACCESS'));
    t.match((error as Error).message, `the bot was removed from server ${G}`);
    t.equal((error as { exitCode: number }).exitCode, 4);
  }
  t.same(mapDispatch({ t: 'TYPING_START', s: 5, d: { guild_id: G } }, G), []);
  t.ok(readyHasGuild({ guilds: [{ id: G, unavailable: true }] }, G));
  t.notOk(readyHasGuild({ guilds: [{ id: '999', unavailable: true }] }, G));
});

t.test('session: only the fields the client needs are kept (no token can reach the state)', async (t) => {
  const stored = validSession({ ...session('S', 5), token: 'Bot secret', extra: 1 });
  t.same(stored, session('S', 5));
  t.equal(validSession({ ...session('S', 5), shardCount: 2 }), undefined, 'another shard layout is not resumed');
  t.equal(validSession({ ...session('S', -1) }), undefined);
  t.equal(validSession('garbage'), undefined);
});

t.test('session: a new session saved at once; a sequence once its event is taken; the null only while running', async (t) => {
  const saves: Array<SessionInfo | undefined> = [];
  const keeper = new SessionKeeper({ load: async () => undefined, save: async (info) => void saves.push(info) }, undefined, (e) => t.fail(String(e)));
  keeper.update(session('S', 1));
  await keeper.flushed();
  t.same(saves, [session('S', 1)], 'READY: saved');
  keeper.update(session('S', 9));
  await keeper.flushed();
  t.equal(saves.length, 1, 'a sequence the consumer has not taken is not saved');
  keeper.delivered('S', 4);
  await keeper.flushed();
  t.same(saves.at(-1), session('S', 4), 'the taken event is');
  keeper.delivered('OLD', 8);
  await keeper.flushed();
  t.equal(saves.length, 2, 'an event of another session moves nothing');
  keeper.update(null);
  await keeper.flushed();
  t.equal(saves.at(-1), undefined, 'a session the client forgets while running (op 9, a 1000 close) is forgotten');
  keeper.update(session('T', 1));
  keeper.delivered('T', 3);
  keeper.stop();
  keeper.update(null);
  await keeper.flushed();
  t.same(saves.at(-1), session('T', 1), 'the null write of stopping never reaches the state (sequence 1: 3 was never received)');
  t.same(keeper.current, null);
});

t.test('store: the gateway sublevel keeps a session per server across a reopen', async (t) => {
  const dir = t.testdir();
  let store = await openStore(dir);
  await store.saveGatewaySession(G, session('S', 7));
  await store.saveGatewaySession('2', session('X', 1));
  await store.saveGatewaySession('2', undefined);
  await store.close();
  store = await openStore(dir);
  t.same(await store.gatewaySession(G), session('S', 7));
  t.equal(await store.gatewaySession('2'), undefined);
  await store.close();
  const db = new Level(dir);
  let text = '';
  for await (const [key, value] of db.iterator()) text += `${key}=${value}\n`;
  await db.close();
  t.match(text, /gateway/, 'in its own sublevel');
});

t.test('start gate: no session start left: one line with the time, a wait of reset_after, abortable', async (t) => {
  const clock = new ManualClock();
  const lines: string[] = [];
  const answers = [
    { url: 'ws://127.0.0.1:9', shards: 1, session_start_limit: { total: 1000, remaining: 0, reset_after: 60_000, max_concurrency: 1 } },
    { url: 'ws://127.0.0.1:9', shards: 1, session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 } },
  ];
  let fetched = 0;
  const gate = new StartGate({ fetch: async () => answers[Math.min(fetched++, 1)], allowInsecure: false, clock, log: (l) => lines.push(l), spacingMs: 5_000 });
  let done = false;
  const waiting = gate.available(new AbortController().signal).then(() => {
    done = true;
  });
  await clock.advance(59_000);
  t.notOk(done, 'still waiting before reset_after');
  t.equal(lines.length, 1);
  t.match(lines[0], new Date(Date.parse('2026-12-06T03:00:00Z') + 60_000).toISOString());
  await clock.advance(1_000);
  await waiting;
  t.ok(done);
  fetched = 0;
  const abort = new AbortController();
  const aborted = gate.available(abort.signal);
  await clock.advance(1);
  abort.abort(new Error('stop'));
  await t.rejects(aborted, /stop/);
});

t.test('start gate: identifies are spaced', async (t) => {
  const clock = new ManualClock();
  const body = { url: 'wss://gateway.discord.gg', shards: 1, session_start_limit: { total: 1000, remaining: 5, reset_after: 0, max_concurrency: 1 } };
  const gate = new StartGate({ fetch: async () => body, allowInsecure: false, clock, log: () => undefined, spacingMs: 5_000 });
  await gate.waitForIdentify(0, new AbortController().signal);
  let second = false;
  const p = gate.waitForIdentify(0, new AbortController().signal).then(() => {
    second = true;
  });
  await clock.advance(4_999);
  t.notOk(second);
  await clock.advance(1);
  await p;
  t.ok(second);
});

t.test('the Gateway URL: wss anywhere, ws only to this machine', async (t) => {
  checkGatewayUrl('wss://gateway.discord.gg', false);
  checkGatewayUrl('ws://127.0.0.1:5000', false);
  checkGatewayUrl('ws://evil.example', true);
  t.throws(() => checkGatewayUrl('ws://evil.example', false), /refusing to send the token over ws to the Gateway at evil.example/);
  t.throws(() => checkGatewayUrl('http://x', false), { code: 'DPS_USAGE' });
  t.throws(() => checkGatewayUrl('not a url', false), { code: 'DPS_API' });
});
