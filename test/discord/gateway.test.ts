// The Gateway client against the fake's Gateway (a real WebSocket on loopback, small heartbeat intervals from
// its HELLO): a new session first, live messages, every way a connection ends (drop, op 7, op 9, zombie) ending
// in a resume or a new session as Discord documents, the fatal ones as one-line errors with their exit codes,
// a restart resuming the saved session, the session-start limit waited out, and a slow consumer getting one gap.

import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord, FakeOptions } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { openGateway, STOP_CLOSE_CODE } from '../../lib/discord/gateway.js';
import type { GatewayConnection, GatewayEvent, GatewayOptions, SessionInfo } from '../../lib/discord/gateway.js';
import { AbortedError, hasCode } from '../../lib/errors.js';
import { ManualClock } from '../helpers/manual-clock.js';

interface Open {
  fake: FakeDiscord;
  guildId: string;
  channelId: string;
  gw: GatewayConnection;
  events: GatewayEvent[]; // every event read so far
  lines: string[]; // log and debug lines
  saved: { value: SessionInfo | undefined };
  abort: AbortController;
  // Reads events until one matches (returns it), failing the test if the iterator ends first.
  until: (match: (e: GatewayEvent) => boolean) => Promise<GatewayEvent>;
}

async function fakeFor(t: Test, opts: FakeOptions = {}): Promise<FakeDiscord> {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ messages: 3 }),
    ...opts,
    gateway: { heartbeatIntervalMs: 40, identifyIntervalMs: 0, ...opts.gateway },
  });
  t.teardown(() => fake.close());
  return fake;
}

function open(t: Test, fake: FakeDiscord, extra: Partial<GatewayOptions> & { saved?: { value: SessionInfo | undefined } } = {}): Open {
  const guild = fake.scenario.guilds[0];
  const guildId = guild?.id ?? '';
  const channelId = guild?.channels.find((c) => c.type === 0)?.id ?? '';
  const saved = extra.saved ?? { value: undefined };
  const lines: string[] = [];
  const abort = new AbortController();
  const gw = openGateway({
    token: fake.token,
    apiUrl: fake.api,
    guildId,
    signal: abort.signal,
    session: {
      load: async () => saved.value,
      save: async (info) => {
        saved.value = info;
      },
    },
    log: (line) => lines.push(line),
    debug: (line) => lines.push(line),
    identifySpacingMs: 0,
    ...extra,
  });
  t.teardown(() => gw.close());
  const events: GatewayEvent[] = [];
  const iterator = gw[Symbol.asyncIterator]();
  const until = async (match: (e: GatewayEvent) => boolean): Promise<GatewayEvent> => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) throw new Error(`the gateway ended; events: ${JSON.stringify(events.map((e) => e.type))}`);
      events.push(next.value);
      if (match(next.value)) return next.value;
    }
  };
  return { fake, guildId, channelId, gw, events, lines, saved, abort, until };
}

const isReady = (resumed: boolean) => (e: GatewayEvent) => e.type === 'ready' && e.resumed === resumed;
const isMessage = (id: string) => (e: GatewayEvent) => e.type === 'message' && e.message.id === id;
const messagesOf = (events: GatewayEvent[], id: string) => events.filter(isMessage(id)).length;

t.test('first connect: ready (new session) first, the channels from GUILD_CREATE, then a posted message', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  const first = await g.until(() => true);
  t.same(first, { type: 'ready', resumed: false }, 'the first event is a new session');
  const channel = await g.until((e) => e.type === 'channel');
  t.match(channel, { type: 'channel', created: false, channel: { id: g.channelId, guild_id: g.guildId } });
  const posted = fake.postMessage(g.channelId, { attachments: 2 });
  const event = await g.until(isMessage(posted.id));
  t.match(event, { type: 'message', update: false, message: { id: posted.id, channel_id: g.channelId, guild_id: g.guildId } });
  t.equal(event.type === 'message' ? event.message.attachments.length : 0, 2, 'with its attachments (MESSAGE_CONTENT requested)');
  const identify = fake.gateway.connections[0]?.frames.find((f) => f.dir === 'in' && f.op === 2);
  t.equal((identify?.d as { intents?: number } | undefined)?.intents, 1 | 512 | 32768, 'GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT');
  t.equal(g.saved.value?.sessionId, fake.gateway.sessions.byId.keys().next().value, 'the session is saved for a restart');
});

t.test('a dropped connection resumes: the message posted meanwhile is replayed once, then ready resumed', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  await g.until(isReady(false));
  fake.gateway.drop();
  const posted = fake.postMessage(g.channelId, { attachments: 1 });
  await g.until(isReady(true));
  t.equal(messagesOf(g.events, posted.id), 1, 'replayed before RESUMED, once');
  const after = fake.postMessage(g.channelId, { attachments: 1 });
  await g.until(isMessage(after.id));
  t.equal(fake.gateway.stats.identifies, 1, 'no second session');
  t.equal(fake.gateway.stats.resumes, 1);
  t.equal(g.events.filter((e) => e.type === 'gap').length, 0, 'no gap');
  t.equal(g.gw.stats.closes, 1);
});

