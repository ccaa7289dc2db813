import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import type { DpsError } from '../../lib/errors.js';
import {
  folderName,
  namePlaceholders,
  nameVars,
  renderName,
  resolveInside,
  sanitizeComponent,
  splitExtension,
  validatePattern,
  suffixName,
} from '../../lib/fs/safe-name.js';
import type { MediaItem } from '../../lib/types.js';
import { regexChar, regexRange } from '../helpers/regex-escape.js';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

// What every sanitised component must satisfy, whatever went in.
function assertPortable(t: Test, out: string, maxBytes = 120): void {
  t.ok(out.length > 0, `non-empty: ${JSON.stringify(out)}`);
  t.notOk(new RegExp(String.raw`[/\\:*?"<>|${regexRange(0x00, 0x1f)}${regexChar(0x7f)}]`).test(out), `no forbidden characters: ${JSON.stringify(out)}`);
  t.not(out, '.');
  t.not(out, '..');
  t.notOk(/[. ]$/.test(out), 'no trailing dot or space');
  t.notOk(/^ /.test(out), 'no leading space');
  t.ok(bytes(out) <= maxBytes, `at most ${maxBytes} bytes (${bytes(out)})`);
  t.equal(out, out.normalize('NFC'), 'NFC');
  t.notOk(/^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])( *)(\.|$)/i.test(out), 'no reserved device name');
  t.equal(sanitizeComponent(out, maxBytes), out, 'idempotent');
  t.notOk(/[\uD800-\uDFFF]/.test(out.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '')), 'no lone surrogate');
}

t.test('hostile names', async (t) => {
  const cases: [string, string][] = [
    ['../../x.png', '.._.._x.png'],
    ['..', '_'],
    ['.', '_'],
    ['', '_'],
    ['   ', '_'],
    ['...', '_'],
    ['CON.jpg', '_CON.jpg'],
    ['con', '_con'],
    ['NUL.txt', '_NUL.txt'],
    ['con.tar.gz', '_con.tar.gz'],
    ['Com1.png', '_Com1.png'],
    ['LPT9', '_LPT9'],
    ['COM¹.txt', '_COM¹.txt'],
    ['con .txt', '_con .txt'],
    ['CONSOLE.txt', 'CONSOLE.txt'],
    ['aux_file.png', 'aux_file.png'],
    ['a/b\\c:d*e?f"g<h>i|j.png', 'a_b_c_d_e_f_g_h_i_j.png'],
    ['tab\there\nnl\u0000nul\u007f.png', 'tab_here_nl_nul_.png'],
    ['trailing dots...', 'trailing dots'],
    ['trailing space.png  ', 'trailing space.png'],
    ['  leading.png', 'leading.png'],
    ['-rf.png', '-rf.png'],
    ['.hidden', '.hidden'],
    ['e\u0301.png', 'é.png'],
    ['evil\u202egnp.exe', 'evil_gnp.exe'],
    ['x.dps-tmp', 'x_dps-tmp'],
    ['lone\uD800surrogate.png', 'lone_surrogate.png'],
  ];
  for (const [input, expected] of cases) {
    const out = sanitizeComponent(input);
    t.equal(out, expected, JSON.stringify(input));
    assertPortable(t, out);
  }
});

t.test('long names keep their extension and never split a code point', async (t) => {
  const long = `${'a'.repeat(300)}.png`;
  const out = sanitizeComponent(long);
  t.equal(bytes(out), 120);
  t.ok(out.endsWith('.png'));
  assertPortable(t, out);

  // 4-byte emoji around the limit: the result must be valid UTF-8 that round-trips.
  for (let pad = 0; pad < 5; pad++) {
    const name = `${'x'.repeat(pad)}${'😀'.repeat(40)}.jpeg`;
    const cut = sanitizeComponent(name, 120);
    t.ok(bytes(cut) <= 120);
    t.ok(cut.endsWith('.jpeg'));
    t.equal(Buffer.from(cut, 'utf8').toString('utf8'), cut, 'round-trips through UTF-8');
    assertPortable(t, cut);
  }
  // Without a short extension the whole name is cut.
  const noExt = sanitizeComponent(`${'é'.repeat(100)}.${'z'.repeat(40)}`, 50);
  t.equal(bytes(noExt), 50);
  assertPortable(t, noExt, 50);
  // A ZWJ sequence cut in the middle leaves no dangling joiner.
  const family = sanitizeComponent('👨‍👩‍👧‍👦'.repeat(10), 13);
  t.notOk(family.endsWith('\u200d'));
  assertPortable(t, family, 13);
  // Truncation that would expose a reserved name or trailing dot is repaired within the budget.
  assertPortable(t, sanitizeComponent(`CON.${'x'.repeat(40)}`, 8), 8);
  assertPortable(t, sanitizeComponent(`ab. ${'c'.repeat(40)}.png`, 8), 8);
  t.equal(sanitizeComponent('é', 1), '_');
  t.throws(() => sanitizeComponent('a', 0), RangeError);
});

t.test('deterministic', async (t) => {
  const name = `${'Ωμέγα '.repeat(30)}?.webp`;
  t.equal(sanitizeComponent(name), sanitizeComponent(name));
});

