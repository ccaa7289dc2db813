// `dps follow`: keeps an archive current. Every selected channel is caught up from its cursor (the history pass of
// `dps scrape`, lib/archive.ts), and the messages the live source delivers (the Gateway's, or polling's) go through
// the same stages as they arrive, until the run is stopped.
//
// Nothing is missed, nothing is done twice (README, "Following a server"):
// - An epoch is a stretch of live events with nothing lost: it starts at a new session's READY (every start of the
//   process counts as one) or when the source says events were dropped (`gap`). Each epoch begins with a catch-up
//   of every channel from its cursor, taken after the epoch began: whatever was posted before its snapshot, the
//   walk takes; whatever was posted after, the live events bring.
// - A channel's live messages are handled one at a time, in the order they came. Until the epoch's catch-up of the
//   channel is done, what they finished is recorded as the span above the cursor (ChannelRecord.done_above: from
//   the epoch's first live message to the newest finished one, every message in it is done); a later walk skips
//   it. Once the catch-up is done, nothing below the newest finished live message can be missing: the cursor moves
//   there, and with every live message after it.
// - A message both the catch-up and the live events bring is fetched once (fetch's per-attachment lock, then the
//   archived check) and announced once: the walk waits, at each file of a message the live events have queued, until
//   they have finished it (its events out, its watermark given), then announces only what they did not (a file an
//   earlier, killed run wrote). So the walk's cursor never passes a queued live message before its events are out:
//   a kill -9 then leaves the message above the cursor, and the next run announces its files.

import type { APIMessage } from 'discord-api-types/v10';
import type { ChannelTarget } from './discord/targets.js';
import { openTargets } from './discord/targets.js';
import type { DiscordClient } from './discord/client.js';
import { hasCode } from './errors.js';
import { AbortedError } from './errors.js';
import type { DpsError } from './errors.js';
import { removeStaleTemps } from './fs/atomic-write.js';
import { checkOutputWritable } from './fs/output-check.js';
import type { ArchiveHooks, ArchiveOptions, NormalizedOptions } from './options.js';
import { channelSkippedEvent, skippedChannel } from './output/events.js';
import type { Counts, SavedEvent } from './output/events.js';
import { archiveChannel, archiveLive, counted, createRun, describeTarget, prepareS3, runArchive, runWalkFilter } from './archive.js';
import type { ArchiveResult, Outcome, RunContext, Tally } from './archive.js';
import type { RunResources } from './run-resources.js';
import { channelPatch } from './stages/checkpoint.js';
import type { Store } from './store/store.js';
import type { ChannelContext } from './types.js';
import { AsyncQueue } from './util/async-queue.js';
import { whenAborted } from './util/link-signals.js';
import { Semaphore } from './util/semaphore.js';
import { compareSnowflakes } from './util/snowflake.js';
import { snowflakeToDate } from './util/snowflake.js'; // `dps status`: lag_ms

// What the live source says (lib/discord/gateway.ts maps the Gateway's dispatches to these; polling only says `gap`).
export type LiveEvent =
  | { type: 'ready'; resumed: boolean } // connected; `resumed` false: a new session, events may have been missed
  | { type: 'gap'; why: string } // events were dropped (or, polling, it is time to look again): catch up
  | { type: 'message'; message: APIMessage; update: boolean } // MESSAGE_CREATE / MESSAGE_UPDATE in the server
  | { type: 'channel'; channel: LiveChannel; created: boolean } // a channel or thread appeared, changed, or is listed
  | { type: 'channel_gone'; channel_id: string }; // deleted: no longer followed, its archive kept

// A channel as the live source describes it.
export interface LiveChannel {
  id: string;
  type: number;
  name?: string | null | undefined;
  parent_id?: string | null | undefined;
  nsfw?: boolean | undefined;
  thread_metadata?: { archived?: boolean | undefined } | undefined;
}

export interface LiveContext {
  client: DiscordClient;
  store: Store;
  signal: AbortSignal;
  log?: ((line: string) => void) | undefined;
}

export interface FollowHooks extends ArchiveHooks {
  // Opens the live events once the state is open, before the first catch-up.
  openLive: (context: LiveContext) => AsyncIterable<LiveEvent>;
  // A live message is finished: its files are durable (for `dps status`'s lag, and tests).
  onLive?: ((context: ChannelContext, messageId: string) => void) | undefined;
}

// A channel's live messages wait here; a channel this far behind holds the live source back.
const QUEUE_LIMIT = 1000;
// Catch-ups at once when --channel-concurrency is auto.
const CATCH_UP_SLOTS = 4;

