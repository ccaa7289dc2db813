// The input digest on a data file's first line (lib/gallery/data-files.ts): read back as written, absent from a
// file without it, the script still a valid data file for the page, and the digest moved by any change to a row,
// their order or the context.

import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { channelScript, inputDigest, readInputDigest } from '../../lib/gallery/data-files.js';

t.test('a data file carries its input digest on its first line', async (t) => {
  const dir = t.testdir();
  const rows = [
    { attachment_id: '1', content: 'a */ b </script>', th: null },
    { attachment_id: '2', content: '', th: 'thumbs/ab/x.webp' },
  ];
  const digest = inputDigest(['2/6/1', { channel_id: '9' }], rows);
  const file = join(dir, 'c-9.js');
  const text = channelScript('9', { items: rows }, digest);
  writeFileSync(file, text);
  t.equal(await readInputDigest(file), digest, 'read back');
  let got: unknown;
  runInNewContext(text, { window: { dpsGallery: { channel: (_id: string, data: unknown) => (got = data) } } });
  t.same(got, { items: rows }, 'still a script the page runs');
  writeFileSync(file, channelScript('9', { items: rows }));
  t.equal(await readInputDigest(file), null, 'a file without it');
  t.equal(await readInputDigest(join(dir, 'missing.js')), null, 'a missing file');
  writeFileSync(file, '/* dps-gallery-input abc');
  t.equal(await readInputDigest(file), null, 'a cut line');

  const others = [
    inputDigest(['2/6/1', { channel_id: '9' }], [rows[1], rows[0]]),
    inputDigest(['2/6/1', { channel_id: '9' }], [rows[0]]),
    inputDigest(['2/6/1', { channel_id: '9' }], [{ ...rows[0], content: 'a */ b </script> ' }, rows[1]]),
    inputDigest(['2/6/2', { channel_id: '9' }], rows),
    inputDigest(['2/6/1', { channel_id: '8' }], rows),
  ];
  t.equal(new Set([digest, ...others]).size, others.length + 1, 'any change moves the digest');
  t.equal(inputDigest(['2/6/1', { channel_id: '9' }], rows), digest, 'the same input, the same digest');
});
