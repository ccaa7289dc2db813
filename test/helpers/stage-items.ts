// What the stage tests under test/stages/ share: a fake Discord on 127.0.0.1 with one channel, its files as
// MediaItems (signed CDN links read from the fake's own history page, through flatten), and a real LevelDB
// state and an output folder in the test's directory.

import { join } from 'node:path';
import type { Test } from 'tap';
import type { APIMessage } from 'discord-api-types/v10';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord, FakeOptions } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import type { SingleChannelOptions } from '../../fixtures/scenarios.js';
import { DiskThread } from '../../lib/fs/disk-thread.js';
import { flatten } from '../../lib/stages/flatten.js';
import { openStore } from '../../lib/store/open.js';
import type { Store } from '../../lib/store/store.js';
import type { ChannelContext, ChannelPage, MediaItem } from '../../lib/types.js';
import { KeyedLock } from '../../lib/util/keyed-lock.js';

export interface StageWorld {
  fake: FakeDiscord;
  context: ChannelContext;
  items: MediaItem[]; // oldest message first
  store: Store;
  out: string;
  locks: KeyedLock;
  disk: DiskThread; // the run's writer (started with the first file, closed at the end of the test)
}

// A channel of `messages` messages with one image each (unless `channel` says otherwise), read as MediaItems.
export async function stageWorld(t: Test, channel: SingleChannelOptions = {}, fakeOptions: Omit<FakeOptions, 'scenario'> = {}): Promise<StageWorld> {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 3, messages: 6, gapRate: 0, imageRatio: 1, sizes: [500, 3_000], ...channel }),
    ...fakeOptions,
  });
  t.teardown(async () => {
    fake.releaseCdn();
    await fake.close();
  });
  const guild = fake.scenario.guilds[0]!;
  const target = guild.channels[0]!;
  const context: ChannelContext = { guild_id: guild.id, guild_name: guild.name, channel_id: target.id, channel_name: target.name };
  const response = await fetch(`${fake.api}/channels/${target.id}/messages?limit=100`, {
    headers: { authorization: `Bot ${fake.token}`, 'user-agent': 'DiscordBot (https://github.com/discord-photo-scraper, 0.1.0) test' },
  });
  const messages = ((await response.json()) as APIMessage[]).reverse();
  const items: MediaItem[] = [];
  const page: ChannelPage = { kind: 'page', context, messages };
  for (const unit of flatten()(page).values) if (unit.kind === 'item') items.push(unit);
  const dir = t.testdir();
  const store = await openStore(join(dir, 'state'));
  t.teardown(() => store.close());
  return { fake, context, items, store, out: join(dir, 'out'), locks: new KeyedLock(), disk: diskFor(t) };
}

// A MediaItem with no CDN behind it (for the stages that never download).
export function localItem(context: ChannelContext, id: string, over: Partial<MediaItem> = {}): MediaItem {
  return {
    kind: 'item',
    context,
    message_id: `9${id}`,
    timestamp: '2024-01-01T00:00:00.000Z',
    author_id: undefined,
    author_name: undefined,
    message: { edited_timestamp: null, author_display_name: undefined, author_bot: false, content: '' },
    attachment_id: id,
    filename: `${id}.png`,
    size: 3,
    content_type: 'image/png',
    url: `https://cdn.discordapp.com/attachments/${context.channel_id}/${id}/${id}.png`,
    source: 'attachment',
    index: 0,
    last_of_message: true,
    unique_name: `${id}.png`,
    ...over,
  };
}

// A disk thread for the test, closed when it ends.
export function diskFor(t: Test): DiskThread {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  return disk;
}

// A real LevelDB state and an output folder, with no fake Discord.
export async function localWorld(t: Test): Promise<{ store: Store; out: string; context: ChannelContext; locks: KeyedLock; disk: DiskThread }> {
  const dir = t.testdir();
  const store = await openStore(join(dir, 'state'));
  t.teardown(() => store.close());
  return {
    store,
    out: join(dir, 'out'),
    context: { guild_id: '100000000000000001', guild_name: 'G', channel_id: '100000000000000002', channel_name: 'c' },
    locks: new KeyedLock(),
    disk: diskFor(t),
  };
}