const TEXT_TYPES = new Set([0, 5]); // text and announcement channels: followed themselves under --all-channels
const THREAD_TYPES = new Set([10, 11, 12]);
const THREAD_PARENTS = new Set([0, 5, 15, 16]); // their threads are followed (with threads on)

// Follows the selected channels until the run is stopped (or the live source ends); resolves like runArchive.
export function runFollow(input: ArchiveOptions, hooks: FollowHooks): Promise<ArchiveResult> {
  return runArchive(input, hooks, (resources, options, _hooks, tally, outcome) => follow(resources, options, hooks, tally, outcome));
}

async function follow(resources: RunResources, options: NormalizedOptions, hooks: FollowHooks, tally: Tally, outcome: Outcome): Promise<void> {
  const { signal } = resources;
  // Object storage (issue 26): the scrape's preflight (the bucket checked, a killed run's uploads aborted) before
  // any Discord request; a folder is swept and probed.
  if (resources.s3 !== undefined) await prepareS3(resources.s3, resources, hooks);
  else {
    const removed = await removeStaleTemps(options.out, signal).catch(() => 0);
    if (removed > 0) hooks.log?.(`removed ${removed} unfinished temporary file(s) from an interrupted run`);
    await checkOutputWritable(options.out);
  }
  const run = createRun(resources, options, hooks);
  const live = hooks.openLive({ client: run.client, store: run.store, signal, log: hooks.log });
  const follower = new Follower(run, tally, outcome, hooks.onLive);
  resources.progressFile?.setFollowing(() => follower.following()); // `dps status`: following: true while it runs
  try {
    const targets = await openTargets(run.client, options, {
      signal,
      log: hooks.log,
      onSkipped: ({ context, reason, detail }) => void hooks.emit?.(channelSkippedEvent(context, reason, detail)),
    });
    run.botId = targets.me.id;
    follower.guild = targets.guild;
    if (targets.denied > 0) outcome.accessDenied = true;
    // The events flow while the channels are listed: a channel listed after the first READY is caught up at once.
    const listed = (async () => {
      for await (const target of targets.channels) follower.add(target);
    })();
    listed.catch(() => undefined);
    await Promise.all([follower.consume(live, signal), listed]);
  } finally {
    await follower.close();
    // The source's own stop (the Gateway keeps its session resumable for the next start).
    await (live as { close?: () => Promise<void> }).close?.().catch(() => undefined);
  }
  if (follower.fatal !== undefined) throw follower.fatal;
  if (signal.aborted) throw new AbortedError('aborted', { cause: signal.reason }); // stopped, as a scrape is: 130 / 143
}

// One followed channel.
interface Followed {
  target: ChannelTarget;
  queue: AsyncQueue<APIMessage>;
  stop: () => void; // no longer followed: what is queued is finished, then its counts are final
  live?: Promise<void> | undefined; // its live pipeline, once a live message came
  counts?: Counts | undefined;
  done: Promise<void>; // its live pipeline and catch-ups, once it is no longer followed
  span?: { epoch: number; from: string; top?: string | undefined } | undefined; // this epoch's live messages: the first, the newest finished
  epochs: Array<{ id: string; epoch: number }>; // queued live messages and the epoch each came in, oldest first
  caughtUp?: number | undefined; // the epoch whose catch-up finished
  catchingUp?: Promise<void> | undefined;
  again: boolean; // caught up again once the running catch-up ends (a new epoch began meanwhile)
  announced: Map<string, Set<string>>; // message -> its files the live events announced (a walk announces them no more)
  liveEnded?: boolean | undefined; // its live pipeline has ended: nothing queued will be finished any more
  finished: Array<() => void>; // walks waiting for a queued live message (woken at each watermark, or the pipeline's end)
}

class Follower {
  guild: { id: string; name: string } = { id: '', name: '' };
  fatal: unknown; // the error that stopped following (thrown once everything is closed)
  readonly #run: RunContext;
  readonly #tally: Tally;
  readonly #outcome: Outcome;
  readonly #channels = new Map<string, Followed>();
  readonly #slots: Semaphore;
  readonly #onLive: FollowHooks['onLive'];
  #epoch = 0;

  // The channels followed now (`dps status` shows them `following: true` while the run goes on).
  *following(): Iterable<string> {
    yield* this.#channels.keys(); // a deleted or unreadable channel leaves the map
  }

