// The folder gate (lib/stages/folder-gate.ts): per run (per Store) and folder, the first download goes at once,
// the others wait for it to finish; a waiter stops when the run does.

import t from 'tap';
import { folderTurn } from '../../lib/stages/folder-gate.js';
import { localWorld } from '../helpers/stage-items.js';

t.test('the first goes at once; the others of its folder start once it is done; other folders are not held', async (t) => {
  const { store } = await localWorld(t);
  const done = await folderTurn(store, '/out/a');
  t.type(done, 'function', 'the first download of /out/a gets `done`');
  const order: string[] = [];
  const waiting = folderTurn(store, '/out/a').then((turn) => order.push(`second ${turn === undefined ? 'no done' : 'done'}`));
  t.type(await folderTurn(store, '/out/b'), 'function', 'another folder is not held');
  order.push('first done');
  done!();
  await waiting;
  t.same(order, ['first done', 'second no done']);
  t.equal(await folderTurn(store, '/out/a'), undefined, 'later downloads go at once');
});

t.test('aborted before start: rejects with the reason, the folder is not taken', async (t) => {
  const { store } = await localWorld(t);
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  await t.rejects(folderTurn(store, '/out/a', controller.signal), { message: 'stop' });
  t.type(await folderTurn(store, '/out/a'), 'function', "the next download is still the folder's first");
});

t.test('aborted mid-flight (waiting for the first download): rejects with the reason, no listener left', async (t) => {
  const { store } = await localWorld(t);
  const done = await folderTurn(store, '/out/a');
  const controller = new AbortController();
  let listeners = 0;
  const add = controller.signal.addEventListener.bind(controller.signal);
  const remove = controller.signal.removeEventListener.bind(controller.signal);
  controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  }) as typeof add;
  controller.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  }) as typeof remove;
  const waiting = folderTurn(store, '/out/a', controller.signal);
  controller.abort(new Error('stop'));
  await t.rejects(waiting, { message: 'stop' });
  t.equal(listeners, 0, 'its abort listener is removed');
  done!();
});
