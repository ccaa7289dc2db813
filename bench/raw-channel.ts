// What the bare baseline loops share (baseline-raw.ts, s3-baseline.ts): a channel's history walked with plain
// undici requests (GET .../messages?after=&limit=100, oldest first), its attachments listed, and each file fetched
// by `concurrency` workers that hand its body on. Nothing of dps: no rate-limit handling, no retries.

import { request } from 'undici';
import type { Agent, Dispatcher } from 'undici';

export interface RawTarget {
  api: string;
  channel: string;
  headers: Record<string, string>;
  agent: Agent;
}

interface RawMessage {
  id: string;
  attachments?: Array<{ url: string; size: number; filename: string; id: string }>;
}

// An attachment to fetch: its CDN URL, `<attachment id>_<filename>`, its size.
export interface RawFile {
  url: string;
  name: string;
  size: number;
}

// Walks the history oldest -> newest; `each` sees every page. Returns the number of messages.
export async function walk(target: RawTarget, each: (messages: RawMessage[]) => void): Promise<number> {
  let after = '0';
  let count = 0;
  for (;;) {
    const { body } = await request(`${target.api}/channels/${target.channel}/messages?after=${after}&limit=100`, {
      headers: target.headers,
      dispatcher: target.agent,
    });
    const messages = JSON.parse(await body.text()) as RawMessage[];
    count += messages.length;
    each(messages);
    if (messages.length < 100) return count;
    let max = BigInt(after);
    for (const m of messages) if (BigInt(m.id) > max) max = BigInt(m.id);
    after = max.toString();
  }
}

// The channel's attachments, oldest first.
export async function channelFiles(target: RawTarget): Promise<RawFile[]> {
  const files: RawFile[] = [];
  await walk(target, (messages) => {
    for (const m of messages) for (const a of m.attachments ?? []) files.push({ url: a.url, name: `${a.id}_${a.filename}`, size: a.size });
  });
  return files;
}

// Fetches every file, `concurrency` at once, each body handed to `save` (which must consume it). Returns the bytes
// the files' sizes add up to.
export async function fetchEach(
  target: RawTarget,
  files: readonly RawFile[],
  concurrency: number,
  save: (file: RawFile, body: Dispatcher.ResponseData['body']) => Promise<void>,
): Promise<number> {
  let next = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < files.length) {
        const file = files[next++]!;
        const { body } = await request(file.url, { headers: target.headers, dispatcher: target.agent });
        await save(file, body);
        bytes += file.size;
      }
    }),
  );
  return bytes;
}
