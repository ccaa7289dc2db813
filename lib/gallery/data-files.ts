// The gallery's data files (README "Gallery"): JavaScript that calls window.dpsGallery, so the page loads them
// from file:// with a <script> tag. Strings are JSON; `<` is written \u003c, so `</script` never appears raw.

import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

// JSON that is also safe inside a <script> element and a JavaScript source file.
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

// data/index.js
export function indexScript(data: unknown): string {
  return `window.dpsGallery.index(${scriptJson(data)});\n`;
}

// data/c-<channel_id>.js; with `input` (inputDigest of what it was made from), a first comment line that lets
// the next run see the file is already up to date (readInputDigest).
export function channelScript(channelId: string, data: unknown, input?: string): string {
  const mark = input === undefined ? '' : `${INPUT_MARK}${input} */\n`;
  return `${mark}window.dpsGallery.channel(${scriptJson(channelId)}, ${scriptJson(data)});\n`;
}

const INPUT_MARK = '/* dps-gallery-input ';

// A digest of everything a channel's data file is made from (its rows, in order, and `context`: the format, the
// channel, the guild): equal digests, equal files.
export function inputDigest(context: readonly unknown[], rows: Iterable<unknown>): string {
  const hash = createHash('sha256').update(JSON.stringify(context));
  for (const row of rows) hash.update('\n').update(JSON.stringify(row));
  return hash.digest('base64url');
}

// The input digest a data file was written with (its first line), or null (none, unreadable, missing).
export async function readInputDigest(file: string): Promise<string | null> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    const head = Buffer.alloc(128);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const line = head.toString('utf8', 0, bytesRead).split('\n', 1)[0] ?? '';
    return line.startsWith(INPUT_MARK) && line.endsWith(' */') ? line.slice(INPUT_MARK.length, -3) : null;
  } catch {
    return null;
  } finally {
    await handle?.close();
  }
}

// A file's URL relative to the gallery folder: its relative path with each component URL-encoded.
export function relativeUrl(galleryDir: string, file: string): string {
  return path
    .relative(galleryDir, file)
    .split(path.sep)
    .map((part) => encodeURIComponent(part))
    .join('/');
}

// Writes `text` to `file` through a temp file beside it and a rename: a reader sees the old file or the new one.
export async function writeAtomic(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
