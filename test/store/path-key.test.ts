// pathKey (lib/store/store.ts) takes a fast path for printable ASCII: the attack is every string on which it
// could differ from the full computation (bench/sidecar-before.ts oldPathKey, as it was before the fast path): paths that normalize
// changes ('//', '.', '..', trailing slashes), and every Unicode case the full computation folds.

import t from 'tap';
import { pathKey } from '../../lib/store/store.js';
import { oldPathKey } from '../../bench/sidecar-before.js';
import { hostileStrings, PIECES } from '../helpers/hostile-strings.js';

t.test('pathKey: the same key as the full computation for every string', async (t) => {
  const named = [
    '',
    '/',
    '//',
    '.',
    '..',
    './',
    '../',
    'a/',
    'a//',
    '/a/b/',
    '/a//b',
    '/a/./b',
    '/a/../b',
    'a/..',
    'a/.',
    '/..',
    '...',
    '/a/.../b',
    '.a/b..',
    '/Archive/Server/General/IMG_0001.PNG.json',
    '/archive/stra\u00dfe.png',
    '/archive/STRASSE.png',
    '/archive/\u039f\u0394\u039f\u03a3.png', // ΟΔΟΣ: its lower case ends with a final sigma
    '/archive/\u00e9t\u00e9.png',
    '/archive/e\u0301te\u0301.png',
    '/archive/\uff21\uff22.png', // fullwidth AB
    '/archive/a\u0000b.png',
    '/archive/tab\there.png',
    '/archive/del\u007f.png',
  ];
  const all = [...named, ...PIECES, ...hostileStrings(23, 20_000)];
  let ascii = 0;
  let differ = 0;
  for (const file of all) {
    if (/^[ -~]*$/.test(file)) ascii++;
    if (pathKey(file) !== oldPathKey(file)) {
      differ++;
      if (differ <= 5) t.equal(pathKey(file), oldPathKey(file), `key of ${JSON.stringify(file)}`);
    }
  }
  t.equal(differ, 0, `no string of ${all.length} keyed differently`);
  t.ok(ascii > all.length / 3, `the fast path's strings are a good share (${ascii})`);
});

t.test('pathKey: one key for names the strictest file system takes as one', async (t) => {
  t.equal(pathKey('/Archive/A.PNG'), pathKey('/archive/a.png'));
  t.equal(pathKey('/archive//a/./b/../c.png'), pathKey('/archive/a/c.png'));
  t.equal(pathKey('/archive/STRASSE.png'), pathKey('/archive/stra\u00dfe.png'));
  t.equal(pathKey('/archive/e\u0301.png'), pathKey('/archive/\u00c9.png'));
  t.equal(pathKey('/archive/\uff21.png'), pathKey('/archive/a.png'), 'fullwidth A');
  t.not(pathKey('/archive/a.png/'), pathKey('/archive/a.png'), 'a trailing slash is kept, as normalize keeps it');
});
