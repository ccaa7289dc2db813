// The plan's progress.json schema, shared by `dps status` (lib/index.ts) and the progress.json a running scrape
// keeps beside its state (progress-file.ts): one entry per channel, built in one place.

import type { ChannelRecord } from '../types.js';
import type { EstimateReport } from './estimate.js';

/** The plan's progress.json: servers -> channels -> last_message_id, last_updated, total_images, plus failed and pending (queued for retry). */
export interface StatusReport {
  servers: Record<
    string,
    {
      name: string;
      channels: Record<
        string,
        {
          name: string;
          parent_id?: string;
          last_message_id: string | null;
          done_above?: { from: string; to: string };
          last_updated: string;
          total_images: number;
          failed: number;
          pending: number;
          gone?: number;
          // `dps follow` (issue 24): true while a running follow follows the channel (its progress.json); the
          // time its last live message was finished and the lag from that message's post to its files being durable.
          following?: boolean;
          last_event_at?: string;
          lag_ms?: number;
        }
      >;
    }
  >;
  /** Only when a running dps holds the state: the report is its progress.json, written at this time... */
  as_of?: string;
  /** ...this many milliseconds before it was read. */
  age_ms?: number;
  /** Only then, once the run has one: its estimate of what is left (`eta_ms` already shortened by `age_ms`). */
  estimate?: EstimateReport;
  /** Only then, while the file says its run is running (and is fresh): that run's command (`follow`, `scrape`, `retry-failed`). */
  command?: string;
}

export type StatusEntry = StatusReport['servers'][string]['channels'][string];

// A channel's entry: its record's cursor and counts, with `pending` (failed files queued for retry) given.
export function statusEntry(channel: ChannelRecord, pending: number): StatusEntry {
  const entry: StatusEntry = {
    name: channel.channel_name,
    last_message_id: channel.last_message_id ?? null,
    last_updated: channel.last_updated,
    total_images: channel.total_images,
    failed: channel.failed,
    pending,
  };
  if (channel.parent_id) entry.parent_id = channel.parent_id;
  if (channel.done_above) entry.done_above = { ...channel.done_above };
  if (channel.gone) entry.gone = channel.gone; // failed files whose message was deleted: not pending, not failed
  if (channel.last_event_at !== undefined) entry.last_event_at = channel.last_event_at; // dps follow
  if (channel.lag_ms !== undefined) entry.lag_ms = channel.lag_ms;
  return entry;
}
