// `dps follow`'s core (lib/follow.ts) through the library against the fake Discord, with a live source the test
// drives (the Gateway's events are the fake Gateway's business: test/discord/gateway*.test.ts): catch-up then
// live files, live messages racing the catch-up, a gap in the live events, a restart. Every file is archived once,
// byte-exact, announced once, and the cursor ends at the newest message.

import t from 'tap';
import type { Test } from 'tap';
import type { APIMessage } from 'discord-api-types/v10';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import type { FakeDiscord } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { follow, status } from '../lib/index.js';
import type { ArchiveResult, DpsEvent, LiveEvent } from '../lib/index.js';
import { pollEvents } from '../lib/follow-poll.js';
import { AsyncQueue } from '../lib/util/async-queue.js';
import { baseOptions, checkArchive } from './helpers/verify.js';
import { eventsOf } from './helpers/events.js';

// A follow run in this process: its events as they come, and a way to wait for a condition on them.
function startFollow(options: Parameters<typeof follow>[0]) {
  const events: DpsEvent[] = [];
  const logs: string[] = [];
  const waiters: Array<() => void> = [];
  const sink = (write: (chunk: string) => void) => {
    const stream = {
      write: (chunk: string) => {
        write(chunk);
        return true;
      },
      on: () => stream,
      once: () => stream,
      off: () => stream,
    };
    return stream as never;
  };
  const stdout = sink((chunk) => {
    for (const line of chunk.split('\n').filter(Boolean)) events.push(JSON.parse(line) as DpsEvent);
    for (const wake of waiters.splice(0)) wake();
  });
  const stderr = sink((chunk) => {
    logs.push(chunk);
    for (const wake of waiters.splice(0)) wake();
  });
  const controller = new AbortController();
  const done: Promise<ArchiveResult> = follow(options, { stdout, stderr, signal: controller.signal });
  done.catch(() => undefined);
  const until = async (what: string, test: () => boolean): Promise<void> => {
    while (!test()) {
      const woken = new Promise<void>((resolve) => waiters.push(resolve));
      const ended = await Promise.race([
        woken.then(() => false),
        done.then(
          () => true,
          () => true,
        ),
      ]);
      if (ended && !test()) throw new Error(`follow ended before ${what}: ${logs.join('')}`);
    }
  };
  return { events, logs, controller, done, until };
}

// The newest `count` messages of a channel as Discord renders them (what a MESSAGE_CREATE carries), oldest first.
async function newest(fake: FakeDiscord, channelId: string, count: number): Promise<APIMessage[]> {
  const response = await fetch(`${fake.api}/channels/${channelId}/messages?limit=${count}`, {
    headers: { Authorization: `Bot ${fake.token}`, 'User-Agent': 'DiscordBot (test, 1)' },
  });
  const page = (await response.json()) as APIMessage[];
  return page.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
}

function savedIds(events: DpsEvent[]): string[] {
  return eventsOf(events, 'saved').map((event) => event.attachment_id);
}

async function expectedCount(fake: FakeDiscord, channelId: string): Promise<number> {
  let count = 0;
  for (const _ of fake.expected({ channelId })) count++;
  return count;
}

// The channel's entry in `dps status` (read once the run has let go of the state).
async function channelStatus(state: string, channelId: string) {
  const report = await status(state);
  for (const server of Object.values(report.servers)) if (server.channels[channelId] !== undefined) return server.channels[channelId];
  return undefined;
}

async function cursorOf(state: string, channelId: string): Promise<string | null | undefined> {
  return (await channelStatus(state, channelId))?.last_message_id;
}

async function setup(t: Test) {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 300, imageRatio: 0.3 }) });
  t.teardown(() => fake.close());
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const dir = t.testdir();
  const live = new AsyncQueue<LiveEvent>();
  const options = { ...baseOptions(fake, dir, channelId), openLive: () => live };
  return { fake, channelId, live, options };
}

t.test('caught up from the cursor, then every live file as it comes; each once; the cursor at the newest', async (t) => {
  const { fake, channelId, live, options } = await setup(t);
  const run = startFollow(options);
  await live.push({ type: 'ready', resumed: false });
  const history = await expectedCount(fake, channelId);
  await run.until('the catch-up', () => savedIds(run.events).length === history);
  fake.appendMessages(channelId, 20, { imageRatio: 1 });
  for (const message of await newest(fake, channelId, 20)) await live.push({ type: 'message', message, update: false });
  const total = await expectedCount(fake, channelId);
  t.ok(total > history, 'the live messages brought files');
  await run.until('the live files', () => savedIds(run.events).length === total);
  run.controller.abort();
  const result = await run.done;
  t.equal(result.exitCode, 130, 'stopped by its signal: 130');
  t.equal(new Set(savedIds(run.events)).size, total, 'every file announced once');
  const check = await checkArchive(fake, options.out, options.state, channelId);
  t.same(check.missing, [], 'nothing missing');
  t.equal(check.exact, total, 'every file byte-exact');
  t.same(check.extraFiles, [], 'no file twice');
  t.equal(await cursorOf(options.state, channelId), (await newest(fake, channelId, 1))[0]!.id, 'the cursor at the newest message');
});

