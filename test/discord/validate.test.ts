// lib/discord/validate.ts: a history page is a JSON array of message objects with valid ids, or an error.

import t from 'tap';
import { historyPage, InvalidResponseError } from '../../lib/discord/validate.js';
import { isDiscordId } from '../../lib/util/snowflake.js';

const JSON_TYPE = 'application/json';
const ok = '[{"id":"1180000000000000001"},{"id":"18446744073709551615"}]';

t.test('a JSON array of messages passes; anything else is an InvalidResponseError', async (t) => {
  t.same(historyPage(JSON_TYPE, ok, 'x'), JSON.parse(ok));
  t.same(historyPage('application/json; charset=utf-8', '[]', 'x'), [], 'an empty page is fine');
  const bad: Array<[string | undefined, string, RegExp]> = [
    ['text/html; charset=utf-8', '<html>', /text\/html.*instead of JSON/],
    [undefined, '[]', /no content type/],
    [JSON_TYPE, '[{"id":"1"', /cut off or malformed/],
    [JSON_TYPE, '{"messages":[]}', /object instead of an array/],
    [JSON_TYPE, 'null', /null instead of an array/],
    [JSON_TYPE, '[null]', /entry 0 is not a message object/],
    [JSON_TYPE, '[{"id":"1180000000000000001"},"x"]', /entry 1/],
    [JSON_TYPE, '[{"id":"99999999999999999999999999999"}]', /99999999999999999999999999999.*not a snowflake/],
    [JSON_TYPE, '[{"id":"18446744073709551616"}]', /not a snowflake/],
    [JSON_TYPE, '[{"id":1180000000000000001}]', /not a snowflake/],
    [JSON_TYPE, '[{"content":"no id"}]', /missing|not a snowflake/],
  ];
  for (const [type, text, message] of bad) t.throws(() => historyPage(type, text, 'channel 1'), message, `${type}: ${text}`);
  t.ok(new InvalidResponseError('x') instanceof Error);
});

t.test('isDiscordId: 17-20 digits, below 2^64', async (t) => {
  for (const id of ['41771983423143936', '1180000000000000001', '18446744073709551615']) t.ok(isDiscordId(id), id);
  for (const id of ['99999999999999999999999999999', '18446744073709551616', '0', '123', '012345678901234567', ' 1180000000000000001', 2 ** 60])
    t.notOk(isDiscordId(id), String(id));
});