t.test('splitExtension', async (t) => {
  t.same(splitExtension('a.tar.gz'), { name: 'a.tar', ext: 'gz' });
  t.same(splitExtension('.bashrc'), { name: '.bashrc', ext: '' });
  t.same(splitExtension('noext'), { name: 'noext', ext: '' });
  t.same(splitExtension('dot.'), { name: 'dot.', ext: '' });
});

t.test('renderName', async (t) => {
  const vars = { date: '2024-01-02', time: '030405', message_id: '99', name: 'cat', ext: 'png', attachment_id: '7' };
  t.equal(renderName('{date}_{time}_{message_id}_{name}.{ext}', vars), '2024-01-02_030405_99_cat.png');
  t.equal(renderName('{author}/{filename}', { author: 'a/b', filename: 'x.png' }), 'a_b_x.png', 'no subdirectories');
  t.equal(renderName('{name}', { name: '..' }), '_');
  t.equal(renderName('{author}', {}), '_', 'missing values render empty, then sanitised');
  t.equal(renderName('{name}', { name: 'CON' }), '_CON');
  t.equal(bytes(renderName('{name}', { name: 'y'.repeat(500) }, 60)), 60);
  const error = t.throws(() => renderName('{date}_{nope}_{Name}', vars)) as DpsError;
  t.equal(error.code, 'DPS_USAGE');
  t.match(error.message, /\{nope\}, \{Name\}/);
  t.match(error.message, /\{attachment_id\}/, 'lists the known placeholders');
  t.doesNotThrow(() => validatePattern('{date}-{attachment_id}_{filename}'));
  t.throws(() => validatePattern('{}'), { code: 'DPS_USAGE' });
  for (const [name, description] of Object.entries(namePlaceholders)) {
    t.ok(description.length > 0, name);
  }
});

t.test('nameVars', async (t) => {
  const item = {
    kind: 'item',
    context: { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' },
    message_id: '3',
    timestamp: '2023-05-06T07:08:09.123+00:00',
    author_id: '4',
    author_name: undefined,
    message: { edited_timestamp: null, author_display_name: undefined, author_bot: false, content: '' },
    attachment_id: '5',
    filename: 'photo.final.JPG',
    size: 1,
    content_type: 'image/jpeg',
    url: 'https://cdn.example/x',
    source: 'attachment',
    index: 2,
    last_of_message: true,
    unique_name: 'photo.final.JPG',
  } satisfies MediaItem;
  t.same(nameVars(item), {
    date: '2023-05-06',
    time: '070809',
    message_id: '3',
    attachment_id: '5',
    filename: 'photo.final.JPG',
    name: 'photo.final',
    ext: 'JPG',
    author_id: '4',
    author: '',
    channel_id: '2',
    guild_id: '1',
    index: '2',
    source: 'attachment',
  });
});

t.test('resolveInside', async (t) => {
  const root = path.resolve('/archive/root');
  t.equal(resolveInside(root, 'Server_1', 'chan_2', 'a.png'), path.join(root, 'Server_1', 'chan_2', 'a.png'));
  t.equal(resolveInside(root, '..', '..', 'etc', 'passwd'), path.join(root, '_', '_', 'etc', 'passwd'));
  t.equal(resolveInside(root, '../../x.png'), path.join(root, '.._.._x.png'));
  t.equal(resolveInside(root, '/etc/passwd'), path.join(root, '_etc_passwd'));
  t.equal(resolveInside(root, 'C:\\Windows'), path.join(root, 'C__Windows'));
  t.throws(() => resolveInside(root), { code: 'DPS_DOWNLOAD' }, 'the root itself is not strictly inside');
  t.equal(resolveInside(root, ''), path.join(root, '_'), 'empty becomes _');
});

t.test('folderName', async (t) => {
  t.equal(folderName('My Server', '123'), 'My Server_123');
  t.equal(folderName('../evil', '1'), '.._evil_1');
  t.equal(folderName('', '1'), '__1');
  t.equal(folderName('CON', '1'), '_CON_1');
  t.equal(folderName('dots...', '9'), 'dots_9');
  const long = folderName('名'.repeat(100), '123456789012345678');
  t.ok(bytes(long) <= 80 + 1 + 18);
  t.ok(long.endsWith('_123456789012345678'));
});

t.test('suffixName: the suffix goes before the extension and survives the length limit', async (t) => {
  t.equal(suffixName('photo.png', '_42'), 'photo_42.png');
  t.equal(suffixName('2024-01-31', '_42'), '2024-01-31_42', 'no extension: appended');
  t.equal(suffixName('.hidden', '_42'), '.hidden_42', 'a dotfile has no extension');
  const long = sanitizeComponent(`${'é'.repeat(100)}.png`);
  const cut = suffixName(long, '_1234567890123456789');
  t.ok(cut.endsWith('_1234567890123456789.png') && Buffer.byteLength(cut) <= 120, cut);
  const cjk = suffixName(sanitizeComponent(`${'写真'.repeat(40)}.jpeg`, 60), '_7_2', 60);
  t.ok(cjk.endsWith('_7_2.jpeg') && Buffer.byteLength(cjk) <= 60, cjk);
  t.equal(suffixName(cut, '_1234567890123456789'), sanitizeComponent(suffixName(cut, '_1234567890123456789')), 'already sanitised');
});
