// The page's thumbnail panel: a form for a page URL and size whose
// thumbnail appears when ready (GET /thumbnail, retried while the server
// answers 503 + Retry-After), an <img> snippet with a signed URL (POST
// /thumbnails/sign) and the gallery of the key's recent thumbnails (GET
// /thumbnails/recent) with their age and a re-render button. Where the
// server needs an API key it asks for one, keeps it in localStorage and
// sends it as Authorization: Bearer — never in a URL.

const keyItem = 'kiln.apiKey';
const openItem = 'kiln.thumbs.open';
const patience = 120e3; // how long a thumbnail is waited for across 503s, in ms

const $ = (id) => document.getElementById(id);

function headers(extra) {
  const h = { ...extra };
  const key = localStorage.getItem(keyItem);
  if (key) h.Authorization = 'Bearer ' + key;
  return h;
}

// Failure is an error answer of the server: its message and kind.
class Failure extends Error {
  constructor(status, message, kind) {
    super(message);
    this.status = status;
    this.kind = kind || '';
  }
}

async function failure(r) {
  let body = {};
  try { body = await r.json(); } catch { /* not JSON */ }
  return new Failure(r.status, body.error || 'HTTP ' + r.status + ' ' + r.statusText, body.kind);
}

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  if (signal) signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});

// thumbQuery is the query of /thumbnail for p ({url, size, format, full_page}).
function thumbQuery(p, refresh) {
  const q = new URLSearchParams({ url: p.url, size: p.size, format: p.format });
  if (p.full_page) q.set('full_page', '1');
  if (refresh) q.set('refresh', '1');
  return q;
}

// getImage fetches a thumbnail, waiting as the server asks while the page
// loads (503, or 429 for a moment), for up to two minutes in all. onWait
// hears of each wait, in seconds. A re-render asks with refresh=1 once,
// then (the load being under way) without it, until the thumbnail is newer
// than newerThan (ms): asking again with refresh=1 would load the page
// again each time.
async function getImage(path, { signal, onWait, retryPath, newerThan } = {}) {
  const start = Date.now();
  for (let waited = false; ; waited = true) {
    const r = await fetch(path, { headers: headers(), signal, cache: 'no-cache' });
    const late = Date.now() - start > patience;
    if (r.ok) {
      const modified = Date.parse(r.headers.get('Last-Modified'));
      if (path !== retryPath || !newerThan || !(modified <= newerThan) || late) {
        return { blob: await r.blob(), cache: r.headers.get('X-Kiln-Cache') || '', waited };
      }
      if (onWait) onWait(2);
      await sleep(2000, signal);
      continue;
    }
    const f = await failure(r);
    const wait = parseInt(r.headers.get('Retry-After'), 10);
    const retry = (r.status === 503 || r.status === 429 && wait <= 10) &&
      Date.now() - start + (wait || 5) * 1000 < patience;
    if (!retry) {
      if (r.status === 503) f.message = 'The page is still loading after two minutes; try again later.';
      throw f;
    }
    const secs = Math.min(Math.max(wait || 5, 1), 30);
    if (onWait) onWait(secs, f);
    await sleep(secs * 1000, signal);
    if (retryPath) path = retryPath;
  }
}

