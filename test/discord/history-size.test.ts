// History size estimates from snowflakes (last_message_id, cursors) and message_count, and a walk's progress.

import t from 'tap';
import { HistoryProgress, PRIOR_DENSITY, estimatePages, hintBefore, historyHint, pagesFor, snowflakeMs } from '../../lib/discord/history-size.js';
import { snowflakeFromDate, snowflakeOffset } from '../../lib/util/snowflake.js';

const at = (iso: string): string => snowflakeFromDate(new Date(iso));
const HOUR = 3_600_000;

t.test('hints come from last_message_id and (threads) message_count', async (t) => {
  t.same(historyHint({ last_message_id: '123456789012345678' }), { newest: '123456789012345678' });
  t.same(historyHint({ last_message_id: '123456789012345678', message_count: 41, is_thread: true }), { newest: '123456789012345678', messages: 42 });
  t.same(historyHint({ message_count: 5, is_thread: false }), undefined, 'message_count is only trusted on threads');
  t.same(historyHint({ last_message_id: 'junk' }), undefined);
  t.same(historyHint({ last_message_id: null }), { empty: true }, 'null: nothing was ever posted');
  t.equal(estimatePages('123456789012345678', { empty: true }, '0', PRIOR_DENSITY), 1, 'an empty channel takes the one request that finds nothing');
});

t.test('hintBefore: a walk that stops at --before', async (t) => {
  const newest = at('2024-01-01T10:00:00Z');
  const before = at('2024-01-01T05:00:00Z');
  t.same(hintBefore({ newest, messages: 40 }, before), { newest: snowflakeOffset(before, -1) }, 'its newest below the bound, no whole-thread count');
  t.same(hintBefore({ newest }, undefined), { newest });
  t.same(hintBefore({ newest: before }, newest), { newest: before }, 'a bound above the newest changes nothing');
});

t.test('estimatePages', async (t) => {
  const channel = at('2024-01-01T00:00:00Z');
  const newest = at('2024-01-01T10:00:00Z');
  const onePerMinute = 1 / 60_000;
  t.equal(estimatePages(channel, { newest }, '0', onePerMinute), pagesFor(600), 'ten hours at one message a minute: 600 messages');
  t.equal(estimatePages(channel, { newest }, at('2024-01-01T05:00:00Z'), onePerMinute), pagesFor(300), 'from the cursor on');
  t.equal(estimatePages(channel, { newest }, newest, onePerMinute), 0, 'nothing after the cursor');
  t.equal(estimatePages(channel, undefined, '0', onePerMinute), undefined, 'nothing known');
  t.equal(estimatePages(channel, { newest, messages: 250 }, '0', onePerMinute), pagesFor(250), 'a thread counts its messages');
  t.equal(estimatePages(channel, { newest, messages: 1000 }, at('2024-01-01T05:00:00Z'), onePerMinute), pagesFor(500), 'its share after the cursor');
  t.ok(
    estimatePages(channel, { newest: at('2025-01-01T00:00:00Z') }, '0', PRIOR_DENSITY)! > estimatePages(channel, { newest }, '0', PRIOR_DENSITY)!,
    'a longer history is larger',
  );
  t.equal(pagesFor(0), 2, 'the newest-message request and one empty page');
  t.equal(pagesFor(250), 4);
});

t.test('HistoryProgress follows both walks and learns the density', async (t) => {
  const channel = at('2024-01-01T00:00:00Z');
  const id = (hours: number): string => snowflakeFromDate(new Date(Date.UTC(2024, 0, 1) + hours * HOUR));
  const walk = new HistoryProgress(channel, '0', { newest: id(100) });
  t.equal(walk.leftMs, 100 * HOUR, 'all of it before the first page');
  // The walk up: 100 messages over the first 10 hours.
  walk.page(
    Array.from({ length: 100 }, (_, i) => ({ id: id((i + 1) / 10) })),
    false,
  );
  t.equal(walk.leftMs, 90 * HOUR);
  t.equal(walk.coveredMs, snowflakeMs(id(10)) - snowflakeMs(id(0.1)), 'from its first message: the time before it holds nothing');
  // The walk down: 100 messages over the last 10 hours, newest first.
  walk.page(
    Array.from({ length: 100 }, (_, i) => ({ id: id(100 - i / 10) })),
    true,
  );
  t.equal(walk.leftMs, Math.round(snowflakeMs(id(90.1)) - snowflakeMs(id(10))), 'between the two walks');
  t.equal(walk.coveredMs, snowflakeMs(id(10)) - snowflakeMs(id(0.1)) + (snowflakeMs(id(100)) - snowflakeMs(id(90.1))));
  // 10 messages an hour over the 80 hours left: about 800 messages, 9 pages (8 full, 1 short).
  t.equal(walk.pagesLeft(PRIOR_DENSITY), 9, 'its own density, not the prior');
  t.equal(walk.pages, 2);
  t.equal(walk.messages, 200);
});
