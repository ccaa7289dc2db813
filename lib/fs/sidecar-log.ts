// A channel's messages.ndjson (--write-metadata=channel) on disk: created without ever taking a name that holds
// another file (O_EXCL), reopened without following a symlink, its unconfirmed tail read back, a torn last line
// cut off, and whole lines written at the end. What the lines mean is lib/stages/metadata-channel.ts's business.

import { constants } from 'node:fs';
import fs from 'node:fs/promises';

const errorCode = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

const REOPEN = constants.O_RDWR | (constants.O_NOFOLLOW ?? 0);
const CREATE = REOPEN | constants.O_CREAT | constants.O_EXCL;

export class LineLog {
  readonly path: string;
  #handle: fs.FileHandle;
  #length: number;

  private constructor(file: string, handle: fs.FileHandle, length: number) {
    this.path = file;
    this.#handle = handle;
    this.#length = length;
  }

  // A new, empty log at `file`; undefined when the name is taken (by anything: it is never replaced).
  static async create(file: string): Promise<LineLog | undefined> {
    try {
      return new LineLog(file, await fs.open(file, CREATE, 0o644), 0);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return undefined;
      throw error;
    }
  }

  // The log at `file`, which this archive wrote; undefined when it is gone or is no longer a regular file.
  static async open(file: string): Promise<LineLog | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, REOPEN);
    } catch (error) {
      if (['ENOENT', 'ELOOP', 'EISDIR', 'EMLINK'].includes(String(errorCode(error)))) return undefined;
      throw error;
    }
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      return undefined;
    }
    return new LineLog(file, handle, stat.size);
  }

  get length(): number {
    return this.#length;
  }

  // The bytes from `from` to the end (the lines not yet known to the state).
  async tail(from: number): Promise<Buffer> {
    const size = Math.max(0, this.#length - from);
    const buffer = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await this.#handle.read(buffer, read, size - read, from + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return buffer.subarray(0, read);
  }

  // The length as the file has it now (another handle on it may have appended).
  async refresh(): Promise<void> {
    this.#length = (await this.#handle.stat()).size;
  }

  // Cut the log at `length` (a torn last line: a run killed in the middle of writing it).
  async truncate(length: number): Promise<void> {
    await this.#handle.truncate(length);
    this.#length = length;
  }

  // Write `text` (whole lines) at the end; resolves with the new length.
  async append(text: string): Promise<number> {
    const bytes = Buffer.from(text);
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await this.#handle.write(bytes, written, bytes.length - written, this.#length + written);
      written += bytesWritten;
    }
    this.#length += bytes.length;
    return this.#length;
  }

  // Flush to disk and close (at the end of a pass).
  async close(): Promise<void> {
    try {
      await this.#handle.datasync();
    } finally {
      await this.#handle.close();
    }
  }
}
