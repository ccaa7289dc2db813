import { getEventListeners } from 'node:events';
import t from 'tap';
import { linkController, whenAborted } from '../../lib/util/link-signals.js';

t.test('the child is aborted with the parent, with its reason', async (t) => {
  const parent = new AbortController();
  const child = linkController(parent.signal);
  t.notOk(child.signal.aborted);
  parent.abort(new Error('why'));
  t.ok(child.signal.aborted);
  t.equal((child.signal.reason as Error).message, 'why');
});

t.test('a parent aborted already aborts the child at once, and is left no listener', async (t) => {
  const parent = new AbortController();
  parent.abort('early');
  const child = linkController(parent.signal);
  t.equal(child.signal.reason, 'early');
  t.equal(getEventListeners(parent.signal, 'abort').length, 0);
});

t.test('unlink leaves no listener on the parent; the child can still be aborted on its own', async (t) => {
  const parent = new AbortController();
  const child = linkController(parent.signal, 100);
  t.equal(getEventListeners(parent.signal, 'abort').length, 1);
  child.unlink();
  child.unlink();
  t.equal(getEventListeners(parent.signal, 'abort').length, 0);
  parent.abort();
  t.notOk(child.signal.aborted, 'unlinked: the parent no longer reaches it');
  child.controller.abort('own');
  t.equal(child.signal.reason, 'own');
});

t.test('no parent: a plain controller', async (t) => {
  const child = linkController(undefined);
  child.unlink();
  t.notOk(child.signal.aborted);
});

t.test('whenAborted: resolves on abort (at once when already aborted); dispose leaves no listener', async (t) => {
  const parent = new AbortController();
  const waiting = whenAborted(parent.signal);
  t.equal(getEventListeners(parent.signal, 'abort').length, 1);
  let resolved = false;
  void waiting.aborted.then(() => {
    resolved = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(resolved, 'pending while the signal is not aborted');
  parent.abort();
  await waiting.aborted;
  t.equal(getEventListeners(parent.signal, 'abort').length, 0);
  await whenAborted(AbortSignal.abort()).aborted;
  const other = new AbortController();
  const dropped = whenAborted(other.signal);
  dropped.dispose();
  dropped.dispose();
  t.equal(getEventListeners(other.signal, 'abort').length, 0, 'disposed: no listener left');
});
