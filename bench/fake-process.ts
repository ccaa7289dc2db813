// The fake Discord in its own process, so its CPU time (JSON pages, CDN bytes) is not charged to the tool being
// measured. Started with child_process.fork(dist/bench/fake-process.js, [JSON spec]); prints one JSON line
// {url, api, token, guild_id, channel_ids} on stdout, then answers IPC messages:
//   {type:'stats', since?: ms, reset?: boolean} -> {type:'stats', stats, api, history, cdn, historyTimes?}
//   {type:'expected'} -> {type:'expected', files: [{attachment_id, size, sha256}]} (every file the fake serves)

import { startFakeDiscord, type FakeOptions } from '../fixtures/fake-discord.js';
import { buildScenario, singleChannel } from '../fixtures/scenarios.js';
import type { MessageSpec } from '../fixtures/model.js';
import type { Scenario } from '../fixtures/model.js';
import { mixedSize } from './sizes.js';

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

const stop = (): void => void fake.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.on('disconnect', stop);
