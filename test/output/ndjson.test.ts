// NDJSON on stdout: lines gathered into few writes, flush() on demand, and a closed reader is not an error.
import { Writable } from 'node:stream';
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import t from 'tap';
import { NdjsonWriter } from '../../lib/output/ndjson.js';

// A stream that records each write it is given; `written` resolves at its first write.
function recorder(): { stream: Writable; writes: string[]; written: Promise<void> } {
  const writes: string[] = [];
  let first: () => void = () => undefined;
  const written = new Promise<void>((resolve) => {
    first = resolve;
  });
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writes.push(chunk.toString());
      first();
      callback();
    },
  });
  return { stream, writes, written };
}

t.test('lines written close together go out in one write, each on its own line', async (t) => {
  const { stream, writes, written } = recorder();
  const out = new NdjsonWriter(stream);
  void out.write({ event: 'saved', n: 1 });
  await nextTurn();
  void out.write({ event: 'saved', n: 2 });
  t.same(writes, [], 'nothing is written at once');
  await written;
  await nextTurn();
  t.equal(writes.length, 1, 'one write');
  t.same(
    writes
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line)),
    [
      { event: 'saved', n: 1 },
      { event: 'saved', n: 2 },
    ],
  );
});

t.test('flush() writes what is waiting at once; a full batch is written without waiting', async (t) => {
  const { stream, writes } = recorder();
  const out = new NdjsonWriter(stream);
  void out.write({ n: 0 });
  out.flush();
  t.equal(writes.length, 1, 'flushed at once');
  for (let i = 0; i < 256; i++) void out.write({ n: i });
  t.equal(writes.length, 2, '256 waiting lines are written without a timer');
  t.equal(writes[1]!.split('\n').length, 257);
  out.flush();
  t.equal(writes.length, 2, 'an empty flush writes nothing');
});

t.test('a closed stream takes no more lines and reports itself closed once', async (t) => {
  const { stream, writes } = recorder();
  let closed = 0;
  const out = new NdjsonWriter(stream, () => closed++);
  void out.write({ n: 1 });
  stream.destroy();
  await once(stream, 'close');
  await out.write({ n: 2 });
  out.flush();
  t.equal(closed, 1);
  t.ok(out.isClosed);
  t.same(writes, [], 'lines waiting when the reader went away are dropped, not written to a destroyed stream');
});
