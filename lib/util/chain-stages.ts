// Chains whole-stream stages with stream-chain: each stage becomes an object-mode Duplex, so every hop
// between stages is a bounded buffer (highWaterMark objects) and a slow consumer pauses its producers.

import { Duplex, Readable } from 'node:stream';
import { chainUnchecked } from 'stream-chain';

export type Stage = (source: AsyncIterable<any>) => AsyncIterable<any>;

const HIGH_WATER_MARK = 32;

// source -> stage -> stage ... as one readable async iterable with backpressure between every pair.
export function chainStages<Out>(source: AsyncIterable<unknown>, stages: readonly Stage[]): AsyncIterable<Out> {
  const streams = [
    Readable.from(source, { objectMode: true, highWaterMark: HIGH_WATER_MARK }),
    ...stages.map((stage) => Duplex.from(stage as (source: AsyncIterable<unknown>) => AsyncIterable<unknown>)),
  ];
  return chainUnchecked(streams, { writableObjectMode: true, readableObjectMode: true, readableHighWaterMark: HIGH_WATER_MARK }) as unknown as AsyncIterable<Out>;
}