function ago(date, now = Date.now()) {
  const s = Math.max(0, Math.round((now - date) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return m + ' min ago';
  const h = Math.round(m / 60);
  if (h < 36) return h + ' h ago';
  const d = Math.round(h / 24);
  return d === 1 ? '1 day ago' : d + ' days ago';
}

// shortURL shows a page URL without its scheme.
const shortURL = (u) => u.replace(/^https?:\/\//, '').replace(/\/$/, '');

export class ThumbPanel {
  constructor({ onLayout } = {}) {
    this.panel = $('thumbs');
    this.onLayout = onLayout || (() => {});
    this.images = new Map(); // gallery images by id: {captured, url}
    this.pendingRetry = null; // what to do again once a key is given
    this.toggle = document.createElement('button');
    this.toggle.type = 'button';
    this.toggle.className = 'kiln-thumbs-toggle';
    this.toggle.textContent = 'Thumbnails';
    this.toggle.setAttribute('aria-controls', 'thumbs');
    this.toggle.setAttribute('aria-expanded', 'false');
    this.toggle.hidden = true; // until the server says it makes thumbnails
    this.toggle.addEventListener('click', () => this.setOpen(this.panel.hidden));
    $('thumbs-close').addEventListener('click', () => { this.setOpen(false); this.toggle.focus(); });
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        this.setOpen(false);
        this.toggle.focus();
      }
    });
    $('thumb-size').addEventListener('change', () => { $('thumb-custom').hidden = $('thumb-size').value !== 'custom'; });
    $('thumb-form').addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    $('key-form').addEventListener('submit', (e) => { e.preventDefault(); this.saveKey(); });
    $('key-show').addEventListener('click', () => this.askKey(''));
    $('key-forget').addEventListener('click', () => {
      localStorage.removeItem(keyItem);
      this.keyChanged();
      this.refreshGallery();
    });
    $('thumb-copy').addEventListener('click', () => this.copy());
    this.keyChanged();
    setInterval(() => this.updateAges(), 30e3);
  }

  // control is the toggle as a MapLibre GL control.
  control() {
    const toggle = this.toggle;
    return {
      onAdd() {
        const div = document.createElement('div');
        div.className = 'maplibregl-ctrl maplibregl-ctrl-group kiln-thumbs-ctrl';
        div.append(toggle);
        return div;
      },
      onRemove() { toggle.parentNode.remove(); },
    };
  }

  // start asks whether the server makes thumbnails (it has a gallery) and
  // shows the toggle if so, the panel too if it was open last time.
  async start() {
    let r;
    try {
      r = await fetch('/thumbnails/recent', { headers: headers() });
    } catch {
      return;
    }
    if (r.status === 404) return; // no thumbnails on this server
    this.toggle.hidden = false;
    if (!this.toggle.isConnected) { // no map: the toggle stands on its own
      this.toggle.classList.add('kiln-thumbs-toggle-alone');
      document.body.append(this.toggle);
    }
    await this.showGallery(r);
    if (localStorage.getItem(openItem) === '1') this.setOpen(true, false);
  }

  setOpen(open, focus = true) {
    this.panel.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    document.body.classList.toggle('kiln-thumbs-open', open);
    localStorage.setItem(openItem, open ? '1' : '0');
    this.onLayout();
    if (open && focus) {
      const key = $('key-form');
      (key.hidden ? $('thumb-url') : $('key-input')).focus();
    }
    if (open) this.refreshGallery();
  }

  // askKey shows the key field, saying why.
  askKey(why) {
    const form = $('key-form');
    $('key-note').textContent = why || 'Your API key, to make thumbnails with it and see its recent ones.';
    form.hidden = false;
    $('key-show').hidden = true;
    if (!this.panel.hidden) $('key-input').focus();
  }

  saveKey() {
    const input = $('key-input');
    const key = input.value.trim();
    if (!/^\S+:\S+$/.test(key)) {
      $('key-note').textContent = 'An API key is written ID:SECRET, as kiln keys create printed it.';
      input.focus();
      return;
    }
    localStorage.setItem(keyItem, key);
    input.value = '';
    $('key-form').hidden = true;
    this.keyChanged();
    this.images.clear();
    const again = this.pendingRetry;
    this.pendingRetry = null;
    this.refreshGallery();
    if (again) again();
  }

  keyChanged() {
    const has = !!localStorage.getItem(keyItem);
    $('key-forget').hidden = !has;
    $('key-show').hidden = has || !$('key-form').hidden;
  }

  // refused handles a 401: the key is missing or wrong.
  refused(f, again) {
    if (f.status !== 401) return false;
    const had = localStorage.getItem(keyItem);
    if (had) localStorage.removeItem(keyItem);
    this.keyChanged();
    this.pendingRetry = again || null;
    this.askKey(had ? 'The key was refused: ' + f.message : 'This server needs an API key.');
    return true;
  }

  params() {
    let url = $('thumb-url').value.trim();
    if (url && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) url = 'https://' + url;
    let size = $('thumb-size').value;
    if (size === 'custom') size = ($('thumb-w').value || '0') + 'x' + ($('thumb-h').value || '0');
    return { url, size, format: $('thumb-format').value, full_page: $('thumb-full').checked };
  }

  status(text) {
    $('thumb-status').hidden = text === null;
    if (text !== null) $('thumb-status-text').textContent = text;
  }

  error(f) {
    const box = $('thumb-error');
    box.hidden = !f;
    box.textContent = '';
    if (!f) return;
    const strong = document.createElement('strong');
    strong.textContent = f.status ? 'Error ' + f.status + (f.kind ? ' (' + f.kind + ')' : '') + ': ' : 'Error: ';
    box.append(strong, f.message);
  }

  async submit() {
    const p = this.params();
    if (!p.url) {
      this.error(new Failure(0, 'Type the address of a web page.'));
      $('thumb-url').focus();
      return;
    }
    if (this.abort) this.abort.abort();
    const abort = this.abort = new AbortController();
    const go = $('thumb-go');
    go.disabled = true;
    this.error(null);
    $('thumb-figure').hidden = true;
    $('thumb-embed').hidden = true;
    this.status('Loading ' + shortURL(p.url) + '…');
    $('thumb-result').setAttribute('aria-busy', 'true');
    const started = Date.now();
    try {
      const got = await getImage('/thumbnail?' + thumbQuery(p), {
        signal: abort.signal,
        onWait: (secs) => this.status('The page is still loading; asking again in ' + secs + ' s…'),
      });
      if (abort.signal.aborted) return;
      await this.show(got, p, Date.now() - started);
      this.status(null);
      this.refreshGallery();
      this.sign(p);
    } catch (e) {
      if (abort.signal.aborted) return;
      this.status(null);
      if (e instanceof Failure) {
        if (!this.refused(e, () => this.submit())) this.error(e);
      } else {
        this.error(new Failure(0, 'The server could not be reached (' + e.message + ').'));
      }
    } finally {
      if (this.abort === abort) {
        go.disabled = false;
        $('thumb-result').removeAttribute('aria-busy');
      }
    }
  }

  async show(got, p, ms) {
    const img = $('thumb-img');
    if (this.shown) URL.revokeObjectURL(this.shown);
    this.shown = URL.createObjectURL(got.blob);
    img.alt = 'Thumbnail of ' + p.url;
    img.src = this.shown;
    await img.decode().catch(() => {});
    const [w, h] = [img.naturalWidth, img.naturalHeight];
    // A thumbnail waited for (503, then a hit) was made for this request too.
    const cache = got.waited ? 'just made' :
      { hit: 'from the cache', stale: 'from the cache, refreshing', miss: 'just made' }[got.cache] || got.cache;
    $('thumb-caption').textContent = w + '×' + h + ' ' + p.format.toUpperCase() + ' · ' + cache +
      ' · ' + (ms / 1000).toFixed(1) + ' s';
    $('thumb-figure').dataset.cache = got.cache;
    $('thumb-figure').hidden = false;
  }

  async sign(p) {
    const embed = $('thumb-embed');
    const snippet = $('thumb-snippet');
    $('thumb-copied').textContent = '';
    try {
      const r = await fetch('/thumbnails/sign', {
        method: 'POST', headers: headers({ 'Content-Type': 'application/json' }), body: JSON.stringify(p),
      });
      if (!r.ok) throw await failure(r);
      const s = await r.json();
      snippet.value = s.img;
      $('thumb-expires').textContent = 'Signed URL, valid until ' +
        new Date(s.expires).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    } catch (e) {
      snippet.value = '';
      $('thumb-expires').textContent = 'No signed URL: ' + e.message;
    }
    embed.hidden = false;
  }

  async copy() {
    const snippet = $('thumb-snippet');
    const said = $('thumb-copied');
    try {
      await navigator.clipboard.writeText(snippet.value);
      said.textContent = 'Copied.';
    } catch {
      // No clipboard API (a page over plain HTTP on another host): the old way.
      snippet.focus();
      snippet.select();
      said.textContent = document.execCommand('copy') ? 'Copied.' : 'Selected: press Ctrl+C to copy.';
    }
  }

  async refreshGallery() {
    let r;
    try {
      r = await fetch('/thumbnails/recent', { headers: headers(), cache: 'no-store' });
    } catch {
      return;
    }
    await this.showGallery(r);
  }

  async showGallery(r) {
    if (!r.ok) {
      const f = await failure(r);
      if (!this.refused(f)) $('gallery-empty').textContent = 'The recent thumbnails did not load: ' + f.message;
      $('gallery-empty').hidden = false;
      $('gallery').replaceChildren();
      return;
    }
    const list = await r.json();
    $('gallery-empty').textContent = 'None yet: the thumbnails you make appear here.';
    $('gallery-empty').hidden = list.length > 0;
    const ul = $('gallery');
    const keep = new Set();
    ul.replaceChildren(...list.map((e) => { keep.add(e.id); return this.card(e); }));
    for (const [id, im] of this.images) {
      if (!keep.has(id)) { URL.revokeObjectURL(im.url); this.images.delete(id); }
    }
  }

  card(e) {
    const li = document.createElement('li');
    li.className = 'kiln-card';
    li.dataset.id = e.id;
    li.dataset.captured = e.captured_at;

    const frame = document.createElement('div');
    frame.className = 'kiln-card-img';
    const img = document.createElement('img');
    img.alt = 'Thumbnail of ' + e.url;
    img.width = e.width;
    img.height = e.height;
    frame.append(img);
    this.loadCardImage(e, img);

    const info = document.createElement('div');
    info.className = 'kiln-card-info';
    const a = document.createElement('a');
    a.href = e.url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.className = 'kiln-card-url';
    a.textContent = e.title || shortURL(e.url);
    a.title = e.url;
    const meta = document.createElement('div');
    meta.className = 'kiln-hint';
    meta.textContent = e.width + '×' + e.height + ' ' + e.format.toUpperCase() + (e.full_page ? ' · full page' : '');
    const time = document.createElement('time');
    time.dateTime = e.captured_at;
    time.title = new Date(e.captured_at).toLocaleString();
    time.textContent = ago(new Date(e.captured_at));
    const row = document.createElement('div');
    row.className = 'kiln-card-row';
    const again = document.createElement('button');
    again.type = 'button';
    again.className = 'kiln-rerender';
    again.textContent = 'Re-render';
    again.setAttribute('aria-label', 'Re-render ' + shortURL(e.url));
    again.addEventListener('click', () => this.rerender(e, li, again));
    row.append(time, again);
    const err = document.createElement('div');
    err.className = 'kiln-card-error';
    err.setAttribute('role', 'alert');
    info.append(a, meta, row, err);
    li.append(frame, info);
    return li;
  }

  async loadCardImage(e, img) {
    const had = this.images.get(e.id);
    if (had && had.captured === e.captured_at) { img.src = had.url; return; }
    try {
      const got = await getImage(e.thumbnail);
      const url = URL.createObjectURL(got.blob);
      const now = this.images.get(e.id);
      if (now) URL.revokeObjectURL(now.url);
      this.images.set(e.id, { captured: e.captured_at, url });
      img.src = url;
    } catch {
      img.closest('.kiln-card-img').classList.add('kiln-card-missing');
    }
  }

  async rerender(e, li, button) {
    button.disabled = true;
    li.classList.add('kiln-busy');
    li.setAttribute('aria-busy', 'true');
    li.querySelector('.kiln-card-error').textContent = '';
    const p = { url: e.url, size: e.size, format: e.format, full_page: e.full_page };
    try {
      // Last-Modified has whole seconds.
      const newerThan = Math.floor(Date.parse(e.captured_at) / 1000) * 1000;
      await getImage('/thumbnail?' + thumbQuery(p, true), { retryPath: '/thumbnail?' + thumbQuery(p), newerThan });
      await this.refreshGallery(); // the card comes back first, with its new image and age
    } catch (f) {
      li.classList.remove('kiln-busy');
      li.removeAttribute('aria-busy');
      button.disabled = false;
      if (!(f instanceof Failure) || !this.refused(f, () => this.rerender(e, li, button))) {
        li.querySelector('.kiln-card-error').textContent = f.message;
      }
    }
  }

  updateAges() {
    for (const t of document.querySelectorAll('#gallery time')) t.textContent = ago(new Date(t.dateTime));
  }
}
