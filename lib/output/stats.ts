// `dps stats`: what the state holds, counted per channel, author, month or file type from the attachment
// records as they stream by. Memory grows with the number of groups, never with the number of files.
//
// Per group: `files` (saved files, duplicates included), `duplicates` (of those, the ones whose bytes or whose
// attachment were already archived: records with duplicate_of, hard links or references to the first copy),
// `failed` (files waiting for a retry), `bytes` (bytes posted: every saved file's size, duplicates included) and
// `bytes_on_disk` (without the duplicates, which take no space of their own), `first_post` and `last_post` (the
// timestamps of the oldest and newest message with a saved file). Files whose message was deleted before they
// could be saved (status `gone`) are not counted.

import type { AttachmentRecord } from '../types.js';
import { extensionOf } from '../util/file-types.js';

export const STATS_BY = ['channel', 'author', 'month', 'type'] as const;
export type StatsBy = (typeof STATS_BY)[number];

// One line of `dps stats`: a group, or the total of every group (`by: "total"`, last).
export interface StatsRow {
  by: StatsBy | 'total';
  key: string; // channel id; author id or "unknown"; YYYY-MM; content type, ".ext" or "unknown"; "all" for the total
  name: string | null; // channel or author name (null for month, type and the total)
  guild_id?: string; // channel groups
  files: number;
  duplicates: number;
  failed: number;
  bytes: number;
  bytes_on_disk: number;
  first_post: string | null; // ISO 8601 timestamp of the oldest message with a saved file
  last_post: string | null;
}

interface Group {
  row: StatsRow;
  first: number; // first_post as ms (comparisons)
  last: number;
  named: number; // the time of the post the name was taken from (an author's newest name wins)
}

// Counts records into groups; rows() lists them (sorted) and their total.
export class StatsAggregator {
  readonly #groups = new Map<string, Group>();
  readonly #total: Group = newGroup('total', 'all', null);

  constructor(
    readonly by: StatsBy,
    // The name of a channel from the state's channel records (a record written before dps kept names has none).
    private readonly channelName: (channelId: string) => string | undefined = () => undefined,
  ) {}

  add(record: AttachmentRecord): void {
    if (record.status === 'gone') return;
    const key = this.#keyOf(record);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group =
        this.by === 'channel'
          ? newGroup('channel', key, this.channelName(record.channel_id) ?? record.thread_name ?? record.channel_name ?? '', record.guild_id)
          : newGroup(this.by, key, null);
      this.#groups.set(key, group);
    }
    if (this.by === 'author' && record.author_id !== undefined) {
      const at = Date.parse(record.timestamp);
      if (group.row.name === null || at >= group.named) {
        group.row.name = record.author_name ?? group.row.name ?? '';
        group.named = at;
      }
    }
    count(group, record);
    count(this.#total, record);
  }

  // The groups (months in order, others largest first), then the total.
  rows(): StatsRow[] {
    const groups = [...this.#groups.values()].map((g) => g.row);
    if (this.by === 'month') groups.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    else groups.sort((a, b) => b.bytes - a.bytes || b.files - a.files || (a.key < b.key ? -1 : 1));
    return [...groups, this.#total.row];
  }

  #keyOf(record: AttachmentRecord): string {
    switch (this.by) {
      case 'channel':
        return record.channel_id;
      case 'author':
        return record.author_id ?? 'unknown';
      case 'month':
        return monthOf(record.timestamp);
      case 'type':
        return typeOf(record);
    }
  }
}

function newGroup(by: StatsRow['by'], key: string, name: string | null, guildId?: string): Group {
  const row: StatsRow = {
    by,
    key,
    name,
    ...(guildId !== undefined ? { guild_id: guildId } : {}),
    files: 0,
    duplicates: 0,
    failed: 0,
    bytes: 0,
    bytes_on_disk: 0,
    first_post: null,
    last_post: null,
  };
  return { row, first: Number.POSITIVE_INFINITY, last: Number.NEGATIVE_INFINITY, named: Number.NEGATIVE_INFINITY };
}

function count(group: Group, record: AttachmentRecord): void {
  const { row } = group;
  if (record.status === 'failed') {
    row.failed++;
    return;
  }
  const bytes = record.bytes ?? 0;
  row.files++;
  row.bytes += bytes;
  if (record.duplicate_of !== undefined) row.duplicates++;
  else row.bytes_on_disk += bytes;
  const at = Date.parse(record.timestamp);
  if (Number.isNaN(at)) return;
  if (at < group.first) {
    group.first = at;
    row.first_post = record.timestamp;
  }
  if (at > group.last) {
    group.last = at;
    row.last_post = record.timestamp;
  }
}

// "2021-03-04T12:00:00+00:00" -> "2021-03" (in UTC); "unknown" for a timestamp that does not parse.
function monthOf(timestamp: string): string {
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? 'unknown' : new Date(at).toISOString().slice(0, 7);
}

// The content type without parameters ("image/png"), else the extension (".png"), else "unknown".
function typeOf(record: AttachmentRecord): string {
  const type = record.content_type?.split(';')[0]?.trim().toLowerCase();
  if (type) return type;
  const ext = extensionOf(record.filename);
  return ext ? `.${ext.toLowerCase()}` : 'unknown';
}