t.test('live messages racing the catch-up, then a gap in the live events, then a restart: nothing missed or repeated', async (t) => {
  const { fake, channelId, live, options } = await setup(t);
  const cdnBefore = fake.requests.filter((r) => r.kind === 'cdn').length;
  const run = startFollow(options);
  await live.push({ type: 'ready', resumed: false });
  // Posted while the catch-up starts: the walk may take them, the live events bring them too.
  fake.appendMessages(channelId, 15, { imageRatio: 1 });
  for (const message of await newest(fake, channelId, 15)) await live.push({ type: 'message', message, update: false });
  let total = await expectedCount(fake, channelId);
  await run.until('everything so far', () => new Set(savedIds(run.events)).size === total);
  // Posted while the events were lost: only the gap's catch-up can bring them.
  fake.appendMessages(channelId, 10, { imageRatio: 1 });
  await live.push({ type: 'gap', why: 'test' });
  total = await expectedCount(fake, channelId);
  await run.until('the missed files', () => new Set(savedIds(run.events)).size === total);
  run.controller.abort();
  await run.done;
  t.equal(savedIds(run.events).length, total, 'no file announced twice');
  const files = fake.requests.filter((r) => r.kind === 'cdn' && r.status === 200).length - cdnBefore;
  t.equal(files, total, 'no file downloaded twice');
  const newestId = (await newest(fake, channelId, 1))[0]!.id;
  t.equal(await cursorOf(options.state, channelId), newestId, 'the cursor at the newest message');

  // A restart: caught up again from the cursor, nothing new, nothing announced.
  const again = new AsyncQueue<LiveEvent>();
  const second = startFollow({ ...options, openLive: () => again });
  await again.push({ type: 'ready', resumed: true });
  await second.until('the catch-up', () => eventsOf(second.events, 'channel_done').length === 1);
  second.controller.abort();
  await second.done;
  t.same(savedIds(second.events), [], 'nothing announced again');
  t.equal(fake.requests.filter((r) => r.kind === 'cdn' && r.status === 200).length - cdnBefore, total, 'nothing downloaded again');
  const check = await checkArchive(fake, options.out, options.state, channelId);
  t.same(check.missing, []);
  t.same(check.extraFiles, []);
});

t.test('live messages finished before the catch-up are a span above the cursor; a restart skips it and ends at the newest', async (t) => {
  const { fake, channelId, live, options } = await setup(t);
  // The history's files wait at the CDN: the catch-up cannot end while the live messages are handled.
  fake.setOption({ cdnHoldAfter: 0 });
  const done = new Set<string>();
  const waiting = new Map<string, () => void>();
  const finished = (id: string) => (done.has(id) ? Promise.resolve() : new Promise<void>((resolve) => waiting.set(id, resolve)));
  const onLive = (_context: unknown, id: string) => {
    done.add(id);
    waiting.get(id)?.();
  };
  const run = startFollow({ ...options, onLive });
  await live.push({ type: 'ready', resumed: false });
  await run.until('the catch-up starts', () => run.logs.some((line) => line.includes('starting from the beginning'))); // followed
  fake.appendMessages(channelId, 5, { imageRatio: 0 });
  const liveMessages = await newest(fake, channelId, 5);
  for (const message of liveMessages) await live.push({ type: 'message', message, update: false });
  await finished(liveMessages[4]!.id);
  run.controller.abort();
  fake.releaseCdn();
  await run.done;
  const stopped = await channelStatus(options.state, channelId);
  t.same(stopped?.done_above, { from: liveMessages[0]!.id, to: liveMessages[4]!.id }, 'the live messages are a span above the cursor');
  t.ok(stopped?.last_message_id === null || BigInt(stopped!.last_message_id) < BigInt(liveMessages[0]!.id), 'the cursor is below them');

  fake.setOption({ cdnHoldAfter: Number.MAX_SAFE_INTEGER });
  const again = new AsyncQueue<LiveEvent>();
  const second = startFollow({ ...options, openLive: () => again });
  await again.push({ type: 'ready', resumed: false });
  await second.until('the catch-up', () => eventsOf(second.events, 'channel_done').length === 1);
  second.controller.abort();
  await second.done;
  t.equal(await cursorOf(options.state, channelId), liveMessages[4]!.id, 'the walk met the span: the cursor at the newest');
  const check = await checkArchive(fake, options.out, options.state, channelId);
  t.same(check.missing, [], 'nothing missing');
  t.same(check.extraFiles, []);
});

t.test('partial and odd live messages (an update with only embeds, no author, no timestamp) never stop the run', async (t) => {
  const { fake, channelId, live, options } = await setup(t);
  const run = startFollow(options);
  await live.push({ type: 'ready', resumed: false });
  const history = await expectedCount(fake, channelId);
  await run.until('the catch-up', () => savedIds(run.events).length === history);
  const [old] = await newest(fake, channelId, 1);
  const guildId = fake.scenario.guilds[0]!.id;
  const partial = { id: old!.id, channel_id: channelId, guild_id: guildId, embeds: [] } as unknown as APIMessage;
  await live.push({ type: 'message', message: partial, update: true });
  await live.push({ type: 'message', message: { id: old!.id, channel_id: channelId } as unknown as APIMessage, update: true });
  fake.appendMessages(channelId, 3, { imageRatio: 1 });
  for (const message of await newest(fake, channelId, 3)) await live.push({ type: 'message', message, update: false });
  const total = await expectedCount(fake, channelId);
  await run.until('the files after them', () => savedIds(run.events).length === total);
  run.controller.abort();
  t.equal((await run.done).exitCode, 130);
});

t.test('polling (user tokens): ready at once, then a look every interval, until stopped', async (t) => {
  const controller = new AbortController();
  const waits: number[] = [];
  let tick!: () => void;
  const wait = (ms: number) => {
    waits.push(ms);
    return new Promise<void>((resolve) => {
      tick = resolve;
    });
  };
  const events = pollEvents(60_000, controller.signal, wait);
  t.same((await events.next()).value, { type: 'ready', resumed: false });
  const next = events.next();
  tick();
  t.same((await next).value, { type: 'gap', why: 'poll' });
  t.same(waits, [60_000]);
  const last = events.next();
  controller.abort();
  tick();
  t.same(await last, { value: undefined, done: true }, 'stopped');
});
