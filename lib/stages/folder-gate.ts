// The first download into a folder during a run goes alone: until it has finished (written, or failed), the
// other downloads for that folder wait before requesting anything. A folder that refuses files (a read-only
// mount, no permission, a file in its way) then costs one GET and stops the run (fetch's `halt`), instead of a
// whole download window of GETs whose bodies cannot be stored. Afterwards the folder's downloads run in parallel.

import type { Store } from '../store/store.js';

// Per run (one Store per run): folder -> the first download's end.
const firsts = new WeakMap<Store, Map<string, Promise<void>>>();

// Resolves when this download may start: at once with `done` (call it when finished) for the folder's first,
// otherwise once that first download is finished (with undefined). Rejects when `signal` aborts first.
export async function folderTurn(store: Store, folder: string, signal?: AbortSignal): Promise<(() => void) | undefined> {
  signal?.throwIfAborted();
  let folders = firsts.get(store);
  if (folders === undefined) {
    folders = new Map();
    firsts.set(store, folders);
  }
  const first = folders.get(folder);
  if (first !== undefined) {
    await untilDone(first, signal);
    return undefined;
  }
  let done!: () => void;
  folders.set(folder, new Promise<void>((resolve) => (done = resolve)));
  return done;
}

// `first`, or the signal's abort, whichever comes first (the listener is removed either way).
async function untilDone(first: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return first;
  let onAbort!: () => void;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([first, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
