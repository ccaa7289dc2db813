// A server with every kind of channel an enumeration must judge: readable text/announcement/forum channels,
// a voice channel without CONNECT, a hidden channel, one without READ_MESSAGE_HISTORY, a category, an NSFW
// channel, 150 archived threads (paging), private threads (joined, not joined, visible through MANAGE_THREADS).

import { CT, P, type FakeChannel, type Scenario } from '../../fixtures/model.js';
import { buildScenario } from '../../fixtures/scenarios.js';

export function enumerationScenario(): Scenario {
  const archivedMany = Array.from({ length: 150 }, (_, i) => ({ name: `old-${i}`, messages: 1, archived: true }));
  return buildScenario({
    seed: 11,
    authors: 2,
    guilds: [
      {
        name: 'Enum Server',
        channels: [
          { name: 'Cat', type: CT.CATEGORY },
          {
            name: 'general',
            parent: 'Cat',
            messages: 30,
            threads: [
              { name: 'chat', messages: 3 },
              { name: 'secret', type: 12, messages: 2, archived: true, botIsMember: true },
              { name: 'not-mine', type: 12, messages: 2, archived: true, botIsMember: false },
            ],
          },
          { name: 'news', type: CT.ANNOUNCEMENT, messages: 5 },
          { name: 'Lounge', type: CT.VOICE, messages: 5, overwrites: [{ target: 'everyone', deny: P.CONNECT }] },
          { name: 'hidden', messages: 5, overwrites: [{ target: 'everyone', deny: P.VIEW_CHANNEL }], threads: [{ name: 'hidden-thread', messages: 2 }] },
          {
            name: 'no-history',
            messages: 5,
            overwrites: [{ target: 'everyone', deny: P.READ_MESSAGE_HISTORY }],
            threads: [
              { name: 'nh-active', messages: 2 },
              { name: 'nh-archived', messages: 2, archived: true },
            ],
          },
          {
            name: 'forum',
            type: CT.FORUM,
            threads: [
              { name: 'post-a', messages: 2 },
              { name: 'post-b', messages: 2 },
              { name: 'post-old-1', messages: 2, archived: true },
              { name: 'post-old-2', messages: 2, archived: true },
              { name: 'post-old-3', messages: 2, archived: true },
            ],
          },
          { name: 'archive', messages: 2, threads: archivedMany },
          { name: 'spicy', nsfw: true, messages: 5, threads: [{ name: 'spicy-thread', messages: 2 }] },
          {
            name: 'mods',
            messages: 2,
            overwrites: [{ target: 'bot', allow: P.MANAGE_THREADS }],
            threads: [{ name: 'mod-private', type: 12, messages: 2, archived: true, botIsMember: false }],
          },
        ],
      },
    ],
  });
}

// A channel or thread of the scenario's first guild by name.
export function byName(scenario: Scenario, name: string): FakeChannel {
  const found = scenario.guilds[0]!.channels.find((c) => c.name === name);
  if (!found) throw new Error(`no channel ${name}`);
  return found;
}
