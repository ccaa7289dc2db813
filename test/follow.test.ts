// `dps follow`'s core (lib/follow.ts) through the library against the fake Discord, with a live source the test
// drives (the Gateway's events are the fake Gateway's business: test/discord/gateway*.test.ts): catch-up then
// live files, live messages racing the catch-up, a gap in the live events, a restart. Every file is archived once,
// byte-exact, announced once, and the cursor ends at the newest message.

import t from 'tap';
import { cp, rm } from 'node:fs/promises';
import type { Test } from 'tap';
import type { APIMessage } from 'discord-api-types/v10';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import type { FakeDiscord } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { follow, manifest, status } from '../lib/index.js';
import type { ArchiveResult, AttachmentRecord, DpsEvent, LiveEvent } from '../lib/index.js';
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

// A kill -9 image of a run's state (issue 24, the random kill attack): a copy of the state's files taken while the
// run goes on, once `ready` says it holds what is wanted. The run is then left hanging (its CDN response held) and
// the copy is what the next run starts from, as after a kill -9 (the files in --out are the run's own).
async function crashImage(state: string, into: string, ready: (records: AttachmentRecord[]) => boolean): Promise<void> {
  for (;;) {
    await rm(into, { recursive: true, force: true });
    await cp(state, into, { recursive: true });
    const records: AttachmentRecord[] = [];
    const readable = await (async () => {
      for await (const record of manifest(into)) records.push(record);
    })().then(
      () => true,
      () => false,
    );
    if (readable && ready(records)) return;
    await new Promise((resolve) => setTimeout(resolve, 20)); // the run's next write
  }
}

t.test('a killed run wrote one file of a live message, no event: the restart, its events replayed (RESUME), announces every file once', async (t) => {
  // The fake holds every CDN response after the history's files and one more (its files counted first).
  const scenario = () => singleChannel({ messages: 300, imageRatio: 0.3 });
  const counting = await startFakeDiscord({ scenario: scenario() });
  const historyFiles = [...counting.expected({})].length;
  await counting.close();
  const fake = await startFakeDiscord({ scenario: scenario(), cdnHoldAfter: historyFiles + 1 });
  t.teardown(() => fake.close());
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const live = new AsyncQueue<LiveEvent>();
  const options = { ...baseOptions(fake, t.testdir(), channelId), openLive: () => live };
  const first = startFollow(options);
  await live.push({ type: 'ready', resumed: false });
  await first.until('the catch-up', () => eventsOf(first.events, 'channel_done').length === 1);
  // A message with two files: the first file served is written (and recorded), the other's response is held, so
  // the message's events (printed once its last file is in) never come out.
  const posted = fake.postMessage(channelId, { attachments: 2 });
  const [message] = await newest(fake, channelId, 1);
  t.equal(message!.id, posted.id);
  await live.push({ type: 'message', message: message!, update: false });
  const ids = new Set(posted.files.map((file) => file.attachment_id));
  const state = `${options.state}-at-kill`;
  await crashImage(options.state, state, (records) => records.some((r) => ids.has(r.attachment_id) && r.status === 'saved'));
  const announcedByFirst = savedIds(first.events); // what the killed run printed
  t.notOk(
    announcedByFirst.some((id) => ids.has(id)),
    'the killed run announced none of the message’s files',
  );

  // The restart: the resumed session replays the message while the catch-up walks from the cursor below it.
  first.controller.abort(); // the killed run ends (its files and state are not used again)
  await first.done;
  fake.releaseCdn();
  const again = new AsyncQueue<LiveEvent>();
  let liveDone = false; // the live events finished the replayed message
  const second = startFollow({
    ...options,
    state,
    openLive: () => again,
    onLive: (_context, id) => {
      if (id === posted.id) liveDone = true;
    },
  });
  await again.push({ type: 'ready', resumed: true });
  // Once the channel is followed (its catch-up starting: a page request away from the message), the replay.
  await second.until('the catch-up starts', () => second.logs.some((line) => line.includes('resuming after message')));
  await again.push({ type: 'message', message: message!, update: false });
  const total = await expectedCount(fake, channelId);
  await second.until('the catch-up', () => eventsOf(second.events, 'channel_done').length === 1);
  await second.until('the replayed message', () => liveDone);
  second.controller.abort();
  await second.done;
  const announced = [...announcedByFirst, ...savedIds(second.events)];
  t.same(
    posted.files.map((file) => announced.filter((id) => id === file.attachment_id).length),
    [1, 1],
    'each file of the message announced once across the runs',
  );
  t.equal(announced.length, total, 'every file announced, none twice');
  const downloads = fake.requests.filter((r) => r.kind === 'cdn' && r.status === 200).length;
  t.equal(downloads, total, 'no file downloaded twice');
  const check = await checkArchive(fake, options.out, state, channelId);
  t.same(check.missing, [], 'every file on disk');
  t.same(check.extraFiles, [], 'no file twice');
  t.equal(await cursorOf(state, channelId), posted.id, 'the cursor at the message');
});
