// What a channel's data file stores as differences, made whole (issue 25): the gallery page's second classic
// script (unpack.js, loaded before app.js, which calls it once per channel), and the same code Node runs for the
// tests and the bench that read data files (bench/page-unpack.ts loads the built file for them). Post times add
// up from 0; the ids are lib/gallery/channel-data.ts packIds': a message id a difference from the previous file's
// (0 the same message), an attachment id a difference from its message id, a string the id itself. An id that
// cannot be rebuilt (a difference with nothing to add it to, not an integer JSON keeps exactly, neither number nor
// string) becomes '': no jump link, and no file the URL can name.
// A classic script: no import or export, its one global the function below.

// biome-ignore lint/correctness/noUnusedVariables: the page's global, called from app.js (another script)
function dpsUnpack(items: Pick<import('./data-types.js').ChannelItems, 't' | 'message_id' | 'attachment_id'>): void {
  const canonical = /^(0|[1-9]\d{0,19})$/;
  let time = 0;
  let previous: bigint | null = 0n;
  let message = '';
  for (let i = 0; i < items.t.length; i++) {
    time += Number(items.t[i]) || 0;
    items.t[i] = time;
    const m = items.message_id[i];
    if (m === 0 && previous !== null) {
      // the previous file's message: its id as it stands
    } else if (typeof m === 'number' && Number.isSafeInteger(m) && previous !== null) {
      previous += BigInt(m);
      message = String(previous);
    } else if (typeof m === 'string') {
      previous = canonical.test(m) ? BigInt(m) : null;
      message = m;
    } else {
      previous = null;
      message = '';
    }
    items.message_id[i] = message;
    const a = items.attachment_id[i];
    if (typeof a === 'number' && Number.isSafeInteger(a) && previous !== null) items.attachment_id[i] = String(previous + BigInt(a));
    else if (typeof a !== 'string') items.attachment_id[i] = '';
  }
}