t.test('op 7 RECONNECT: resumed on resume_gateway_url', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  await g.until(isReady(false));
  fake.gateway.reconnect();
  await g.until(isReady(true));
  const resumed = fake.gateway.connections.at(-1);
  t.equal(resumed?.path, '/resume-gateway', 'the new connection went to resume_gateway_url');
  t.ok(
    resumed?.frames.some((f) => f.dir === 'in' && f.op === 6),
    'with RESUME, not IDENTIFY',
  );
  t.equal(fake.gateway.stats.identifies, 1);
});

t.test('op 9 (not resumable): a new session, announced as ready resumed false', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  await g.until(isReady(false));
  const firstSession = g.saved.value?.sessionId;
  fake.gateway.invalidate(false);
  await g.until(isReady(false));
  t.equal(fake.gateway.stats.identifies, 2);
  t.not(g.saved.value?.sessionId, firstSession, 'the new session replaces the dead one in the state');
});

t.test('a refused RESUME (op 9 false after a drop): a new session', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  await g.until(isReady(false));
  fake.gateway.refuseResume(1);
  fake.gateway.drop();
  await g.until(isReady(false));
  t.equal(fake.gateway.stats.identifies, 2);
});

t.test('a zombie connection (no heartbeat ACK) is closed, not 1000, and resumed with the held events', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  await g.until(isReady(false));
  const zombie = fake.gateway.connections.at(-1);
  fake.gateway.stopAcks({ holdEvents: true });
  const posted = fake.postMessage(g.channelId, { attachments: 1 });
  await g.until(isMessage(posted.id));
  await g.until(isReady(true));
  t.equal(zombie?.closedBy, 'client');
  t.not(zombie?.closeCode, 1000, 'a zombie is closed with a code that keeps the session');
  t.equal(fake.gateway.stats.identifies, 1);
  t.equal(messagesOf(g.events, posted.id), 1);
});

t.test('close code 4004 (token refused): an AuthError, exit 3, one line, no token', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  await g.until(isReady(false));
  fake.gateway.close(4004, 'Authentication failed.');
  const error = await g.until(() => false).catch((e: unknown) => e);
  t.ok(hasCode(error, 'DPS_AUTH'), String(error));
  t.equal((error as { exitCode: number }).exitCode, 3);
  t.match((error as Error).message, /close code 4004/);
  t.notMatch((error as Error).message, fake.token);
  t.notMatch((error as Error).message, /\n/);
});

t.test('close code 4014 (Message Content not enabled): exit 3 with where to enable it', async (t) => {
  const fake = await fakeFor(t, { messageContentIntent: false });
  const g = open(t, fake);
  const error = await g.until(() => false).catch((e: unknown) => e);
  t.ok(hasCode(error, 'DPS_AUTH'), String(error));
  t.equal((error as { exitCode: number }).exitCode, 3);
  t.match((error as Error).message, /4014.*Developer Portal.*Bot > Privileged Gateway Intents > Message Content Intent/);
});

t.test('the bot removed from the server: an AccessError, exit 4', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  await g.until(isReady(false));
  fake.guildOutage(g.guildId, true);
  fake.guildOutage(g.guildId, false);
  await g.until((e) => e.type === 'channel');
  fake.kick(g.guildId);
  const error = await g.until(() => false).catch((e: unknown) => e);
  t.ok(hasCode(error, 'DPS_ACCESS'), String(error));
  t.equal((error as { exitCode: number }).exitCode, 4);
  t.match((error as Error).message, `the bot was removed from server ${g.guildId}`);
});

t.test('restart: the saved session is resumed, the messages posted while dps was down are replayed', async (t) => {
  const fake = await fakeFor(t);
  const saved = { value: undefined as SessionInfo | undefined };
  const first = open(t, fake, { saved });
  await first.until(isReady(false));
  const before = fake.postMessage(first.channelId, { attachments: 1 });
  await first.until(isMessage(before.id));
  await first.gw.close();
  const stopped = fake.gateway.connections.at(-1);
  await fake.gateway.until(() => stopped?.state === 'closed');
  t.equal(stopped?.closeCode, STOP_CLOSE_CODE, 'dps closes with a code that keeps the session (not 1000/1001)');
  t.ok(saved.value, 'the session survived the client forgetting it when it stopped');
  t.notMatch(JSON.stringify(saved.value), fake.token, 'no token in the state');
  const whileDown = fake.postMessage(first.channelId, { attachments: 1 });
  const second = open(t, fake, { saved });
  await second.until(isReady(true));
  t.equal(messagesOf(second.events, whileDown.id), 1, 'replayed');
  t.equal(messagesOf(second.events, before.id), 0, 'what the first run took is not replayed');
  t.equal(fake.gateway.stats.identifies, 1, 'no new session');
});

t.test('restart with an expired session: a new session (op 9), ready resumed false', async (t) => {
  const fake = await fakeFor(t);
  const saved = { value: { sessionId: 'gone', sequence: 3, resumeURL: fake.gateway.resumeUrl, shardId: 0, shardCount: 1 } as SessionInfo | undefined };
  const g = open(t, fake, { saved });
  await g.until(isReady(false));
  t.not(saved.value?.sessionId, 'gone');
});

