// Checks an archive folder against the files the fake serves: every expected file must be there with its size
// and sha256 (under whatever name; matched by content), whatever else the folder holds.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExpectedFile } from './common.js';

export interface Verified {
  expected: number;
  present: number; // expected files found with the right size and sha256
  lost: number; // expected - present
  files: number; // regular files in the folder
}

export async function verifyFolder(dir: string, expected: readonly ExpectedFile[]): Promise<Verified> {
  const have = new Map<string, number>(); // `${sha256}:${size}` -> files with that content
  let files = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(path)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    const key = `${hash.digest('hex')}:${size}`;
    have.set(key, (have.get(key) ?? 0) + 1);
    files++;
  }
  let present = 0;
  for (const file of expected) {
    const key = `${file.sha256}:${file.size}`;
    const left = have.get(key) ?? 0;
    if (left > 0) {
      present++;
      have.set(key, left - 1);
    }
  }
  return { expected: expected.length, present, lost: expected.length - present, files };
}
