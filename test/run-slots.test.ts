// --channel-concurrency auto: the limit from the measured request rate, the global limit and the download pool.

import t from 'tap';
import { AutoSlots, channelLimit } from '../lib/run-slots.js';

const base = { globalPerSecond: 50, downloadsSaturated: false, cap: 64, backlog: 0, pacePerSecond: undefined };

t.test('channelLimit', async (t) => {
  t.equal(channelLimit({ ...base, running: 0, rate: undefined }), 16, 'before any measure: the initial channels');
  t.equal(channelLimit({ ...base, running: 0, rate: undefined, cap: 10 }), 10, 'never above the cap');
  t.equal(channelLimit({ ...base, running: 0, rate: undefined, globalPerSecond: 10 }), 9, 'nor above what the budget holds at a page a second');
  t.equal(channelLimit({ ...base, running: 10, rate: 10 }), 26, 'a page a second each: room for 35 more, at most 16 (or doubling) at a time');
  t.equal(channelLimit({ ...base, running: 30, rate: 30 }), 45, 'room for 15 more');
  t.equal(channelLimit({ ...base, running: 4, rate: 40 }), 4 + Math.floor(5 / 10), 'fast channels (10/s each): no room for another');
  t.equal(channelLimit({ ...base, running: 4, rate: 30 }), 6, 'room for two more at 7.5/s each');
  t.equal(channelLimit({ ...base, running: 40, rate: 50 }), 36, 'over the budget: fewer than run, in proportion');
  t.equal(channelLimit({ ...base, running: 1, rate: 200 }), 1, 'never below one');
  t.equal(channelLimit({ ...base, running: 12, rate: 12, downloadsSaturated: true }), 12, 'downloads are the bottleneck: hold');
  t.equal(channelLimit({ ...base, running: 16, rate: 50, backlog: 30 }), 16, 'requests queue at the global limit: hold, even over the budget');
  t.equal(channelLimit({ ...base, running: 24, rate: 29, pacePerSecond: 1 }), 40, 'a learnt pace of a page a second: room for 16 more');
  t.equal(channelLimit({ ...base, running: 40, rate: 21, pacePerSecond: 0.2 }), 64, 'a slower learnt pace: more channels, up to the cap');
  t.equal(channelLimit({ ...base, running: 64, rate: 50, backlog: 14, backlogSustained: true }), 57, 'requests keep queueing over the budget: fewer');
  t.equal(channelLimit({ ...base, running: 30, rate: 40, backlog: 5, backlogSustained: true }), 30, 'requests keep queueing under the budget: hold');
  t.equal(channelLimit({ ...base, running: 0, rate: 0 }), 16, 'nothing running: start as at first');
  t.equal(channelLimit({ ...base, globalPerSecond: 25, running: 10, rate: 10 }), 22, '--polite halves the global limit');
});

t.test('AutoSlots measures the request rate over a window and tells when the limit grows', async (t) => {
  let now = 1_000_000;
  let requests = 0;
  let saturated = false;
  const slots = new AutoSlots({
    cap: 64,
    globalPerSecond: 50,
    requests: () => requests,
    backlog: () => 0,
    downloadsSaturated: () => saturated,
    now: () => now,
  });
  let told = 0;
  slots.onChange(() => told++);
  t.equal(slots.allowed(0), 16, 'the initial channels before any sample');
  slots.tick();
  t.equal(slots.current, 16);
  // 45 channels run, and the global limit makes them send 50 requests a second: over budget.
  slots.allowed(45);
  for (let i = 0; i < 4; i++) {
    now += 500;
    requests += 25;
    slots.tick();
  }
  t.equal(slots.current, 40, 'shrinks in proportion while the rate is over 45/s');
  const before = told;
  // Channels end; the rest send 10 requests a second.
  slots.allowed(10);
  for (let i = 0; i < 5; i++) {
    now += 500;
    requests += 5;
    slots.tick();
  }
  t.equal(slots.current, 26, 'room again: more may start');
  t.ok(told > before, 'the scheduler is told that more may start');
  saturated = true;
  slots.allowed(12);
  now += 500;
  requests += 6;
  slots.tick();
  t.equal(slots.current, 12, 'downloads saturated: no new channel');
});
