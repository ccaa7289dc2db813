// A child AbortController that follows a parent signal: aborted (with the parent's reason) when the parent is,
// now or later, and unlinked when its owner is done, so the parent keeps no listener behind.

import { setMaxListeners } from 'node:events';

export interface LinkedController {
  controller: AbortController;
  signal: AbortSignal;
  unlink: () => void; // removes the listener from the parent (idempotent)
}

// The child may itself carry up to `maxListeners` listeners without a warning (a run's signal is listened to by
// every pending download and request at once).
export function linkController(parent: AbortSignal | undefined, maxListeners?: number): LinkedController {
  const controller = new AbortController();
  if (maxListeners !== undefined) setMaxListeners(maxListeners, controller.signal);
  const follow = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) follow();
  else parent?.addEventListener('abort', follow, { once: true });
  return { controller, signal: controller.signal, unlink: () => parent?.removeEventListener('abort', follow) };
}

// A promise that resolves when `signal` aborts (at once when it already has), and `dispose` to remove its
// listener when the caller stops waiting for it first.
export function whenAborted(signal: AbortSignal): { aborted: Promise<void>; dispose: () => void } {
  if (signal.aborted) return { aborted: Promise.resolve(), dispose: () => undefined };
  let dispose: () => void = () => undefined;
  const aborted = new Promise<void>((resolve) => {
    const onAbort = (): void => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    dispose = () => signal.removeEventListener('abort', onAbort);
  });
  return { aborted, dispose };
}
