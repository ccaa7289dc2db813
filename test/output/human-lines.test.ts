// lib/output/human-lines.ts: `--format human`, one short line per saved file and per problem, names escaped.

import t from 'tap';
import { humanText } from '../../lib/output/human-lines.js';

const names = (id: string): string | undefined => ({ '10': '#art', '11': '#forum/🎨 thread' })[id];
const base = { guild_id: '1', channel_id: '10', message_id: '2', attachment_id: '3' };

t.test('a saved file: channel, date, name, size on one line', async (t) => {
  const saved = {
    event: 'saved',
    ...base,
    filename: 'photo.png',
    path: 'a/photo.png',
    bytes: 1_234_567,
    sha256: 'x',
    content_type: 'image/png',
    timestamp: '2021-03-04T10:11:12.000000+00:00',
    source: 'attachment',
  };
  t.equal(humanText(saved, names), 'saved  #art  2021-03-04  photo.png  1.2 MB\n');
  t.equal(humanText({ ...saved, duplicate_of: 'b/x.png' }, names), 'saved  #art  2021-03-04  photo.png  1.2 MB  (duplicate)\n');
  t.equal(humanText({ ...saved, channel_id: '11' }, names), 'saved  #forum/🎨 thread  2021-03-04  photo.png  1.2 MB\n');
  t.equal(humanText({ ...saved, channel_id: '99' }, names), 'saved  channel 99  2021-03-04  photo.png  1.2 MB\n', 'an unknown channel by id');
});

t.test('problems: failed files, deleted ones, unreadable channels; names from Discord are escaped', async (t) => {
  t.equal(
    humanText({ event: 'failed', ...base, reason: 'http_404', filename: 'photo.png', detail: 'CDN answered 404' }, names),
    'failed #art photo.png: http_404 (CDN answered 404)\n',
  );
  t.equal(humanText({ event: 'failed', ...base, reason: 'http_404', filename: 'evil\x1b[2J.png' }, names), 'failed #art evil\\x1b[2J.png: http_404\n');
  t.equal(humanText({ event: 'skipped', ...base, reason: 'deleted', filename: 'a.png' }, names), 'gone   #art a.png: the message or file was deleted\n');
  t.equal(
    humanText({ event: 'skipped', guild_id: '1', channel_id: '10', reason: 'no_access', detail: 'missing permission' }, names),
    'skipped #art: no_access (missing permission)\n',
  );
});

t.test('no line for what is not a problem: filtered files, --max-size skips (rolled up on stderr), warnings (on stderr)', async (t) => {
  for (const reason of ['type', 'too_large', 'already_archived', 'author'])
    t.equal(humanText({ event: 'skipped', ...base, reason, filename: 'a.png' }, names), '', reason);
  t.equal(humanText({ event: 'warning', code: 'rate_limited', detail: 'waiting' }, names), '');
  t.equal(humanText(null), '');
});

t.test('a channel done, and the summary as a short block', async (t) => {
  const counts = { messages: 1200, saved: 1234, duplicates: 5, skipped: 3, failed: 2, bytes: 150_200_000 };
  t.equal(
    humanText({ event: 'channel_done', guild_id: '1', channel_id: '10', channel_name: 'art', cursor: null, complete: true, ...counts }, names),
    'done   #art: 1,234 saved, 2 failed, 3 skipped, 150.2 MB\n',
  );
  t.equal(
    humanText({ event: 'summary', channels: 3, elapsed_ms: 125_000, exit_code: 1, per_channel: [], ...counts }, names),
    'summary: 3 channels, 1,200 messages in 2m 05s\n  saved    1,234 files (5 duplicates), 150.2 MB\n  skipped  3\n  failed   2 (dps retry-failed retries them)\n',
  );
});