  constructor(run: RunContext, tally: Tally, outcome: Outcome, onLive: FollowHooks['onLive']) {
    this.#onLive = onLive;
    this.#run = run;
    this.#tally = tally;
    this.#outcome = outcome;
    const { channelConcurrency, maxChannelConcurrency } = run.options;
    this.#slots = new Semaphore(channelConcurrency === 'auto' ? Math.min(CATCH_UP_SLOTS, maxChannelConcurrency) : channelConcurrency);
  }

  // Reads the live events until the run stops or the source ends; an error of the source (a fatal close, the bot
  // removed from the server) ends the run.
  async consume(live: AsyncIterable<LiveEvent>, signal: AbortSignal): Promise<void> {
    for await (const event of untilAborted(live, signal)) {
      switch (event.type) {
        case 'ready':
          if (!event.resumed || this.#epoch === 0) this.#newEpoch(event.resumed ? 'started' : 'new session');
          break;
        case 'gap':
          this.#newEpoch(event.why);
          break;
        case 'message':
          await this.#message(event.message, event.update);
          break;
        case 'channel':
          this.#channel(event.channel);
          break;
        case 'channel_gone':
          this.#gone(event.channel_id);
          break;
      }
    }
  }

  // Starts following a channel: its live pipeline now, its catch-up once an epoch has begun.
  add(target: ChannelTarget): void {
    const id = target.context.channel_id;
    if (this.#channels.has(id) || this.#run.signal.aborted) return;
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const queue = new AsyncQueue<APIMessage>(QUEUE_LIMIT);
    const followed: Followed = { target, queue, stop, done: Promise.resolve(), again: false, announced: new Map(), finished: [], epochs: [] };
    this.#channels.set(id, followed);
    // Its counts live as long as it is followed; its live pipeline starts with its first live message (a server's
    // thousands of quiet threads hold none).
    followed.done = counted(this.#tally, target, async (counts) => {
      followed.counts = counts;
      await stopped;
      await followed.live;
      await followed.catchingUp;
    }).catch((error: unknown) => this.#failed(followed, error));
    if (this.#epoch > 0) this.#catchUp(followed);
  }

  // The channel's live pipeline, started once.
  #livePipeline(followed: Followed): void {
    if (followed.live !== undefined || followed.counts === undefined) return;
    const persist = (watermark: string | undefined): Promise<void> => this.#persist(followed, watermark);
    const onSaved = (event: SavedEvent): void => {
      const files = followed.announced.get(event.message_id) ?? new Set<string>();
      files.add(event.attachment_id);
      followed.announced.set(event.message_id, files);
    };
    followed.live = archiveLive(this.#run, followed.target, followed.counts, followed.queue, persist, onSaved)
      .catch((error: unknown) => this.#failed(followed, error))
      .finally(() => {
        followed.liveEnded = true;
        wake(followed);
      });
  }

  // Stops following everything (the run is stopping): what is queued is finished, the catch-ups end with the run.
  async close(): Promise<void> {
    for (const followed of this.#channels.values()) {
      followed.queue.close();
      followed.stop();
    }
    await Promise.allSettled([...this.#channels.values(), ...this.#ended].map((followed) => followed.done));
  }

  #newEpoch(why: string): void {
    this.#epoch++;
    if (this.#epoch > 1) this.#run.hooks.log?.(`live events may have been missed (${why}): catching up every channel from its cursor`);
    for (const followed of this.#channels.values()) {
      followed.span = undefined;
      if (followed.counts !== undefined) this.#catchUp(followed);
    }
  }

  async #message(message: APIMessage, update = false): Promise<void> {
    const followed = this.#channels.get(message.channel_id);
    if (followed === undefined || this.#epoch === 0) return; // before the first READY the catch-up brings it
    // An edit may be of any old message: only a new one (MESSAGE_CREATE, the newest of its channel) starts the
    // epoch's span of live messages, else the span would claim the history between the two done.
    if (followed.span?.epoch !== this.#epoch && !update) followed.span = { epoch: this.#epoch, from: message.id };
    followed.epochs.push({ id: message.id, epoch: this.#epoch });
    this.#livePipeline(followed);
    await followed.queue.push(message); // a channel far behind holds the events back (the source then reports a gap)
  }

  // A channel or thread appeared (or was listed, or unarchived): followed when the run selects it.
  #channel(channel: LiveChannel): void {
    const { options } = this.#run;
    const known = this.#channels.get(channel.id);
    // An archived thread gets no messages until it is unarchived (then followed again, from its cursor): its
    // pipeline is closed, so a server's years of threads do not each hold one open.
    if (known !== undefined && channel.thread_metadata?.archived === true) this.#stop(channel.id);
    if (this.#channels.has(channel.id) || options.excludeChannelIds.has(channel.id)) return;
    if (channel.nsfw === true && !options.includeNsfw) return;
    const parent = channel.parent_id ?? undefined;
    if (THREAD_TYPES.has(channel.type)) {
      if (!options.threads || parent === undefined || channel.thread_metadata?.archived === true) return;
      const parentFollowed = this.#channels.get(parent);
      const parentSelected = options.allChannels ? !options.excludeChannelIds.has(parent) : options.channelIds.includes(parent);
      if (!parentSelected) return;
      const parentName = parentFollowed?.target.context.channel_name ?? this.#parentNames.get(parent) ?? parent;
      const context = this.#context(channel, { id: parent, name: parentName });
      const parentType = parentFollowed?.target.type ?? this.#parentTypes.get(parent); // a forum post or a thread (issue 25)
      if (parentType !== undefined) context.parent_type = parentType;
      this.add({ context, type: channel.type });
      return;
    }
    if (THREAD_PARENTS.has(channel.type)) this.#parentNames.set(channel.id, channel.name ?? channel.id);
    if (THREAD_PARENTS.has(channel.type)) this.#parentTypes.set(channel.id, channel.type); // issue 25
    if (!options.allChannels || !TEXT_TYPES.has(channel.type)) return;
    this.add({ context: this.#context(channel), type: channel.type });
  }

  readonly #parentNames = new Map<string, string>();
  readonly #parentTypes = new Map<string, number>(); // issue 25: a forum's threads are posts

  #context(channel: LiveChannel, parent?: { id: string; name: string }): ChannelContext {
    const context: ChannelContext = {
      guild_id: this.guild.id,
      guild_name: this.guild.name,
      channel_id: channel.id,
      channel_name: channel.name ?? channel.id,
    };
    if (parent !== undefined) {
      context.parent_id = parent.id;
      context.parent_name = parent.name;
    }
    return context;
  }

  #gone(channelId: string): void {
    const followed = this.#channels.get(channelId);
    if (followed === undefined) return;
    this.#run.hooks.log?.(`${describeTarget(followed.target)} was deleted: no longer followed (its archive is kept)`);
    this.#stop(channelId);
  }

  // No longer followed: its queued messages are finished, its pipeline ends (its counts stay in the summary).
  #stop(channelId: string): void {
    const followed = this.#channels.get(channelId);
    if (followed === undefined) return;
    this.#channels.delete(channelId);
    this.#ended.add(followed);
    followed.queue.close();
    followed.stop();
    void followed.done.finally(() => this.#ended.delete(followed));
  }

  readonly #ended = new Set<Followed>(); // channels no longer followed, still finishing (awaited by close)

  // Catches a channel up from its cursor, once at a time (again after it when an epoch began meanwhile).
  #catchUp(followed: Followed): void {
    if (followed.catchingUp !== undefined) {
      followed.again = true;
      return;
    }
    const run = async (): Promise<void> => {
      do {
        followed.again = false;
        const epoch = this.#epoch;
        const release = await this.#slots.acquire(this.#run.signal);
        try {
          const announced = (message: string, attachment: string): boolean => followed.announced.get(message)?.has(attachment) === true;
          await archiveChannel(this.#run, followed.target, followed.counts!, announced, (message) => this.#liveDone(followed, message));
        } finally {
          release();
        }
        if (this.#run.signal.aborted) return;
        if (epoch === this.#epoch) await this.#caughtUp(followed, epoch);
      } while (followed.again && !this.#run.signal.aborted);
    };
    followed.catchingUp = run()
      .catch((error: unknown) => this.#failed(followed, error))
      .finally(() => {
        followed.catchingUp = undefined;
      });
  }

  // The epoch's catch-up is done: nothing below the newest finished live message can be missing.
  async #caughtUp(followed: Followed, epoch: number): Promise<void> {
    followed.caughtUp = epoch;
    const top = followed.span?.epoch === epoch ? followed.span.top : undefined;
    if (top !== undefined) await this.#advance(followed, top);
  }

  // Resolves once the live pipeline has finished a message it has queued (at once when none is queued, or once the
  // pipeline has ended); rejects when the run stops first, so the walk's cursor stays below it.
  async #liveDone(followed: Followed, messageId: string): Promise<void> {
    while (followed.live !== undefined && followed.liveEnded !== true && followed.epochs.some((queued) => queued.id === messageId)) {
      const { aborted, dispose } = whenAborted(this.#run.signal);
      try {
        const woken = new Promise<boolean>((resolve) => followed.finished.push(() => resolve(true)));
        if (!(await Promise.race([woken, aborted.then(() => false)]))) throw new AbortedError('aborted', { cause: this.#run.signal.reason });
      } finally {
        dispose();
      }
    }
  }

  // Where a live message's watermark goes (archiveLive): the cursor once caught up, else the span above it. Only a
  // message of the current epoch counts (one queued before a gap belongs to the stretch the catch-up redoes).
  async #persist(followed: Followed, watermark: string | undefined): Promise<void> {
    if (watermark === undefined) return;
    const at = followed.epochs.findIndex((queued) => queued.id === watermark);
    const epoch = at < 0 ? undefined : followed.epochs[at]!.epoch;
    if (at >= 0) followed.epochs.splice(0, at + 1);
    wake(followed); // a walk waiting for a message finished now goes on
    const live = followed.span;
    if (live === undefined || epoch !== live.epoch || compareSnowflakes(watermark, live.from) < 0) return;
    if (live.top === undefined || compareSnowflakes(watermark, live.top) > 0) live.top = watermark;
    this.#onLive?.(followed.target.context, watermark);
    const stamp = liveStamp(watermark); // `dps status`: the last live message finished, and its lag
    if (followed.caughtUp === this.#epoch) return this.#advance(followed, live.top, stamp);
    const { store, options } = this.#run;
    const { context } = followed.target;
    await store.advanceCursor(context.channel_id, undefined, { ...channelPatch(context), ...stamp }, { from: live.from, to: live.top }, runWalkFilter(options));
  }

  async #advance(followed: Followed, messageId: string, stamp?: LiveStamp): Promise<void> {
    const { store, options } = this.#run;
    const { context } = followed.target;
    await store.advanceCursor(context.channel_id, messageId, { ...channelPatch(context), ...stamp }, undefined, runWalkFilter(options));
    // What the live events announced at or below the cursor: no walk reaches it any more.
    for (const id of followed.announced.keys()) {
      if (compareSnowflakes(id, messageId) > 0) break;
      followed.announced.delete(id);
    }
  }

  // A channel that cannot be read is no longer followed (exit code 4 at the end); anything else stops the run.
  #failed(followed: Followed, error: unknown): void {
    followed.queue.close();
    followed.stop();
    const id = followed.target.context.channel_id;
    if (this.#channels.get(id) === followed) this.#channels.delete(id);
    if (this.#run.signal.aborted) return;
    if (hasCode(error, 'DPS_ACCESS', 'DPS_NOT_FOUND') && !this.#run.options.failOnChannelError) {
      this.#outcome.accessDenied = true;
      this.#run.hooks.log?.(`no longer following ${describeTarget(followed.target)}: ${(error as Error).message}`);
      void this.#run.hooks.emit?.(skippedChannel(followed.target.context, error as DpsError));
      return;
    }
    this.fatal ??= error;
    this.#run.stop.abort(error);
  }
}

// Wakes the walks waiting for a channel's live messages (Follower.#liveDone): each looks again.
function wake(followed: Followed): void {
  for (const resolve of followed.finished.splice(0)) resolve();
}

// What a channel record keeps of its last live message (ChannelRecord.last_event_at, lag_ms; `dps status`): when it
// was finished (its files durable) and how long after its post (the time in its snowflake) that was.
type LiveStamp = { last_event_at: string; lag_ms: number };
function liveStamp(messageId: string, now = Date.now()): LiveStamp {
  return { last_event_at: new Date(now).toISOString(), lag_ms: Math.max(0, now - snowflakeToDate(messageId).getTime()) };
}

// The source's events until `signal` aborts (a source waiting for its next event is left waiting, and closed).
// Each wait listens to the signal only while it lasts: racing one run-long promise would keep every event alive.
async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    while (!signal.aborted) {
      const pending = iterator.next();
      const { aborted, dispose } = whenAborted(signal);
      let step: IteratorResult<T> | undefined;
      try {
        step = await Promise.race([pending, aborted.then(() => undefined)]);
      } finally {
        dispose();
      }
      if (step === undefined || step.done) return;
      yield step.value;
    }
  } finally {
    void iterator.return?.(); // not awaited: a generator still waiting for its next event answers only after it
  }
}
