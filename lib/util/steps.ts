// Per-item pipeline steps run by stream-chain: `steps([...])` chains functions (each may drop an item with
// `none` or expand it with `many()`), type-checked from each step's output to the next one's input, and
// `through(source, steps)` feeds an async iterable in and reads the results out. The steps run ahead of their
// consumer into bounded buffers: a slow consumer pauses them, and a source of big units (pages) is read one at a
// time, so memory stays flat however long the stream.

import { pipeline, Readable } from 'node:stream';
import chain from 'stream-chain';

// Units buffered after the steps, ready for the next stage.
const OUTPUT_BUFFER = 32;

// The steps as one stream-chain Duplex; a mismatch between one step's output and the next one's input is a type error.
export function steps<L extends readonly unknown[]>(fns: chain.ChainList<chain.Arg0<L>, L>): chain.ChainOutput<chain.Arg0<L>, chain.Ret<L>> {
  return chain<L>(fns, { writableHighWaterMark: 1, readableHighWaterMark: OUTPUT_BUFFER });
}

// `source` through `chained`. A failure of the source or of a step is thrown to the consumer; a consumer that stops
// early (break) closes the source.
export function through<In, Out>(source: AsyncIterable<In>, chained: chain.ChainOutput<In, Out>): AsyncIterable<Out> {
  const input = Readable.from(source, { objectMode: true, highWaterMark: 1 });
  return pipeline(input, chained, () => undefined); // errors reach the consumer through `chained` itself
}