t.test('no session start left: one line saying until when, a wait of reset_after, then a session', async (t) => {
  const clock = new ManualClock(Date.now());
  const fake = await fakeFor(t, { gateway: { clock: () => clock.now(), sessionStartLimit: { total: 10, remaining: 0, resetAfterMs: 60_000 } } });
  const g = open(t, fake, { clock });
  const ready = g.until(isReady(false));
  while (!g.lines.some((l) => l.includes('no session starts left'))) await new Promise((r) => setImmediate(r));
  t.equal(fake.gateway.stats.connections, 0, 'nothing connects while waiting');
  t.match(
    g.lines.find((l) => l.includes('no session starts left')),
    new Date(clock.now() + 60_000).toISOString(),
  );
  await clock.advance(60_000);
  await ready;
  t.equal(fake.gateway.stats.identifies, 1);
});

t.test('no session start left: the wait ends on abort', async (t) => {
  const fake = await fakeFor(t, { gateway: { sessionStartLimit: { total: 10, remaining: 0, resetAfterMs: 3_600_000 } } });
  const g = open(t, fake);
  while (!g.lines.some((l) => l.includes('no session starts left'))) await new Promise((r) => setImmediate(r));
  g.abort.abort();
  const error = await g.until(() => false).catch((e: unknown) => e);
  t.ok(error instanceof AbortedError, String(error));
});

t.test('a slow consumer: events past maxBuffered are dropped into one gap, then events flow again', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake, { maxBuffered: 5 });
  await g.until(isReady(false));
  await g.until((e) => e.type === 'channel');
  const posted = Array.from({ length: 20 }, () => fake.postMessage(g.channelId, { attachments: 1 }));
  while (g.gw.stats.dropped < 15) await new Promise((r) => setImmediate(r));
  const got: GatewayEvent[] = [];
  for (let i = 0; i < 6; i++) got.push(await g.until(() => true));
  t.same(
    got.map((e) => (e.type === 'message' ? e.message.id : e.type)),
    [...posted.slice(0, 5).map((p) => p.id), 'gap'],
  );
  t.match(got[5], { type: 'gap', why: /15 Gateway events dropped/ });
  const after = fake.postMessage(g.channelId, { attachments: 1 });
  await g.until(isMessage(after.id));
});

t.test('abort: the iterator throws AbortedError; the connection is closed keeping the session; no token anywhere', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  await g.until(isReady(false));
  fake.gateway.drop();
  await g.until(isReady(true));
  g.abort.abort();
  const error = await g.until(() => false).catch((e: unknown) => e);
  t.ok(error instanceof AbortedError, String(error));
  await g.gw.close();
  const last = fake.gateway.connections.at(-1);
  await fake.gateway.until(() => last?.state === 'closed');
  t.equal(last?.closeCode, STOP_CLOSE_CODE);
  t.equal(fake.gateway.sessions.byId.size, 1, 'the session lives on for the next run');
  t.ok(g.lines.length > 0);
  t.notOk(
    g.lines.some((l) => l.includes(fake.token)),
    'no log or debug line holds the token',
  );
});

t.test('closed while @discordjs/ws pauses between two connections: it never opens another', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake);
  await g.until(isReady(false));
  fake.gateway.drop();
  while (g.gw.stats.closes === 0) await new Promise((r) => setImmediate(r)); // the client saw it: its 500 ms pause
  await g.gw.close();
  while (!g.lines.some((l) => l.includes('reconnect after dps stopped is held'))) await new Promise((r) => setImmediate(r));
  t.equal(fake.gateway.connections.length, 1, 'no second connection');
  t.equal(fake.gateway.sessions.byId.size, 1, 'the session lives on');
});

t.test('a server the bot is not in (not in READY): an AccessError, exit 4', async (t) => {
  const fake = await fakeFor(t);
  const g = open(t, fake, { guildId: '100000000000000009' });
  const error = await g.until(() => false).catch((e: unknown) => e);
  t.ok(hasCode(error, 'DPS_ACCESS'), String(error));
  t.match((error as Error).message, 'the bot is not a member of server 100000000000000009');
});

t.test('the last session start used: a later new session (op 9) waits for reset_after instead of identifying', async (t) => {
  const clock = new ManualClock(Date.now());
  const fake = await fakeFor(t, { gateway: { clock: () => clock.now(), sessionStartLimit: { total: 1, remaining: 1, resetAfterMs: 600_000 } } });
  const g = open(t, fake, { clock });
  await g.until(isReady(false));
  fake.gateway.invalidate(false);
  while (!g.lines.some((l) => l.includes('no session starts left'))) await new Promise((r) => setImmediate(r));
  t.equal(fake.gateway.stats.identifies, 1, 'no identify over the limit (Discord would reset the token)');
  const again = g.until(isReady(false));
  await clock.advance(600_000);
  await again;
  t.equal(fake.gateway.stats.identifies, 2);
});
