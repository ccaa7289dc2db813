import { getEventListeners } from 'node:events';
import t from 'tap';
import { linkController } from '../../lib/util/link-signals.js';

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
