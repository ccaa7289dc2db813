// The gallery's data files (README "Gallery"): JavaScript that calls window.dpsGallery, so the page loads them
// from file:// with a <script> tag. Strings are JSON; `<` is written \u003c, so `</script` never appears raw.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
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

// data/c-<channel_id>.js
export function channelScript(channelId: string, data: unknown): string {
  return `window.dpsGallery.channel(${scriptJson(channelId)}, ${scriptJson(data)});\n`;
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
