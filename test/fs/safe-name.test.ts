import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import type { DpsError } from '../../lib/errors.js';
import {
  folderName,
  folderPatternPerItem,
  namePlaceholders,
  nameVars,
  renderFolder,
  renderName,
  resolveInside,
  sanitizeComponent,
  splitExtension,
  validatePattern,
  validatePathPattern,
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
    year: '2023',
    month: '05',
    guild: 'G',
    channel: 'c',
    parent: '',
    parent_id: '',
    thread: '',
    thread_id: '',
  });
  // In a thread, the channel is the thread itself (as in the events' channel_id); its parent is {parent}.
  const inThread = { ...item, context: { ...item.context, channel_id: '7', channel_name: 'th', parent_id: '2', parent_name: 'c' } };
  const vars = nameVars(inThread);
  t.same(
    [vars.channel, vars.channel_id, vars.thread, vars.thread_id, vars.parent, vars.parent_id],
    ['th', '7', 'th', '7', 'c', '2'],
    'thread: {channel} and {thread} are the thread, {parent} its channel',
  );
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

// --path-pattern (renderFolder): folders under --out from the same placeholders as file names.
const channelVars = { guild: 'Guild', guild_id: '1', channel: 'general', channel_id: '2', parent: '', parent_id: '', thread: '', thread_id: '' };
const threadVars = { ...channelVars, channel: 'Pics', channel_id: '3', parent: 'general', parent_id: '2', thread: 'Pics', thread_id: '3' };

t.test('renderFolder: / makes folders, each expanded like a file name', async (t) => {
  const root = path.resolve('/archive/root');
  t.equal(renderFolder(root, '{guild}/{channel}', channelVars), path.join(root, 'Guild', 'general'));
  t.equal(renderFolder(root, '{guild}_{guild_id}/{year}-{month}', { ...channelVars, year: '2024', month: '03' }), path.join(root, 'Guild_1', '2024-03'));
  t.equal(renderFolder(root, 'archive', channelVars), path.join(root, 'archive'), 'literal text: one shared folder');
  t.equal(renderFolder(root, '', channelVars), root, 'an empty pattern: --out itself');
  t.equal(renderFolder(root, './a//b/', channelVars), path.join(root, 'a', 'b'), 'empty and . folders are left out');
});

t.test('renderFolder: a folder whose placeholders all render empty is left out', async (t) => {
  const root = path.resolve('/archive/root');
  t.equal(renderFolder(root, '{guild}/{parent}/{channel}', channelVars), path.join(root, 'Guild', 'general'), 'no parent outside threads');
  t.equal(renderFolder(root, '{guild}/{parent}/{channel}', threadVars), path.join(root, 'Guild', 'general', 'Pics'), 'thread under its parent');
  t.equal(renderFolder(root, '{guild}/{thread}_{thread_id}', channelVars), path.join(root, 'Guild'), 'not `_`: the folder is left out');
  t.equal(renderFolder(root, '{guild}/{thread}_{thread_id}', threadVars), path.join(root, 'Guild', 'Pics_3'));
  t.equal(renderFolder(root, '{author}', { author: '' }), root, 'every folder left out: --out itself');
  t.equal(renderFolder(root, 'threads/{thread}', channelVars), path.join(root, 'threads'), 'literal folders stay');
  t.equal(renderFolder(root, '{author}-{author_id}', { author: '', author_id: '9' }), path.join(root, '-9'), 'one value is enough');
});

t.test('renderFolder: hostile values never add, leave or escape a folder', async (t) => {
  const root = path.resolve('/archive/root');
  const hostile = [
    '..',
    '.',
    '/',
    '//',
    '../../etc',
    '..\\..\\Windows',
    'C:',
    'C:\\',
    '\\\\server\\share',
    'a/b/c',
    '\u0000\u0001\n\r\t',
    'CON',
    'nul.txt',
    ' . ',
    '\u202egnp.exe',
    'x'.repeat(400),
    '名'.repeat(200),
    '\uD800',
    '.dps-tmp',
    'evil.dps-tmp',
  ];
  for (const value of hostile) {
    for (const pattern of ['{channel}', '{guild}/{channel}', '{author}/{filename}', 'a/{name}/b']) {
      const vars = { ...channelVars, channel: value, guild: value, author: value, filename: value, name: value };
      const folder = renderFolder(root, pattern, vars);
      const rel = path.relative(root, folder);
      const levels = pattern.split('/').length;
      t.ok(rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel), `${JSON.stringify(value)} in ${pattern}: inside (${rel})`);
      t.equal(rel.split(path.sep).length, levels, `${JSON.stringify(value)} in ${pattern}: exactly ${levels} folders`);
      for (const part of rel.split(path.sep)) {
        t.equal(sanitizeComponent(part), part, `${JSON.stringify(value)}: each folder is a sanitised name`);
        t.ok(bytes(part) <= 120, 'at most 120 bytes');
      }
    }
  }
  t.equal(renderFolder(root, '{channel}', { channel: '..' }), path.join(root, '_'));
  t.equal(renderFolder(root, '{channel}', { channel: 'C:' }), path.join(root, 'C_'));
  t.equal(renderFolder(root, '{channel}', { channel: 'a/../../b' }), path.join(root, 'a_.._.._b'));
  t.equal(renderFolder(root, '{channel}', { channel: 'CON' }), path.join(root, '_CON'));
});

t.test('validatePathPattern: a mistake is a one-line usage error showing the pattern', async (t) => {
  for (const good of ['', 'archive', '{guild}/{channel}', './{year}/{month}/', 'a b/{author} ({author_id})', '{thread}_{thread_id}']) {
    t.doesNotThrow(() => validatePathPattern(good), good);
  }
  const unknown = t.throws(() => validatePathPattern('{guild}/{chanel}')) as DpsError;
  t.equal(unknown.code, 'DPS_USAGE');
  t.match(unknown.message, /unknown placeholder \{chanel\} in path pattern "\{guild\}\/\{chanel\}"; known placeholders: .*\{channel\}.*\{thread_id\}/);
  t.notOk(unknown.message.includes('\n'), 'one line');
  for (const [bad, why] of [
    ['/abs/{guild}', /cannot be absolute/],
    ['\\abs', /cannot be absolute/],
    ['C:/x', /cannot be absolute/],
    ['c:x', /cannot be absolute/],
    ['a\\b', /separates folders with \//],
    ['..', /\.\. folder/],
    ['{guild}/../x', /\.\. folder/],
    ['a/..', /\.\. folder/],
  ] as const) {
    const error = t.throws(() => validatePathPattern(bad), bad) as DpsError;
    t.equal(error.code, 'DPS_USAGE', bad);
    t.match(error.message, why, bad);
    t.ok(error.message.includes(`"${bad}"`), `${bad}: the message shows the value typed`);
  }
  t.throws(() => renderFolder('/r', '../x', {}), { code: 'DPS_USAGE' }, 'rendering checks too');
});

t.test('folderPatternPerItem: only channel placeholders -> one folder per channel', async (t) => {
  for (const pattern of ['', 'archive', '{guild}/{channel}', '{guild_id}/{parent}_{parent_id}/{thread}_{thread_id}/{channel_id}']) {
    t.equal(folderPatternPerItem(pattern), false, pattern);
  }
  for (const pattern of ['{year}', '{guild}/{month}', '{author}', '{author_id}', '{date}', '{message_id}', '{filename}', '{source}']) {
    t.equal(folderPatternPerItem(pattern), true, pattern);
  }
});
