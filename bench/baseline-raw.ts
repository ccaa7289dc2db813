// The baselines, as minimal as they can be, run as their own process:
//   pages <api> <token> <channel>             sequential GET .../messages?after=&limit=100 + JSON.parse, timed
//   downloads <api> <token> <channel> <out> <concurrency> [stream|sync|durable]
//                                             list the URLs (untimed), then a bare undici loop with the same
//                                             concurrency piping every body to a file (no hash, no fsync); `sync`:
//                                             each chunk written with writeSync instead of a write stream (no
//                                             round trip through libuv's pool per chunk: the faster loop here);
//                                             `durable`: the sync loop plus the least that dps's guarantees ask
//                                             of any tool: a sha256 of every byte (the dedupe index), and each
//                                             file written under a temp name, fsynced, then renamed into place
// Prints one JSON line with the figures.

import { createHash } from 'node:crypto';
import { closeSync, createWriteStream, fsync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { Agent } from 'undici';
import { channelFiles, fetchEach, walk } from './raw-channel.js';
import type { RawTarget } from './raw-channel.js';

const [mode, api, token, channel, out, concurrencyArg, writeMode = 'stream'] = process.argv.slice(2);
const headers = { authorization: `Bot ${token}`, 'user-agent': 'DiscordBot (https://example.invalid, 0) bench-baseline' };
const fsyncAsync = promisify(fsync);
const agent = new Agent({ connections: Math.max(4, Number(concurrencyArg ?? 8)) });
const target: RawTarget = { api: api!, channel: channel!, headers, agent };

if (mode === 'pages') {
  const started = performance.now();
  const messages = await walk(target, () => undefined);
  const ms = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ messages, ms, perSecond: (messages / ms) * 1000 })}\n`);
} else if (mode === 'downloads') {
  const files = await channelFiles(target);
  mkdirSync(out!, { recursive: true });
  const concurrency = Number(concurrencyArg ?? 8);
  const started = performance.now();
  const bytes = await fetchEach(target, files, concurrency, async (file, body) => {
    if (writeMode === 'sync' || writeMode === 'durable') {
      // durable: hashed, written under a temp name, fsynced, then renamed into place.
      const final = join(out!, file.name);
      const durable = writeMode === 'durable' ? { temp: join(out!, `.${file.name}.tmp`), hash: createHash('sha256') } : undefined;
      const fd = openSync(durable?.temp ?? final, 'w');
      try {
        for await (const chunk of body) {
          durable?.hash.update(chunk as Uint8Array);
          writeSync(fd, chunk as Uint8Array);
        }
        if (durable) await fsyncAsync(fd);
      } finally {
        closeSync(fd);
      }
      if (durable) {
        durable.hash.digest('hex');
        renameSync(durable.temp, final);
      }
    } else await pipeline(body, createWriteStream(join(out!, file.name)));
  });
  const ms = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ files: files.length, bytes, ms, mbPerSecond: bytes / 1e6 / (ms / 1000) })}\n`);
}
await agent.close();
