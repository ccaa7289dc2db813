// The gallery page (issue 25): plain TypeScript compiled to classic scripts (app.js, and unpack.js before it:
// web/unpack.ts, which rebuilds a data file's packed times and ids), because module scripts and fetch() are
// blocked on file://. It registers window.dpsGallery, loads data/index.js with a <script> tag, then
// each channel's data file on demand (data/c-<id>.js). The data format is the contract in lib/gallery's generator
// (its types: web/data-types.ts).
// Every string from the archive reaches the DOM through textContent or an attribute, never as HTML.

// The data files' types, shared with the generator (web/data-types.ts). Type imports emit nothing, so this stays
// a classic script.
type GalleryChannel = import('./data-types.js').IndexChannel;
type GalleryServer = import('./data-types.js').IndexServer;
type GalleryIndex = import('./data-types.js').GalleryIndex;
type GalleryChannelData = import('./data-types.js').ChannelData;
type GalleryDataVersion = import('./data-types.js').GalleryDataVersion;

interface DpsGallery {
  index(data: GalleryIndex): void;
  channel(id: string, data: GalleryChannelData): void;
}

(() => {
  // ---- constants: the grid's fixed geometry (the CSS uses the same numbers) ----
  const CELL = 160;
  const GAP = 4;
  const PAD = 16;
  const HEADER_H = 40;
  const ROW_H = CELL + GAP;
  const OVERSCAN = 2; // rows rendered above and below the viewport
  const KIND_NAMES = ['Images', 'Animated', 'Videos', 'Other'];
  const KIND_LABEL = ['IMAGE', 'GIF', 'VIDEO', 'FILE'];

  // ---- the view, as the URL hash holds it ----
  interface View {
    c: string | null; // channel id
    au: string | null; // author id
    from: string; // YYYY-MM-DD, inclusive, UTC
    to: string; // YYYY-MM-DD, inclusive, UTC
    k: number[]; // kinds shown (empty: all)
    q: string; // text search over message content
    i: string | null; // open attachment id
  }

  const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
  function parseHash(hash: string): View {
    const p = new URLSearchParams(hash.replace(/^#/, ''));
    const date = (s: string | null): string => (s && DATE_RE.test(s) ? s : '');
    const k = (p.get('k') ?? '')
      .split(',')
      .filter((s) => /^[0-3]$/.test(s))
      .map(Number);
    return {
      c: p.get('c') || null,
      au: p.get('a') || null,
      from: date(p.get('from')),
      to: date(p.get('to')),
      k: [...new Set(k)].sort(),
      q: p.get('q') ?? '',
      i: p.get('i') || null,
    };
  }
  function formatHash(v: View): string {
    const p = new URLSearchParams();
    if (v.c) p.set('c', v.c);
    if (v.au) p.set('a', v.au);
    if (v.from) p.set('from', v.from);
    if (v.to) p.set('to', v.to);
    if (v.k.length > 0 && v.k.length < 4) p.set('k', v.k.join(','));
    if (v.q) p.set('q', v.q);
    if (v.i) p.set('i', v.i);
    const s = p.toString();
    return s ? `#${s}` : '#';
  }
  const filterKey = (v: View): string => JSON.stringify([v.au, v.from, v.to, v.k, v.q]);

  // ---- small DOM helpers ----
  function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function byId<T extends HTMLElement>(id: string): T {
    const e = document.getElementById(id);
    if (!e) throw new Error(`the page has no #${id}`);
    return e as T;
  }
  // A path from the data files, used only if it is relative (no scheme, not absolute): the gallery never loads
  // anything from elsewhere.
  function relativePath(p: string | null | undefined): string | null {
    if (typeof p !== 'string' || p === '') return null;
    if (/^[a-z][a-z0-9+.-]*:/i.test(p) || p.startsWith('/') || p.startsWith('\\')) return null;
    return p;
  }
  // The data format this page reads (the generator writes the same number; it rewrites every data file at once).
  const DATA_VERSION: GalleryDataVersion = 3;
  const SNOWFLAKE = /^\d{1,20}$/;
  const SHA256 = /^[A-Za-z0-9_-]{43}$/; // base64url
  function hexOf(b64url: string): string {
    const bin = atob(`${b64url.replace(/-/g, '+').replace(/_/g, '/')}=`);
    let hex = '';
    for (let k = 0; k < bin.length; k++) hex += bin.charCodeAt(k).toString(16).padStart(2, '0');
    return hex;
  }
  // Derived from the channel's data rather than stored per file: the file's URL, its thumbnail, its jump link.
  function fileUrl(data: GalleryChannelData, i: number): string | null {
    const name = data.items.n[i];
    const folder = data.folders[data.items.fd[i]!];
    if (typeof name !== 'string' || name === '' || typeof folder !== 'string') return null;
    return relativePath(folder === '' ? encodeURIComponent(name) : `${folder}/${encodeURIComponent(name)}`);
  }
  function thumbUrl(data: GalleryChannelData, i: number): string | null {
    const sha = data.items.th[i];
    if (typeof sha !== 'string' || !SHA256.test(sha)) return null;
    const hex = hexOf(sha);
    return `thumbs/${hex.slice(0, 2)}/${hex}.webp`;
  }
  function jumpUrl(data: GalleryChannelData, i: number): string | null {
    const guild = data.guild_id ?? '@me';
    const message = data.items.message_id[i];
    if (!(guild === '@me' || SNOWFLAKE.test(guild)) || !SNOWFLAKE.test(String(data.channel_id)) || !SNOWFLAKE.test(String(message))) return null;
    return `https://discord.com/channels/${guild}/${data.channel_id}/${message}`;
  }
  // The name shown: Discord's filename when the archive saved the file under another name.
  function shownName(data: GalleryChannelData, i: number): string {
    const n = String(data.items.n[i] ?? '');
    const o = data.items.o[i];
    if (typeof o === 'number') return Number.isInteger(o) && o >= 0 && o < n.length ? n.slice(o) : n;
    return typeof o === 'string' && o !== '' ? o : n;
  }
  const monthFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', timeZone: 'UTC' });
  const shortMonthFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', timeZone: 'UTC' });
  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  function span(first: string, last: string): string {
    const a = new Date(first);
    const b = new Date(last);
    if (Number.isNaN(a.getTime()) || Number.isNaN(b.getTime())) return '';
    const fa = shortMonthFmt.format(a);
    const fb = shortMonthFmt.format(b);
    return fa === fb ? fa : `${fa} – ${fb}`;
  }
  const plural = (n: number, one: string, many: string): string => `${n.toLocaleString()} ${n === 1 ? one : many}`;

  // ---- page elements ----
  const main = byId<HTMLElement>('main');
  const crumbs = byId<HTMLElement>('crumbs');
  const lightbox = byId<HTMLDialogElement>('lightbox');

  function showMessage(text: string): void {
    current = null;
    main.replaceChildren(el('p', 'empty', text));
    main.querySelector('p')?.setAttribute('role', 'status');
  }

  // ---- data loading ----
  let indexData: GalleryIndex | null = null;
  const channelData = new Map<string, GalleryChannelData>();
  const channelLoads = new Map<string, Promise<GalleryChannelData>>();
  const expanded = new WeakSet<GalleryChannelData>();

  (window as unknown as { dpsGallery: DpsGallery }).dpsGallery = {
    index(data: GalleryIndex): void {
      indexData = data;
    },
    channel(id: string, data: GalleryChannelData): void {
      channelData.set(String(id), data);
    },
  };

  function loadScript(src: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = () => resolve();
      s.onerror = () => reject(new Error(`Could not load ${src}`));
      document.head.append(s);
    });
  }

  function loadChannel(entry: GalleryChannel): Promise<GalleryChannelData> {
    let p = channelLoads.get(entry.id);
    if (!p) {
      const src = relativePath(entry.data);
      p = (src ? loadScript(src) : Promise.reject(new Error(`The data path of channel ${entry.id} is not a relative path`))).then(() => {
        const d = channelData.get(entry.id);
        if (!d?.items || !Array.isArray(d.items.attachment_id)) throw new Error(`${entry.data} did not hold this channel's data`);
        if (d.version !== DATA_VERSION)
          throw new Error(`${entry.data} is gallery data version ${String(d.version)}, this page reads version ${DATA_VERSION}. Run \`dps gallery\` again.`);
        if (!Array.isArray(d.folders) || !Array.isArray(d.items.o) || !Array.isArray(d.items.t) || !Array.isArray(d.items.message_id))
          throw new Error(`${entry.data} did not hold this channel's data`);
        if (!expanded.has(d)) {
          dpsUnpack(d.items); // web/unpack.ts (unpack.js, loaded before this script)
          expanded.add(d);
        }
        return d;
      });
      p.catch(() => channelLoads.delete(entry.id));
      channelLoads.set(entry.id, p);
    }
    return p;
  }

  function findChannel(id: string): { server: GalleryServer; channel: GalleryChannel } | null {
    for (const server of indexData?.servers ?? []) {
      for (const channel of server.channels) if (channel.id === id) return { server, channel };
    }
    return null;
  }

  // ---- the index: servers -> channels and threads ----
  function showIndex(): void {
    current = null;
    document.title = 'Gallery';
    crumbs.replaceChildren();
    const wrap = el('div', 'index');
    const servers = indexData?.servers ?? [];
    if (servers.length === 0) wrap.append(el('p', 'empty', 'Nothing archived yet.'));
    for (const server of servers) {
      const sec = el('section', 'server');
      const h = el('h2', undefined, server.name);
      h.id = `s-${server.id}`;
      sec.setAttribute('aria-labelledby', h.id);
      const list = el('ul', 'cards');
      for (const ch of server.channels) {
        const li = el('li');
        const a = el('a', 'card');
        a.href = formatHash({ c: ch.id, au: null, from: '', to: '', k: [], q: '', i: null });
        a.dataset.channel = ch.id;
        const cover = el('div', 'cover');
        const src = relativePath(ch.cover);
        if (src) {
          const img = el('img');
          img.loading = 'lazy';
          img.decoding = 'async';
          img.alt = '';
          img.src = src;
          cover.append(img);
        } else cover.append(el('span', 'ph', 'No preview'));
        const label = el('div', 'label');
        const title = ch.kind !== 'channel' && ch.parent_name ? `${ch.parent_name} › ${ch.name}` : ch.name;
        label.append(el('div', 'name', ch.kind === 'channel' ? `#${title}` : title));
        const kind = ch.kind === 'thread' ? 'thread · ' : ch.kind === 'forum-post' ? 'forum post · ' : '';
        label.append(el('div', 'sub', `${kind}${plural(ch.count, 'file', 'files')}`));
        const when = span(ch.first, ch.last);
        if (when) label.append(el('div', 'sub', when));
        a.append(cover, label);
        li.append(a);
        list.append(li);
      }
      sec.append(h, list);
      wrap.append(sec);
    }
    main.replaceChildren(wrap);
  }

  // ---- a channel: toolbar, filters and the virtualized grid ----
  interface Row {
    header: boolean;
    top: number;
    start: number; // positions in `shown`
    end: number;
    month: number;
  }
  interface ChannelView {
    entry: GalleryChannel;
    server: GalleryServer;
    data: GalleryChannelData;
    key: string;
    view: View;
    shown: Int32Array; // item indices passing the filters, in post order
    pos: Int32Array; // item index -> position in shown, -1 when filtered out
    rows: Row[];
    height: number;
    cols: number;
    scroller: HTMLElement;
    space: HTMLElement;
    month: HTMLElement; // the month of the first row on screen, kept at the top while its header scrolls away
    rendered: Map<number, HTMLElement>;
    controls: {
      author: HTMLSelectElement;
      from: HTMLInputElement;
      to: HTMLInputElement;
      kinds: HTMLInputElement[];
      q: HTMLInputElement;
      count: HTMLElement;
    };
    lower: string[] | null;
  }
  let current: ChannelView | null = null;

  function filter(cv: ChannelView): void {
    const { items, texts, authors } = cv.data;
    const v = cv.view;
    const n = items.attachment_id.length;
    const author = v.au === null ? -1 : authors.findIndex((a) => a.id === v.au);
    const from = v.from ? Date.parse(`${v.from}T00:00:00Z`) / 1000 : Number.NEGATIVE_INFINITY;
    const to = v.to ? Date.parse(`${v.to}T00:00:00Z`) / 1000 + 86400 : Number.POSITIVE_INFINITY;
    let kinds = 0;
    for (const k of v.k.length > 0 ? v.k : [0, 1, 2, 3]) kinds |= 1 << k;
    let textOk: Uint8Array | null = null;
    const words = v.q.toLocaleLowerCase().split(/\s+/).filter(Boolean);
    if (words.length > 0) {
      cv.lower ??= texts.map((s) => String(s).toLocaleLowerCase());
      textOk = new Uint8Array(texts.length);
      cv.lower.forEach((s, i) => {
        if (words.every((w) => s.includes(w))) textOk![i] = 1;
      });
    }
    const shown = new Int32Array(n);
    const pos = new Int32Array(n).fill(-1);
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (v.au !== null && items.a[i] !== author) continue;
      const t = items.t[i]!;
      if (t < from || t >= to) continue;
      if (!(kinds & (1 << (items.k[i]! & 3)))) continue;
      if (textOk) {
        const x = items.x[i]!;
        if (x < 0 || !textOk[x]) continue;
      }
      pos[i] = m;
      shown[m++] = i;
    }
    cv.shown = shown.subarray(0, m);
    cv.pos = pos;
  }

  const monthName = (month: number): string => monthFmt.format(new Date(Date.UTC(Math.floor(month / 12), month % 12, 1)));
  const monthOf = (t: number): number => {
    const d = new Date(t * 1000);
    return d.getUTCFullYear() * 12 + d.getUTCMonth();
  };

  function layout(cv: ChannelView): void {
    const width = cv.scroller.clientWidth || window.innerWidth;
    cv.cols = Math.max(1, Math.floor((width - 2 * PAD + GAP) / (CELL + GAP)));
    const rows: Row[] = [];
    const t = cv.data.items.t;
    let top = 0;
    let p = 0;
    const m = cv.shown.length;
    while (p < m) {
      const month = monthOf(t[cv.shown[p]!]!);
      // The month's bounds in seconds, so the items inside it need no Date each.
      const lo = Date.UTC(Math.floor(month / 12), month % 12, 1) / 1000;
      const hi = Date.UTC(Math.floor(month / 12), (month % 12) + 1, 1) / 1000;
      let end = p + 1;
      while (end < m) {
        const te = t[cv.shown[end]!]!;
        if (te < lo || te >= hi) break;
        end++;
      }
      rows.push({ header: true, top, start: p, end: p, month });
      top += HEADER_H;
      for (let s = p; s < end; s += cv.cols) {
        rows.push({ header: false, top, start: s, end: Math.min(end, s + cv.cols), month });
        top += ROW_H;
      }
      p = end;
    }
    cv.rows = rows;
    cv.height = top + PAD;
    cv.space.style.height = `${cv.height}px`;
    for (const e of cv.rendered.values()) e.remove();
    cv.rendered.clear();
    cv.controls.count.textContent = `${m.toLocaleString()} of ${plural(cv.data.items.attachment_id.length, 'file', 'files')}`;
    const empty = cv.scroller.querySelector('.empty');
    if (m === 0 && !empty) cv.scroller.append(el('p', 'empty', 'No file matches these filters.'));
    if (m > 0 && empty) empty.remove();
  }

  // The first row whose bottom is below y.
  function rowAt(cv: ChannelView, y: number): number {
    let lo = 0;
    let hi = cv.rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const r = cv.rows[mid]!;
      if (r.top + (r.header ? HEADER_H : ROW_H) <= y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  // The item row holding position p in `shown`.
  function rowOfPos(cv: ChannelView, p: number): number {
    let lo = 0;
    let hi = cv.rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cv.rows[mid]!.start <= p) lo = mid;
      else hi = mid - 1;
    }
    while (lo < cv.rows.length && cv.rows[lo]!.header) lo++;
    return lo;
  }

  function cellFor(cv: ChannelView, p: number): HTMLElement {
    const { items } = cv.data;
    const i = cv.shown[p]!;
    const k = items.k[i]! & 3;
    const b = el('button', 'cell');
    b.type = 'button';
    b.dataset.p = String(p);
    b.dataset.id = String(items.attachment_id[i]);
    b.tabIndex = -1;
    const th = thumbUrl(cv.data, i);
    const name = shownName(cv.data, i);
    if (th) {
      const img = el('img');
      img.loading = 'lazy';
      img.decoding = 'async';
      img.alt = items.d[i] || name;
      img.width = CELL;
      img.height = CELL;
      img.src = th;
      b.append(img);
    } else {
      const ph = el('span', 'ph');
      ph.append(el('span', 'type', KIND_LABEL[k]!), el('span', 'fname', name));
      if (items.d[i]) b.setAttribute('aria-label', `${KIND_LABEL[k]} ${items.d[i]}`);
      b.append(ph);
    }
    if (k === 1 && th) b.append(el('span', 'badge', 'GIF'));
    if (k === 2 && th) b.append(el('span', 'badge', 'VIDEO'));
    return b;
  }

  let focusPos = 0; // the grid's roving tab stop
  function render(cv: ChannelView): void {
    if (cv.rows.length === 0) return;
    const top = cv.scroller.scrollTop;
    const h = cv.scroller.clientHeight || window.innerHeight;
    const atTop = cv.rows[rowAt(cv, top)]!;
    const label = atTop.header && atTop.top >= top ? '' : monthName(atTop.month);
    if (cv.month.textContent !== label) cv.month.textContent = label;
    cv.month.hidden = label === '';
    const first = Math.max(0, rowAt(cv, top) - OVERSCAN);
    const last = Math.min(cv.rows.length - 1, rowAt(cv, top + h) + OVERSCAN);
    for (const [r, e] of cv.rendered) {
      if (r < first || r > last) {
        if (e.contains(document.activeElement)) continue; // keep the focused cell until focus moves
        e.remove();
        cv.rendered.delete(r);
      }
    }
    for (let r = first; r <= last; r++) {
      if (cv.rendered.has(r)) continue;
      const row = cv.rows[r]!;
      const e = el('div', row.header ? 'row month' : 'row');
      e.style.top = `${row.top}px`;
      e.style.height = `${row.header ? HEADER_H : ROW_H}px`;
      if (row.header) {
        e.setAttribute('role', 'heading');
        e.setAttribute('aria-level', '2');
        e.textContent = monthName(row.month);
      } else {
        for (let p = row.start; p < row.end; p++) {
          const c = cellFor(cv, p);
          if (p === focusPos) c.tabIndex = 0;
          e.append(c);
        }
      }
      cv.rendered.set(r, e);
      cv.space.append(e);
    }
    if (!cv.space.querySelector('.cell[tabindex="0"]')) cv.space.querySelector<HTMLElement>('.cell')?.setAttribute('tabindex', '0');
  }

  function scrollToPos(cv: ChannelView, p: number): void {
    const r = cv.rows[rowOfPos(cv, p)];
    if (!r) return;
    const top = cv.scroller.scrollTop;
    const h = cv.scroller.clientHeight;
    if (r.top < top) cv.scroller.scrollTop = Math.max(0, r.top - HEADER_H);
    else if (r.top + ROW_H > top + h) cv.scroller.scrollTop = r.top + ROW_H - h;
    render(cv);
  }

  function focusCell(cv: ChannelView, p: number): void {
    if (cv.shown.length === 0) return;
    focusPos = Math.max(0, Math.min(cv.shown.length - 1, p));
    scrollToPos(cv, focusPos);
    for (const c of cv.space.querySelectorAll<HTMLElement>('.cell[tabindex="0"]')) c.tabIndex = -1;
    const cell = cv.space.querySelector<HTMLElement>(`.cell[data-p="${focusPos}"]`);
    if (cell) {
      cell.tabIndex = 0;
      cell.focus({ preventScroll: true });
    }
  }

  function setView(v: View, push: boolean): void {
    const hash = formatHash(v);
    if (hash === (location.hash || '#')) return;
    if (push) location.hash = hash;
    else {
      history.replaceState(null, '', hash);
      void route();
    }
  }

  function buildChannel(server: GalleryServer, entry: GalleryChannel, data: GalleryChannelData, v: View): ChannelView {
    const toolbar = el('form', 'toolbar');
    toolbar.setAttribute('role', 'search');
    toolbar.setAttribute('aria-label', 'Filters');
    toolbar.addEventListener('submit', (e) => e.preventDefault());

    const author = el('select');
    author.name = 'author';
    author.append(new Option('Everyone', ''));
    const counts = new Map<number, number>();
    for (const a of data.items.a) counts.set(a, (counts.get(a) ?? 0) + 1);
    const order = data.authors.map((_, i) => i).filter((i) => counts.has(i));
    order.sort((x, y) => (counts.get(y) ?? 0) - (counts.get(x) ?? 0));
    for (const i of order) {
      const a = data.authors[i]!;
      author.append(new Option(`${a.display || a.name} (${counts.get(i)})`, a.id));
    }
    const la = el('label', undefined, 'Author ');
    la.append(author);

    const day = (iso: string): string => (DATE_RE.test(iso.slice(0, 10)) ? iso.slice(0, 10) : '');
    const from = el('input');
    from.type = 'date';
    from.name = 'from';
    const to = el('input');
    to.type = 'date';
    to.name = 'to';
    for (const d of [from, to]) {
      if (day(entry.first)) d.min = day(entry.first);
      if (day(entry.last)) d.max = day(entry.last);
    }
    const lf = el('label', undefined, 'From ');
    lf.append(from);
    const lt = el('label', undefined, 'To ');
    lt.append(to);

    const fs = el('fieldset');
    fs.append(el('legend', undefined, 'Type'));
    const kinds = KIND_NAMES.map((name, k) => {
      const box = el('input');
      box.type = 'checkbox';
      box.name = 'kind';
      box.value = String(k);
      const l = el('label');
      l.append(box, ` ${name}`);
      fs.append(l);
      return box;
    });

    const q = el('input');
    q.type = 'search';
    q.name = 'q';
    q.placeholder = 'Search messages';
    q.setAttribute('aria-label', 'Search message text');
    const count = el('span', 'count');
    count.setAttribute('role', 'status');
    toolbar.append(la, lf, lt, fs, q, count);

    const scroller = el('div', 'scroller');
    scroller.setAttribute('aria-label', `Files in ${entry.name}`);
    const space = el('div', 'space');
    space.setAttribute('role', 'grid');
    const sticky = el('div', 'current-month');
    sticky.setAttribute('aria-hidden', 'true');
    const month = el('span');
    sticky.append(month);
    scroller.append(sticky, space);
    main.replaceChildren(toolbar, scroller);

    const cv: ChannelView = {
      entry,
      server,
      data,
      key: '',
      view: v,
      shown: new Int32Array(0),
      pos: new Int32Array(0),
      rows: [],
      height: 0,
      cols: 1,
      scroller,
      space,
      month,
      rendered: new Map(),
      controls: { author, from, to, kinds, q, count },
      lower: null,
    };

    const readControls = (): void => {
      const k = kinds.filter((b) => b.checked).map((b) => Number(b.value));
      setView(
        {
          c: entry.id,
          au: author.value || null,
          from: DATE_RE.test(from.value) ? from.value : '',
          to: DATE_RE.test(to.value) ? to.value : '',
          k: k.length === 4 ? [] : k,
          q: q.value,
          i: null,
        },
        false,
      );
    };
    toolbar.addEventListener('input', readControls);
    toolbar.addEventListener('change', readControls);

    let frame = 0;
    scroller.addEventListener(
      'scroll',
      () => {
        if (frame) return;
        frame = requestAnimationFrame(() => {
          frame = 0;
          if (current === cv) render(cv);
        });
      },
      { passive: true },
    );
    new ResizeObserver(() => {
      if (current !== cv) return;
      const cols = Math.max(1, Math.floor((scroller.clientWidth - 2 * PAD + GAP) / (CELL + GAP)));
      if (cols !== cv.cols) {
        const firstRow = cv.rows[rowAt(cv, scroller.scrollTop)];
        layout(cv);
        if (firstRow) scroller.scrollTop = cv.rows[rowOfPos(cv, firstRow.start)]?.top ?? 0;
      }
      render(cv);
    }).observe(scroller);

    space.addEventListener('click', (e) => {
      const cell = (e.target as Element).closest<HTMLElement>('.cell');
      if (!cell || current !== cv) return;
      focusPos = Number(cell.dataset.p);
      setView({ ...cv.view, i: cell.dataset.id ?? null }, true);
    });
    space.addEventListener('keydown', (e) => {
      const cell = (e.target as Element).closest<HTMLElement>('.cell');
      if (!cell || current !== cv) return;
      const p = Number(cell.dataset.p);
      const move: Record<string, number> = {
        ArrowRight: 1,
        ArrowLeft: -1,
        ArrowDown: cv.cols,
        ArrowUp: -cv.cols,
        PageDown: cv.cols * 4,
        PageUp: -cv.cols * 4,
        Home: -p,
        End: cv.shown.length - 1 - p,
      };
      const d = move[e.key];
      if (d === undefined) return;
      e.preventDefault();
      focusCell(cv, p + d);
    });
    return cv;
  }

  function syncControls(cv: ChannelView): void {
    const v = cv.view;
    const c = cv.controls;
    if (c.author.value !== (v.au ?? '')) {
      if (v.au && ![...c.author.options].some((o) => o.value === v.au)) c.author.append(new Option(`Unknown author ${v.au}`, v.au));
      c.author.value = v.au ?? '';
    }
    if (c.from.value !== v.from) c.from.value = v.from;
    if (c.to.value !== v.to) c.to.value = v.to;
    c.kinds.forEach((b, k) => {
      b.checked = v.k.length === 0 || v.k.includes(k);
    });
    if (c.q.value !== v.q) c.q.value = v.q;
  }

  function showChannel(server: GalleryServer, entry: GalleryChannel, data: GalleryChannelData, v: View): ChannelView {
    let cv = current;
    if (!cv || cv.entry.id !== entry.id) {
      cv = buildChannel(server, entry, data, v);
      current = cv;
      focusPos = 0;
      document.title = `${entry.name} · ${server.name} · Gallery`;
      const parent = entry.kind !== 'channel' && entry.parent_name ? `${entry.parent_name} › ` : '';
      crumbs.replaceChildren(el('span', undefined, `${server.name} › ${parent}${entry.kind === 'channel' ? '#' : ''}${entry.name}`));
    }
    cv.view = v;
    const key = filterKey(v);
    if (key !== cv.key) {
      cv.key = key;
      syncControls(cv);
      filter(cv);
      layout(cv);
      cv.scroller.scrollTop = 0;
      focusPos = 0;
    }
    render(cv);
    return cv;
  }

  // ---- the lightbox ----
  const lb = {
    media: byId<HTMLElement>('lb-media'),
    title: byId<HTMLElement>('lb-title'),
    author: byId<HTMLElement>('lb-author'),
    date: byId<HTMLTimeElement>('lb-date'),
    channel: byId<HTMLElement>('lb-channel'),
    text: byId<HTMLElement>('lb-text'),
    jump: byId<HTMLAnchorElement>('lb-jump'),
    file: byId<HTMLAnchorElement>('lb-file'),
    pos: byId<HTMLElement>('lb-pos'),
    prev: byId<HTMLButtonElement>('lb-prev'),
    next: byId<HTMLButtonElement>('lb-next'),
    close: byId<HTMLButtonElement>('lb-close'),
    similarBox: byId<HTMLElement>('lb-similar-box'),
    similar: byId<HTMLElement>('lb-similar'),
  };
  let openItem = -1; // item index shown in the lightbox
  let returnFocus: string | null = null; // attachment id whose cell gets focus back

  function setLink(a: HTMLAnchorElement, href: string | null): void {
    if (href) {
      a.href = href;
      a.hidden = false;
    } else {
      a.removeAttribute('href');
      a.hidden = true;
    }
  }

  function openLightbox(cv: ChannelView, id: string): void {
    const { items, authors, texts } = cv.data;
    const i = items.attachment_id.indexOf(id);
    if (i < 0) {
      closeLightbox();
      return;
    }
    if (!lightbox.open) {
      const active = document.activeElement as HTMLElement | null;
      returnFocus = active?.classList.contains('cell') ? (active.dataset.id ?? null) : id;
    }
    if (openItem !== i || !lightbox.open) {
      openItem = i;
      const k = items.k[i]! & 3;
      const src = fileUrl(cv.data, i);
      const name = shownName(cv.data, i);
      const alt = items.d[i] || name;
      let media: HTMLElement;
      if (src && k <= 1) {
        const img = el('img');
        img.alt = alt;
        img.src = src;
        media = img;
      } else if (src && k === 2) {
        const video = el('video');
        video.controls = true;
        video.preload = 'metadata';
        video.src = src;
        video.setAttribute('aria-label', alt);
        media = video;
      } else {
        media = el('div', 'ph');
        media.append(el('span', 'type', KIND_LABEL[k]!), el('span', 'fname', name));
      }
      lb.media.replaceChildren(media);
      lb.title.textContent = name;
      const author = authors[items.a[i]!];
      lb.author.textContent = author
        ? `${author.display || author.name}${author.display && author.display !== author.name ? ` (@${author.name})` : ''}`
        : 'Unknown author';
      const when = new Date(items.t[i]! * 1000);
      lb.date.textContent = dateTimeFmt.format(when);
      lb.date.dateTime = when.toISOString();
      const e = cv.entry;
      lb.channel.textContent = `${cv.server.name} › ${e.kind !== 'channel' && e.parent_name ? `${e.parent_name} › ` : ''}${e.kind === 'channel' ? '#' : ''}${e.name}`;
      const x = items.x[i]!;
      lb.text.textContent = x >= 0 ? (texts[x] ?? '') : '';
      setLink(lb.jump, jumpUrl(cv.data, i));
      setLink(lb.file, src);
      lb.similar.replaceChildren();
      const sim = (items.s[i] ?? []).filter((j) => Number.isInteger(j) && j >= 0 && j < items.attachment_id.length && j !== i);
      for (const j of sim) {
        const li = el('li');
        const b = el('button');
        b.type = 'button';
        b.dataset.id = String(items.attachment_id[j]);
        const th = thumbUrl(cv.data, j);
        if (th) {
          const img = el('img');
          img.alt = items.d[j] || shownName(cv.data, j);
          img.loading = 'lazy';
          img.src = th;
          b.append(img);
        } else b.textContent = shownName(cv.data, j);
        li.append(b);
        lb.similar.append(li);
      }
      lb.similarBox.hidden = sim.length === 0;
      // Preload the neighbours' full images so arrow keys feel instant.
      for (const d of [-1, 1]) {
        const pj = cv.pos[i]! + d;
        const j = cv.pos[i]! >= 0 ? cv.shown[pj] : undefined;
        const f = j === undefined ? null : fileUrl(cv.data, j);
        if (j !== undefined && f && (items.k[j]! & 3) <= 1) new Image().src = f;
      }
    }
    const p = cv.pos[i]!;
    lb.pos.textContent = p >= 0 ? `${(p + 1).toLocaleString()} / ${cv.shown.length.toLocaleString()}` : 'not in the current filter';
    lb.prev.disabled = p <= 0;
    lb.next.disabled = p < 0 || p >= cv.shown.length - 1;
    if (p >= 0) focusPos = p;
    if (!lightbox.open) {
      lightbox.showModal();
      lb.close.focus();
    }
  }

  function closeLightbox(): void {
    const wasOpen = openItem >= 0 || lightbox.open;
    openItem = -1;
    if (lightbox.open) lightbox.close();
    if (!wasOpen) return;
    lb.media.replaceChildren(); // stops a video
    const cv = current;
    if (cv && returnFocus) {
      const i = cv.data.items.attachment_id.indexOf(returnFocus);
      const p = i >= 0 ? cv.pos[i]! : -1;
      if (p >= 0) focusCell(cv, p);
    }
    returnFocus = null;
  }

  function step(d: number): void {
    const cv = current;
    if (!cv || openItem < 0) return;
    const p = cv.pos[openItem]!;
    if (p < 0) return;
    const np = p + d;
    if (np < 0 || np >= cv.shown.length) return;
    returnFocus = String(cv.data.items.attachment_id[cv.shown[np]!]);
    setView({ ...cv.view, i: returnFocus }, false);
  }
  const closeView = (): void => {
    if (current) setView({ ...current.view, i: null }, false);
    else closeLightbox();
  };

  lb.prev.addEventListener('click', () => step(-1));
  lb.next.addEventListener('click', () => step(1));
  lb.close.addEventListener('click', closeView);
  lightbox.addEventListener('cancel', (e) => {
    e.preventDefault();
    closeView();
  });
  // Closed by the browser without a cancel event (a close watcher may skip it): the hash forgets the file too.
  lightbox.addEventListener('close', () => {
    if (openItem >= 0 && !lightbox.open) closeView(); // not a close event left over from before a reopen
  });
  lightbox.addEventListener('keydown', (e) => {
    if ((e.target as Element).closest('video, input, select')) return;
    if (e.key === 'ArrowLeft') step(-1);
    else if (e.key === 'ArrowRight') step(1);
    else return;
    e.preventDefault();
  });
  lb.similar.addEventListener('click', (e) => {
    const b = (e.target as Element).closest<HTMLElement>('button');
    if (b?.dataset.id && current) {
      returnFocus = b.dataset.id;
      setView({ ...current.view, i: b.dataset.id }, false);
    }
  });
  // A click on the backdrop (the dialog itself, outside its content) closes it.
  lightbox.addEventListener('click', (e) => {
    if (e.target === lightbox || e.target === lb.media) closeView();
  });

  // ---- routing: the URL hash is the whole state ----
  let routeSeq = 0;
  async function route(): Promise<void> {
    const seq = ++routeSeq;
    const v = parseHash(location.hash);
    if (!indexData) return;
    if (!v.c) {
      closeLightbox();
      if (current || !main.querySelector('.index')) showIndex();
      return;
    }
    const found = findChannel(v.c);
    if (!found) {
      closeLightbox();
      crumbs.replaceChildren();
      showMessage(`This gallery has no channel ${v.c}.`);
      return;
    }
    let data: GalleryChannelData;
    try {
      if (!channelData.has(v.c)) showMessage(`Loading ${found.channel.name}…`);
      data = await loadChannel(found.channel); // checked and expanded once, then kept
      performance.mark('dps-channel-data'); // for the bench: the channel's data is in
    } catch (err) {
      if (seq === routeSeq) showMessage(err instanceof Error ? err.message : String(err));
      return;
    }
    if (seq !== routeSeq) return;
    const cv = showChannel(found.server, found.channel, data, v);
    performance.mark('dps-grid'); // for the bench: the grid's first rows are in the DOM
    if (v.i) {
      const i = data.items.attachment_id.indexOf(v.i);
      const p = i >= 0 ? cv.pos[i]! : -1;
      if (p >= 0 && !lightbox.open) scrollToPos(cv, p);
      openLightbox(cv, v.i);
    } else closeLightbox();
  }

  window.addEventListener('hashchange', () => void route());

  loadScript('data/index.js').then(
    () => {
      if (indexData?.version !== DATA_VERSION || !Array.isArray(indexData.servers)) {
        const found = indexData?.version;
        indexData = null;
        showMessage(
          found === undefined
            ? `data/index.js does not hold a gallery index (version ${DATA_VERSION}). Run \`dps gallery\` again.`
            : `data/index.js is gallery data version ${String(found)}, this page reads version ${DATA_VERSION}. Run \`dps gallery\` again.`,
        );
        return;
      }
      void route();
    },
    () => showMessage('No gallery data here (data/index.js is missing). Run `dps gallery` to write it.'),
  );
})();
