import t from 'tap';
import { compareSnowflakes, isSnowflake, maxSnowflake, parseBound, snowflakeFromDate, snowflakeToDate } from '../../lib/util/snowflake.js';

t.test('numeric comparison, never string comparison', async (t) => {
  t.ok(compareSnowflakes('99', '100') < 0);
  t.ok(compareSnowflakes('175928847299117063', '1000000000000000000') < 0);
  t.equal(maxSnowflake('99', '100'), '100');
  t.equal(maxSnowflake(undefined, '5'), '5');
});

t.test('validation', async (t) => {
  t.ok(isSnowflake('175928847299117063'));
  t.notOk(isSnowflake('x'));
  t.notOk(isSnowflake('-1'));
  t.notOk(isSnowflake('01'));
  t.notOk(isSnowflake('99999999999999999999999'));
});

t.test('dates round-trip and bounds', async (t) => {
  const date = new Date('2024-01-15T10:30:00.000Z');
  t.equal(snowflakeToDate(snowflakeFromDate(date)).toISOString(), date.toISOString());
  t.equal(snowflakeToDate('175928847299117063').toISOString(), '2016-04-30T11:18:25.796Z');
  const after = parseBound('2024-01-15', 'after')!;
  t.ok(BigInt(after) < BigInt(snowflakeFromDate(new Date('2024-01-15'))), 'after bound keeps the first message of the day');
  t.equal(parseBound('123', 'before'), '123');
  t.equal(parseBound('yesterday', 'before'), undefined);
  t.equal(parseBound('2024-13-45', 'before'), undefined);
});

t.test('compareSnowflakes agrees with BigInt order for canonical, zero-padded and mixed-length ids', async (t) => {
  const ids = ['0', '1', '9', '10', '099', '100', '0100', '175928847299117063', '1175928847299117063', '18446744073709551615', '00018446744073709551615'];
  for (const a of ids) {
    for (const b of ids) {
      const expected = BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;
      t.equal(compareSnowflakes(a, b), expected, `${a} vs ${b}`);
    }
  }
});
