// The fake Discord in its own process, so its CPU time (JSON pages, CDN bytes) is not charged to the tool being
// measured. Started with child_process.fork(dist/bench/fake-process.js, [JSON spec]); prints one JSON line
// {url, api, token, guild_id, channel_ids} on stdout, then answers IPC messages:
//   {type:'stats', since?: ms, reset?: boolean} -> {type:'stats', stats, api, history, cdn, historyTimes?}
//   {type:'expected'} -> {type:'expected', files: [{attachment_id, size, sha256}]} (every file the fake serves)
// and, for the follow scenario (issue 24), requests carrying a `req` number that the reply repeats (FakeHandle.request):
//   {type:'post', req, channelId, attachments?, size?} -> {type:'posted', req, at, id, files} (a live message: in the
//     history and a MESSAGE_CREATE at once; `at` is the fake's Date.now() when it was posted)
//   {type:'thread', req, parentId} -> {type:'thread', req, at, threadId} (a new thread: THREAD_CREATE)
//   {type:'cdn', req} -> {type:'cdn', req, downloads, gateway} (successful CDN responses per attachment id; the
//     gateway's counters). The fake's gateway takes its options from `options.gateway` (FakeOptions).

import { startFakeDiscord, type FakeOptions } from '../fixtures/fake-discord.js';
import { buildScenario, singleChannel } from '../fixtures/scenarios.js';
import type { MessageSpec } from '../fixtures/model.js';
import type { Scenario } from '../fixtures/model.js';
import { mixedSize } from './sizes.js';
import type { PostOptions } from '../fixtures/fake-live.js';

// What a benchmark asks the fake to serve.
export type FakeSpec =
  | { kind: 'channel'; messages: number; imageRatio: number; sizes?: [number, number]; seed?: number }
  // `messages`: every channel's count, or one count per channel in the server's order (a power-law server)
  | { kind: 'server'; channels: number; messages: number | number[]; imageRatio: number; sizes?: [number, number]; seed?: number }
  | { kind: 'downloads'; images: number; seed?: number };

export interface FakeProcessSpec {
  scenario: FakeSpec;
  // cdnConcurrencyLimit: CDN requests beyond this many in flight answered 429 with Retry-After (a fake option
  // added with issue 22; a fake without it serves them all, which the cdn scenario reports)
  options?: Omit<FakeOptions, 'scenario'> & { cdnConcurrencyLimit?: number };
  keepTimes?: boolean; // return [at, status] of every history request (realistic-limits scenario)
}

const HISTORY = 'GET /channels/:id/messages';

function scenarioOf(spec: FakeSpec): Scenario {
  const seed = spec.seed ?? 7;
  if (spec.kind === 'channel') {
    return singleChannel({ seed, messages: spec.messages, imageRatio: spec.imageRatio, sizes: spec.sizes ?? [2_000, 40_000], gapRate: 0, mentionRate: 0 });
  }
  if (spec.kind === 'server') {
    const channels = Array.from({ length: spec.channels }, (_, i) => ({
      name: `channel-${i + 1}`,
      messages: Array.isArray(spec.messages) ? (spec.messages[i] ?? 0) : spec.messages,
      imageRatio: spec.imageRatio,
      sizes: spec.sizes ?? [2_000, 40_000],
      gapRate: 0,
      mentionRate: 0,
    }));
    return buildScenario({ seed, guilds: [{ name: 'Bench Server', channels }] });
  }
  const overrides: Record<number, MessageSpec> = {};
  for (let i = 0; i < spec.images; i++) {
    overrides[i] = {
      content: `photo ${i}`,
      attachments: [{ filename: `IMG_${i}.jpg`, contentType: 'image/jpeg', size: mixedSize(i), width: 1920, height: 1080 }],
    };
  }
  return singleChannel({ seed, messages: spec.images, imageRatio: 0, gapRate: 0, mentionRate: 0, overrides });
}

const spec = JSON.parse(process.argv[2] ?? '{}') as FakeProcessSpec;
const fake = await startFakeDiscord({ ...(spec.options ?? {}), scenario: scenarioOf(spec.scenario) });
const guild = fake.scenario.guilds[0];
const channelIds = (guild?.channels ?? []).filter((c) => c.gen && !c.thread).map((c) => c.id);
process.stdout.write(`${JSON.stringify({ url: fake.url, api: fake.api, token: fake.token, guild_id: guild?.id, channel_ids: channelIds })}\n`);

const count = (into: Record<string, number>, key: string): void => {
  into[key] = (into[key] ?? 0) + 1;
};

process.on('message', (message: { type: string; since?: number; reset?: boolean }) => {
  if (message.type === 'expected') {
    const files = [...fake.expected()].map((f) => ({ attachment_id: f.attachment_id, size: f.size, sha256: f.sha256 }));
    process.send?.({ type: 'expected', files });
    return;
  }
  if (message.type !== 'stats') return;
  const api: Record<string, number> = {};
  const history: Record<string, number> = {};
  const cdn: Record<string, number> = {};
  const historyTimes: Array<[number, number]> = [];
  for (const entry of fake.requests) {
    if (message.since !== undefined && entry.at < message.since) continue;
    if (entry.kind === 'cdn') count(cdn, String(entry.status));
    else count(api, String(entry.status));
    if (entry.route === HISTORY) {
      count(history, String(entry.status));
      if (spec.keepTimes) historyTimes.push([entry.at, entry.status]);
    }
  }
  process.send?.({ type: 'stats', stats: { ...fake.stats }, api, history, cdn, historyTimes });
  if (message.reset) fake.resetLog();
});

// Live changes and the CDN log, for the follow scenario: every answer carries the request's `req`.
type LiveRequest =
  | { type: 'post'; req: number; channelId: string; attachments?: number; size?: number }
  | { type: 'thread'; req: number; parentId: string }
  | { type: 'cdn'; req: number };
const CDN_ATTACHMENT = /^(?:\/media)?\/attachments\/[^/]+\/([^/]+)\//;
process.on('message', (message: LiveRequest) => {
  if (message.type === 'post') {
    const options: PostOptions = { attachments: message.attachments ?? 1 };
    if (message.size !== undefined) options.size = message.size;
    const at = Date.now();
    const posted = fake.postMessage(message.channelId, options);
    const files = posted.files.map((f) => ({ attachment_id: f.attachment_id, size: f.size, sha256: f.sha256 }));
    process.send?.({ type: 'posted', req: message.req, at, id: posted.id, files });
  } else if (message.type === 'thread') {
    const at = Date.now();
    const threadId = fake.createThread(message.parentId);
    process.send?.({ type: 'thread', req: message.req, at, threadId });
  } else if (message.type === 'cdn') {
    const downloads: Record<string, number> = {};
    for (const entry of fake.requests) {
      if (entry.kind !== 'cdn' || entry.status !== 200) continue;
      const id = CDN_ATTACHMENT.exec(entry.path)?.[1];
      if (id !== undefined) count(downloads, id);
    }
    process.send?.({ type: 'cdn', req: message.req, downloads, gateway: { ...fake.gateway.stats } });
  }
});

const stop = (): void => void fake.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.on('disconnect', () => {
  process.stderr.write('[fake] the bench closed the IPC channel\n');
  stop();
});
