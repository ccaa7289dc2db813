// The filter a channel was walked with (lib/store/walked-with.ts): what counts as selecting more, how a continued
// walk narrows the record, and which archived files a re-walk must not announce again.

import t from 'tap';
import { announcedBefore, intersect, walkFilterOf, widening } from '../../lib/store/walked-with.js';
import { parseTypes } from '../../lib/util/file-types.js';

const of = (types: string, maxSize?: number, embeds = false, stickers = false) => walkFilterOf({ types: parseTypes(types), maxSize, embeds, stickers });

t.test('widening: anything the recorded filter did not select', async (t) => {
  t.same(widening(of('png'), of('png')), []);
  t.same(widening(of('png,jpg'), of('jpg')), [], 'fewer types is narrower');
  t.same(widening(of('all'), of('png', 1000)), [], 'all covers every type');
  t.same(widening(of('png'), of('png,gif')), ['--types gif']);
  t.same(widening(of('png'), of('all')), ['--types all']);
  t.same(widening(of('image/*'), of('png')), ['--types png'], 'image/* does not cover a .png without content type');
  t.same(widening(of('all', 1000), of('all', 2000)), ['--max-size 2000 bytes']);
  t.same(widening(of('all', 1000), of('all')), ['no --max-size']);
  t.same(widening(of('all'), of('all', 1000)), [], 'a limit is narrower than none');
  t.same(widening(of('all'), of('all', undefined, true)), ['--embeds']);
  t.same(widening(of('all'), of('all', undefined, false, true)), ['--stickers']);
  t.same(widening(of('all', undefined, true, true), of('all')), [], 'turning embeds off is narrower');
});

t.test('intersect: what a walk continued with another filter still promises', async (t) => {
  t.same(intersect(undefined, of('png')), of('png'), "a new record takes the run's filter");
  t.same(intersect(of('png,jpg', 5000, true), of('jpg,gif', 3000, false, true)), of('jpg', 3000));
  t.same(intersect(of('all'), of('png')), of('png'));
  t.same(intersect(of('png', 100), of('all')), of('png', 100));
  t.same(widening(intersect(of('all'), of('png')), of('all')), ['--types all'], 'after a narrower walk, the wider filter re-walks');
});

t.test('announcedBefore: earlier runs announced what lay below the old cursor or in its span, saved before the re-walk', async (t) => {
  t.equal(announcedBefore(undefined), undefined, 'no re-walk: no rule');
  const announced = announcedBefore({ below: '100', above: { from: '200', to: '300' }, since: '2026-01-02T00:00:00.000Z' })!;
  const before = { updated_at: '2026-01-01T00:00:00.000Z' };
  const during = { updated_at: '2026-01-02T00:00:01.000Z' };
  t.ok(announced({ message_id: '100' }, before));
  t.ok(announced({ message_id: '250' }, before));
  t.notOk(announced({ message_id: '150' }, before), 'between the cursor and the span: not announced');
  t.notOk(announced({ message_id: '301' }, before), 'above the span: not announced');
  t.notOk(announced({ message_id: '50' }, during), 'saved by the re-walk itself: not announced yet');
});
