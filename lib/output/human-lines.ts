// `--format human`: the events as a person reads them on a terminal, one short line per saved file and per
// problem, a line per finished channel, and the summary as a short block, instead of NDJSON. Every name is
// terminal-escaped (terminal-safe.ts). Files skipped by a filter are not problems and print nothing; files over
// --max-size are rolled up per channel on stderr (lib/stages/events.ts).

import type { Counts } from './events.js';
import { formatDuration } from './estimate.js';
import { formatBytes } from './human-progress.js';
import { terminalSafe } from './terminal-safe.js';

export type OutputFormat = 'human' | 'ndjson';

// The fields the human lines read, from any event (some come from events other modules add, such as `would_save`).
interface AnyEvent extends Partial<Counts> {
  event?: string;
  reason?: string;
  channel_id?: string;
  channel_name?: string;
  filename?: string;
  detail?: string;
  timestamp?: string;
  size?: number | null;
  duplicate_of?: string;
  adopted?: true;
  complete?: boolean;
  channels?: number;
  elapsed_ms?: number;
  exit_code?: number;
  error?: string;
}

// The text of one event ('' for none): whole lines, each ending in "\n". `nameOf` gives a channel's name as
// people know it ("#general"), undefined when unknown.
export function humanText(value: unknown, nameOf: (channelId: string) => string | undefined = () => undefined): string {
  if (value === null || typeof value !== 'object') return '';
  const event = value as AnyEvent;
  const channel =
    event.channel_id === undefined ? '' : (nameOf(event.channel_id) ?? (event.channel_name ? `#${event.channel_name}` : `channel ${event.channel_id}`));
  const lines = linesOf(event, channel);
  return lines.map((line) => `${terminalSafe(line)}\n`).join('');
}

function linesOf(event: AnyEvent, channel: string): string[] {
  const file = event.filename ?? 'a file';
  switch (event.event) {
    case 'saved':
    case 'would_save': {
      const verb = event.event === 'saved' ? 'saved ' : 'would save';
      const bytes = event.bytes ?? event.size;
      const notes = [event.duplicate_of !== undefined ? '(duplicate)' : '', event.adopted ? '(already on disk)' : ''].filter(Boolean);
      return [[`${verb} ${channel}`, dateOf(event.timestamp), file, typeof bytes === 'number' ? formatBytes(bytes) : '', ...notes].filter(Boolean).join('  ')];
    }
    case 'failed':
      return [`failed ${channel} ${file}: ${event.reason ?? 'unknown'}${event.detail ? ` (${event.detail})` : ''}`];
    case 'skipped':
      if (event.filename === undefined) return [`skipped ${channel}: ${event.reason ?? 'unknown'}${event.detail ? ` (${event.detail})` : ''}`];
      if (event.reason === 'deleted') return [`gone   ${channel} ${file}: the message or file was deleted`];
      return []; // a filter's choice (type, author, already archived); --max-size skips are rolled up on stderr
    case 'channel_done':
      return [`done   ${channel}: ${countsText(event)}${event.complete === false ? ' (not complete: the next run resumes it)' : ''}`];
    case 'summary':
      return summaryLines(event);
    default:
      return []; // warnings are printed on stderr already
  }
}

// "summary: 3 channels, 1,234 messages in 2m 05s" and the counts below it.
function summaryLines(event: AnyEvent): string[] {
  const channels = event.channels ?? 0;
  const took = event.elapsed_ms === undefined ? '' : ` in ${formatDuration(event.elapsed_ms)}`;
  const lines = [`summary: ${number(channels)} channel${channels === 1 ? '' : 's'}, ${number(event.messages ?? 0)} messages${took}`];
  const dup = event.duplicates ? ` (${number(event.duplicates)} duplicate${event.duplicates === 1 ? '' : 's'})` : '';
  lines.push(`  saved    ${number(event.saved ?? 0)} file${event.saved === 1 ? '' : 's'}${dup}, ${formatBytes(event.bytes ?? 0)}`);
  if (event.skipped) lines.push(`  skipped  ${number(event.skipped)}`);
  if (event.failed) lines.push(`  failed   ${number(event.failed)} (dps retry-failed retries them)`);
  if (event.error !== undefined) lines.push(`  stopped  ${event.error}`);
  return lines;
}

// "12 saved, 1 failed, 3 skipped".
function countsText(counts: Partial<Counts>): string {
  const parts = [`${number(counts.saved ?? 0)} saved`];
  if (counts.failed) parts.push(`${number(counts.failed)} failed`);
  if (counts.skipped) parts.push(`${number(counts.skipped)} skipped`);
  if (counts.bytes) parts.push(formatBytes(counts.bytes));
  return parts.join(', ');
}

// "2021-03-04T10:11:12.000+00:00" -> "2021-03-04".
function dateOf(timestamp: string | undefined): string {
  return timestamp !== undefined && /^\d{4}-\d\d-\d\d/.test(timestamp) ? timestamp.slice(0, 10) : '';
}

function number(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
