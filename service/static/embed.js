/*! Comment Warden embed.js: the comment thread of one article. No dependencies.
 *
 *   <div id="warden-thread" data-warden-site="demo" data-warden-article="my-article"></div>
 *   <script src="https://comments.example/embed.js" defer></script>
 *
 * Safety: the only HTML ever parsed is a comment's `html` field (the service's sanitiser
 * output), and even that is parsed in an inert <template> and copied through an allowlist.
 * Everything else (names, times, messages, errors, one's own pending text) is textContent.
 */
(() => {
  'use strict';
  if (window.WardenEmbed) return; // loaded twice: the first copy owns the page

  const script = document.currentScript || document.querySelector('script[src*="/embed.js"]');
  const BASE = new URL('.', script.src).href.replace(/\/$/, '');
  const API = BASE + '/api/v1';
  const SCRIPT_SITE = script.getAttribute('data-warden-site');
  const MINUTE = 60000;
  // A permalink to a comment further down fetches at most this many more pages.
  const PERMALINK_PAGES = 20;
  const REQUEST_TIMEOUT_MS = 15000;

  // ---- small helpers ------------------------------------------------------------------

  /** Build an element; strings become text nodes, never markup. */
  const h = (tag, props, ...kids) => {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : value);
    }
    for (const kid of kids.flat()) if (kid != null && kid !== false) el.append(kid);
    return el;
  };
  let uidCounter = 0;
  const uid = () => `warden-${++uidCounter}`;
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const chars = (text) => Array.from(text.trim()).length; // code points, as the service counts
  const randomKey = () => {
    if (crypto.randomUUID) return crypto.randomUUID(); // only in secure contexts
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  };

  /** localStorage that survives being unavailable (private modes, sandboxed frames). */
  const memory = new Map();
  const store = {
    get(key, fallback) {
      try {
        const raw = localStorage.getItem('warden:' + key);
        if (raw != null) return JSON.parse(raw);
      } catch (e) {
        if (memory.has(key)) return memory.get(key);
      }
      return memory.has(key) ? memory.get(key) : fallback;
    },
    set(key, value) {
      memory.set(key, value);
      try { localStorage.setItem('warden:' + key, JSON.stringify(value)); } catch (e) { /* memory only */ }
    },
  };

  // ---- times --------------------------------------------------------------------------

  const rtf = Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat('en', { numeric: 'auto' }) : null;
  const UNITS = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400],
    ['hour', 3600], ['minute', 60]];
  const ago = (date) => {
    const seconds = (date.getTime() - Date.now()) / 1000;
    if (Math.abs(seconds) < 45) return 'just now';
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size || unit === 'minute') {
        const n = Math.round(seconds / size);
        return rtf ? rtf.format(n, unit) : `${plural(Math.abs(n), unit, unit + 's')} ago`;
      }
    }
    return '';
  };
  const timeEl = (iso) => {
    const date = new Date(iso);
    return h('time', {
      datetime: iso, 'data-warden-ts': iso,
      title: date.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' }),
    }, ago(date));
  };
  setInterval(() => {
    if (document.hidden) return;
    for (const el of document.querySelectorAll('.warden time[data-warden-ts]')) {
      el.textContent = ago(new Date(el.getAttribute('data-warden-ts')));
    }
  }, MINUTE);

  // ---- the service's HTML, through an allowlist ---------------------------------------

  let policy = null;
  try {
    if (window.trustedTypes && trustedTypes.createPolicy) {
      // Its output only ever lands in an inert <template>; allowlist() decides what is kept.
      policy = trustedTypes.createPolicy('warden', { createHTML: (html) => html });
    }
  } catch (e) { /* the page's CSP forbids the name: parsing then fails closed below */ }
  const KEEP = new Set(['p', 'br', 'strong', 'em', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a']);
  const DROP = new Set(['script', 'style', 'template', 'svg', 'math', 'iframe', 'object', 'noscript']);
  const SAFE_HREF = /^(https?:|mailto:)/i;
  const allowlist = (from, to) => {
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.append(node.data);
      } else if (node.nodeType === Node.ELEMENT_NODE && !DROP.has(node.localName)) {
        if (!KEEP.has(node.localName)) { allowlist(node, to); continue; } // unwrap, keep text
        const el = document.createElement(node.localName);
        const href = node.localName === 'a' ? (node.getAttribute('href') || '') : '';
        if (SAFE_HREF.test(href)) {
          el.setAttribute('href', href);
          el.setAttribute('rel', 'nofollow ugc noopener noreferrer');
        }
        allowlist(node, el);
        to.append(el);
      }
    }
  };
  const richText = (html) => {
    const out = document.createDocumentFragment();
    try {
      const template = document.createElement('template');
      template.innerHTML = policy ? policy.createHTML(html) : html;
      allowlist(template.content, out);
    } catch (e) {
      out.append(h('em', { text: 'This comment cannot be shown on this page.' }));
    }
    return out;
  };

  // ---- the API ------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, fields, retryAfter) {
      super(message);
      Object.assign(this, { status, code, fields: fields || null, retryAfter });
    }
  }
  const api = async (method, path, { body, token, key, fresh } = {}) => {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers['X-Author-Token'] = token;
    if (key) headers['Idempotency-Key'] = key;
    let response;
    // A server that hangs must not leave a button at "Posting…" for ever: give up, say so,
    // and let the reader try again (a retried submit reuses its Idempotency-Key).
    const controller = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = controller ? setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS) : null;
    let doc = null;
    try {
      try {
        response = await fetch(API + path, {
          method, headers, credentials: 'omit', cache: fresh ? 'no-store' : 'default',
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: controller ? controller.signal : undefined,
        });
      } catch (e) {
        throw new ApiError(0, 'network', e && e.name === 'AbortError'
          ? 'The comment service did not answer in time. Please try again.'
          : 'Could not reach the comment service. Check your connection and try again.');
      }
      if (response.status === 204) return null;
      try { doc = await response.json(); } catch (e) { /* not JSON: described below */ }
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (response.ok) return doc;
    const err = (doc && doc.error) || {};
    const retry = parseInt(response.headers.get('Retry-After') || '', 10);
    throw new ApiError(response.status, err.code || 'http_' + response.status,
      err.message || `The comment service answered with an error (${response.status}).`,
      err.fields, Number.isFinite(retry) ? retry : null);
  };
  /** A button disabled while its request runs drops the keyboard focus to <body>; after
   * the request, give it back (to the button, else to ``fallback``) if nothing took it. */
  const refocus = (button, fallback) => {
    const lost = !document.activeElement || document.activeElement === document.body;
    if (!lost) return;
    const target = button && button.isConnected && !button.disabled ? button : fallback;
    if (target && target.isConnected) target.focus();
  };
  const sentence = (text) => (/[.!?]$/.test(text) ? text : text + '.');
  const describe = (error) => {
    if (error.status === 429) {
      const wait = error.retryAfter ? ` Please wait ${plural(error.retryAfter, 'second', 'seconds')}` : ' Please wait a little';
      return `You are posting too quickly.${wait} and try again.`;
    }
    if (error.status === 503) return 'The comment service is busy right now. Please try again shortly.';
    if (error.code === 'edit_window_closed') {
      return `It is too late to change this comment: ${error.message.replace(/\.$/, '')}.`;
    }
    const message = String(error.message || 'Something went wrong.');
    return sentence(message.charAt(0).toUpperCase() + message.slice(1));
  };

  const canonicalUrl = () => {
    const link = document.querySelector('link[rel="canonical"]');
    return (link && link.href) || location.origin + location.pathname;
  };
  const FIELD_LABELS = { body: 'Comment', author_name: 'Name', author_email: 'Email',
    article: 'Article', parent_id: 'Reply', note: 'Note', reason: 'Reason' };

  // ---- one thread ---------------------------------------------------------------------

  class Thread {
    constructor(host) {
      this.host = host;
      this.site = host.getAttribute('data-warden-site') || SCRIPT_SITE;
      this.article = host.getAttribute('data-warden-article') || canonicalUrl();
      this.sort = store.get('sort', 'oldest') === 'newest' ? 'newest' : 'oldest';
      this.info = { max_body_chars: 5000, max_depth: 5, edit_window_seconds: 600 };
      this.nodes = new Map();
      this.count = 0;
      this.cursor = null;
      this.isOpen = true;
    }

    key(name) { return `${this.site}:${name}`; }
    token() { return store.get(this.key('token'), null); }
    mine() { return store.get(this.key('mine'), []); }
    saveMine(list) { store.set(this.key('mine'), list.slice(-50)); }
    entry(id) { return this.mine().find((e) => e.id === id) || null; }
    putEntry(entry) { this.saveMine(this.mine().filter((e) => e.id !== entry.id).concat(entry)); }
    dropEntry(id) { this.saveMine(this.mine().filter((e) => e.id !== id)); }
    flagged() { return store.get(this.key('flagged'), []); }

    announce(text) {
      this.live.textContent = '';
      setTimeout(() => { this.live.textContent = text; }, 50);
    }

    // -- shell: everything that does not depend on data, at its final size at once --
    start() {
      const host = this.host;
      host.classList.add('warden');
      host.textContent = '';
      if (!this.site) {
        host.append(h('p', { class: 'warden-notice', role: 'alert',
          text: 'Comments cannot load: data-warden-site is missing on the thread element.' }));
        return;
      }
      const titleId = uid();
      this.title = h('h2', { class: 'warden-title', id: titleId, tabindex: '-1' }, 'Comments');
      this.sortSelect = h('select', { id: titleId + '-sort', onchange: () => this.resort() },
        h('option', { value: 'oldest' }, 'Oldest first'),
        h('option', { value: 'newest' }, 'Newest first'));
      this.sortSelect.value = this.sort;
      this.formSlot = h('div', { class: 'warden-compose' });
      this.notice = h('div', { class: 'warden-notice', hidden: true });
      this.list = h('ol', { class: 'warden-list', 'aria-labelledby': titleId });
      this.more = h('button', { type: 'button', class: 'warden-button warden-quiet warden-more',
        hidden: true, onclick: () => this.loadMore() }, 'Load more comments');
      this.live = h('div', { class: 'warden-sr', role: 'status', 'aria-live': 'polite' });
      this.root = h('section', { class: 'warden-root', 'aria-labelledby': titleId },
        h('div', { class: 'warden-head' }, this.title,
          h('p', { class: 'warden-sort' }, h('label', { for: titleId + '-sort' }, 'Sort'), this.sortSelect)),
        this.formSlot, this.notice, this.list, this.more, this.live);
      host.append(this.root);
      this.formSlot.append(this.composer(null));
      this.skeleton();
      this.infoReady = this.fetchInfo();
      this.load(true);
    }

    /** The site's limits and mode; resolves to true, or to the error (never rejects). */
    fetchInfo() {
      return api('GET', `/sites/${encodeURIComponent(this.site)}`).then((info) => {
        Object.assign(this.info, info);
        for (const update of this.limitWatchers || []) update();
        return true;
      }, (error) => error);
    }

    skeleton() {
      this.list.textContent = '';
      this.emptyNote = null;  // cleared with the list: updateEmpty must add it again
      this.list.setAttribute('aria-busy', 'true');
      for (let i = 0; i < 3; i++) {
        this.list.append(h('li', { class: 'warden-skeleton', 'aria-hidden': 'true' },
          h('span', { class: 'warden-skel-avatar' }),
          h('span', { class: 'warden-skel-lines' }, h('span'), h('span'), h('span'))));
      }
    }

    setCount(n) {
      this.count = Math.max(0, n);
      this.title.textContent = this.count ? plural(this.count, 'comment', 'comments') : 'Comments';
      document.dispatchEvent(new CustomEvent('warden:count',
        { detail: { site: this.site, article: this.article, count: this.count } }));
    }

    /** The article's approved count from the server (fresh), for when the page's own
     * arithmetic cannot know; a failure keeps the local figure. */
    refreshCount() {
      const query = new URLSearchParams({ article: this.article });
      api('GET', `/sites/${encodeURIComponent(this.site)}/counts?${query}`, { fresh: true })
        .then((doc) => {
          const n = doc && doc.counts ? doc.counts[this.article] : undefined;
          if (Number.isFinite(n)) this.setCount(n);
        }, () => { /* decoration: the local count stays */ });
    }

    showNotice(text, retry) {
      this.notice.textContent = '';
      this.notice.hidden = false;
      this.notice.append(h('p', { role: 'alert' }, text));
      if (retry) {
        this.notice.append(h('button', { type: 'button', class: 'warden-button warden-quiet',
          onclick: () => { this.notice.hidden = true; retry(); } }, 'Try again'));
      }
    }

    // -- reading the thread --
    async load(reset) {
      // A first attempt that failed is asked again ("Try again"), or the page would go on
      // with the defaults (reply depth, edit window, length) instead of the site's.
      const known = await Promise.race([this.infoReady, Promise.resolve(null)]);
      if (known instanceof ApiError) this.infoReady = this.fetchInfo();
      // A new list (sort, "Try again"): work started for the old one stops (see jumpToHash).
      if (reset) { this.generation = (this.generation || 0) + 1; }
      if (reset) { this.cursor = null; this.skeleton(); this.nodes.clear(); }
      const params = new URLSearchParams({ article: this.article, sort: this.sort });
      if (!reset && this.cursor) params.set('cursor', this.cursor);
      let doc;
      try {
        doc = await api('GET', `/sites/${encodeURIComponent(this.site)}/comments?${params}`);
      } catch (error) {
        const info = await this.infoReady;
        if (info === true && this.info.origin_allowed === false) {
          // The browser hid the thread (no CORS for this page): say why, not "network".
          if (reset) { this.list.textContent = ''; this.list.removeAttribute('aria-busy'); }
          this.formSlot.hidden = true;
          this.showNotice('Comments are not available on this page: its address '
            + `(${location.origin}) is not among the allowed origins of the site `
            + `"${this.site}". The site's administrator can add it.`, null);
          return 0;
        }
        if (error.status === 404 && info === true) {
          doc = { article: { approved_count: 0, is_open: true }, comments: [], next_cursor: null };
        } else {
          if (reset) { this.list.textContent = ''; this.list.removeAttribute('aria-busy'); }
          const failure = info instanceof ApiError && info.status === 404 ? info : error;
          this.showNotice(`Comments could not be loaded. ${describe(failure)}`,
            failure.status === 404 ? null : () => this.load(reset));
          return 0;
        }
      }
      await this.infoReady;
      if (reset) this.list.textContent = '';
      this.list.removeAttribute('aria-busy');
      this.root.classList.add('warden-ready');
      this.setCount(doc.article.approved_count);
      this.setOpen(doc.article.is_open !== false);
      for (const node of doc.comments) {
        const shown = this.nodes.get(node.id); // e.g. one's own comment, approved meanwhile
        if (shown) shown.li.remove();
        this.list.append(this.renderNode(node, 0));
      }
      this.cursor = doc.next_cursor;
      this.more.hidden = !this.cursor;
      this.mergeMine();
      this.updateEmpty();
      if (reset && !this.jumped) { this.jumped = true; this.jumpToHash(); } // once per view
      return doc.comments.length;
    }

    async loadMore() {
      const before = this.list.children.length;
      this.more.disabled = true;
      this.more.textContent = 'Loading…';
      const added = await this.load(false);
      this.more.disabled = false;
      this.more.textContent = 'Load more comments';
      if (added) {
        this.announce(`${plural(added, 'more comment', 'more comments')} loaded.`);
        if (this.more.hidden) {
          const first = this.list.children[before];
          const target = first && first.querySelector('.warden-comment');
          if (target) target.focus();
        }
      }
    }

    resort() {
      this.sort = this.sortSelect.value === 'newest' ? 'newest' : 'oldest';
      store.set('sort', this.sort);
      this.more.hidden = true;
      this.load(true).then(() => this.announce(
        this.sort === 'newest' ? 'Showing newest comments first.' : 'Showing oldest comments first.'));
    }

    setOpen(open) {
      this.isOpen = open;
      if (!open && !this.closedNote) {
        this.closedNote = h('p', { class: 'warden-closed' }, 'Comments are closed on this article.');
        this.formSlot.replaceChildren(this.closedNote);
      }
    }

    updateEmpty() {
      const empty = !this.list.querySelector('.warden-item');
      if (empty && !this.emptyNote) {
        this.emptyNote = h('li', { class: 'warden-empty' },
          this.isOpen ? 'No comments yet. Start the conversation.' : 'No comments.');
        this.list.append(this.emptyNote);
      } else if (!empty && this.emptyNote) {
        this.emptyNote.remove();
        this.emptyNote = null;
      }
    }

    /** A link to one comment (``#warden-c-ID``, the permalinks): fetch further pages until
     * it is shown, a bounded number of them, then bring it into view. */
    async jumpToHash() {
      const match = /^#warden-c-(\d+)$/.exec(location.hash);
      if (!match) return;
      const id = Number(match[1]);
      if (!this.nodes.has(id) && this.cursor) {
        const generation = this.generation;
        this.more.disabled = true;
        this.more.textContent = 'Loading…';
        for (let pages = 0; !this.nodes.has(id) && this.cursor && pages < PERMALINK_PAGES
          && this.generation === generation; pages++) {
          if (!(await this.load(false))) break;
        }
        this.more.disabled = false;
        this.more.textContent = 'Load more comments';
      }
      const node = this.nodes.get(id);
      if (node) node.li.scrollIntoView({ block: 'center' });
    }

    // -- one comment --
    renderNode(data, depth, own) {
      const li = h('li', { class: 'warden-item', id: `warden-c-${data.id}` });
      const replies = h('ol', { class: 'warden-replies' });
      const node = { id: data.id, li, replies, data, depth, approved: !data.deleted && !own, own: null };
      this.nodes.set(data.id, node);
      li.append(this.renderComment(node), replies);
      for (const reply of data.replies || []) replies.append(this.renderNode(reply, depth + 1));
      if (own) this.setOwnState(node, own);
      return li;
    }

    renderComment(node) {
      const data = node.data;
      if (data.deleted) {
        node.el = h('article', { class: 'warden-comment warden-deleted', tabindex: '-1',
          'aria-label': 'Removed comment' },
        h('div', { class: 'warden-avatar', 'aria-hidden': 'true' }),
        h('div', { class: 'warden-main' }, h('p', { class: 'warden-body' }, 'This comment was removed.')));
        return node.el;
      }
      const name = data.author_name || 'Anonymous';
      let hue = 0;
      for (const ch of name) hue = (hue * 31 + ch.codePointAt(0)) % 8;
      node.badge = h('span', { class: 'warden-badge', hidden: true });
      node.body = h('div', { class: 'warden-body' }, richText(data.html || ''));
      node.state = h('p', { class: 'warden-state', hidden: true });
      node.actions = h('div', { class: 'warden-actions' });
      node.slot = h('div', { class: 'warden-slot' });
      node.el = h('article', { class: 'warden-comment', tabindex: '-1', 'aria-label': `Comment by ${name}` },
        h('div', { class: `warden-avatar warden-hue-${hue}`, 'aria-hidden': 'true' },
          Array.from(name.trim())[0] || '?'),
        h('div', { class: 'warden-main' },
          h('header', { class: 'warden-meta' },
            h('span', { class: 'warden-author', id: `warden-a-${data.id}` }, name),
            h('a', { class: 'warden-permalink', href: `#warden-c-${data.id}` }, timeEl(data.created_at)),
            node.badge),
          node.body, node.state, node.actions, node.slot));
      this.renderActions(node);
      return node.el;
    }

    renderActions(node) {
      if (!node.actions) return;
      node.actions.textContent = '';
      const button = (label, onclick, extra) => h('button', Object.assign({ type: 'button',
        class: 'warden-action', onclick, 'aria-describedby': `warden-a-${node.id}` }, extra || {}), label);
      if (node.approved && this.isOpen && node.depth < this.info.max_depth) {
        node.replyButton = button('Reply', () => this.toggleReply(node), { 'aria-expanded': 'false' });
        node.actions.append(node.replyButton);
      }
      if (node.own && this.canEdit(node.own)) {
        node.actions.append(button('Edit', () => this.openEdit(node)),
          button('Delete', () => this.openDelete(node)));
        this.scheduleWindowEnd(node);
      }
      if (node.approved && !node.own) {
        const done = this.flagged().includes(node.id);
        node.reportButton = button(done ? 'Reported' : 'Report', () => this.openReport(node),
          { disabled: done, 'aria-expanded': 'false' });
        node.actions.append(node.reportButton);
      }
    }

    canEdit(entry) {
      if (entry.status && !['pending', 'approved', 'held'].includes(entry.status)) return false;
      const opened = Date.parse(entry.created_at);
      return Date.now() < opened + this.info.edit_window_seconds * 1000;
    }

    scheduleWindowEnd(node) {
      clearTimeout(node.windowTimer);
      const left = Date.parse(node.own.created_at) + this.info.edit_window_seconds * 1000 - Date.now();
      node.windowTimer = setTimeout(() => this.renderActions(node), Math.min(left + 500, 2 ** 31 - 1));
    }

    openSlot(node, content, opener) {
      for (const b of node.actions.querySelectorAll('[aria-expanded]')) b.setAttribute('aria-expanded', 'false');
      node.slot.replaceChildren(content);
      if (opener) opener.setAttribute('aria-expanded', 'true');
      content.addEventListener('keydown', (event) => {
        if (event.key === 'Escape') { event.preventDefault(); this.closeSlot(node, opener || node.el); }
      });
    }

    closeSlot(node, focusAfter) {
      node.slot.textContent = '';
      for (const b of node.actions.querySelectorAll('[aria-expanded]')) b.setAttribute('aria-expanded', 'false');
      if (focusAfter && focusAfter.isConnected) focusAfter.focus();
    }

    // -- the composer (a new comment or a reply) --
    composer(parent) {
      const id = uid();
      const profile = store.get('profile', {});
      const max = () => this.info.max_body_chars;
      const name = h('input', { id: id + '-name', name: 'author_name', autocomplete: 'name',
        maxlength: '80', required: true, 'aria-required': 'true' });
      const email = h('input', { id: id + '-email', name: 'author_email', type: 'email',
        autocomplete: 'email', maxlength: '254', 'aria-describedby': id + '-email-hint' });
      name.value = profile.name || '';
      email.value = profile.email || '';
      const website = h('input', { id: id + '-website', name: 'website', type: 'text',
        tabindex: '-1', autocomplete: 'off' });
      const counter = h('span', { class: 'warden-counter', id: id + '-count' });
      const body = h('textarea', { id: id + '-body', name: 'body', rows: parent ? '3' : '4',
        required: true, 'aria-required': 'true', 'aria-describedby': `${id}-count ${id}-hint` });
      const submitLabel = parent ? 'Post reply' : 'Post comment';
      const submit = h('button', { type: 'submit', class: 'warden-button' }, submitLabel);
      const error = h('div', { class: 'warden-error', role: 'alert' });
      const fields = { author_name: name, author_email: email, body };
      let shownAt = Date.now();
      let idemKey = null;
      let busy = false;
      let cooldown = 0;
      let wasOver = false;

      const count = () => {
        const n = chars(body.value);
        const limit = max();
        const over = n > limit;
        counter.textContent = over ? `${n} / ${limit}: ${n - limit} too many` : `${n} / ${limit}`;
        counter.classList.toggle('warden-over', over);
        counter.classList.toggle('warden-near', !over && n >= limit * 0.9);
        if (over && !wasOver) this.announce(`Your comment is longer than ${limit} characters.`);
        wasOver = over;
      };
      (this.limitWatchers = this.limitWatchers || []).push(count);
      count();
      body.addEventListener('input', () => { count(); idemKey = null; });
      body.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
      });

      const field = (input, label, hint) => h('p', { class: 'warden-field' },
        h('label', { for: input.id }, label), input, hint || null);
      const form = h('form', { class: 'warden-form', novalidate: true,
        'aria-label': parent ? `Reply to ${parent.data.author_name || 'Anonymous'}` : 'Write a comment' },
      h('div', { class: 'warden-fields' },
        field(name, 'Name'),
        field(email, h('span', null, 'Email ', h('span', { class: 'warden-optional' }, '(optional)')),
          h('span', { class: 'warden-hint', id: id + '-email-hint' }, 'Never shown.'))),
      h('div', { class: 'warden-hp', 'aria-hidden': 'true' },
        h('label', { for: website.id }, 'Leave this field empty'), website),
      field(body, parent ? 'Your reply' : 'Comment'),
      h('div', { class: 'warden-form-foot' },
        h('span', { class: 'warden-hint', id: id + '-hint' }, 'Markdown: *italic*, **bold**, links.'),
        counter,
        h('span', { class: 'warden-form-buttons' },
          parent ? h('button', { type: 'button', class: 'warden-button warden-quiet',
            onclick: () => this.closeSlot(parent, parent.replyButton) }, 'Cancel') : null,
          submit)),
      error);

      const clearErrors = () => {
        error.textContent = '';
        for (const input of Object.values(fields)) {
          input.removeAttribute('aria-invalid');
          const note = input.parentNode.querySelector('.warden-field-error');
          if (note) {
            input.setAttribute('aria-describedby', (input.getAttribute('aria-describedby') || '')
              .replace(note.id, '').trim());
            note.remove();
          }
        }
      };
      const showErrors = (problems, summary) => {
        let first = null;
        const rest = [];
        for (const [key, messages] of Object.entries(problems || {})) {
          const text = [].concat(messages).join(' ');
          const input = fields[key];
          if (!input) { rest.push(`${FIELD_LABELS[key] || key}: ${text}`); continue; }
          const note = h('span', { class: 'warden-field-error', id: `${input.id}-error` }, text);
          input.setAttribute('aria-invalid', 'true');
          input.setAttribute('aria-describedby',
            `${note.id} ${input.getAttribute('aria-describedby') || ''}`.trim());
          input.after(note);
          first = first || input;
        }
        error.textContent = [summary].concat(rest).join(' ');
        if (first) first.focus();
      };

      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (busy || cooldown) return;
        clearErrors();
        const text = body.value;
        const who = name.value.trim();
        const mail = email.value.trim();
        const problems = {};
        if (!who) problems.author_name = 'Please enter your name.';
        if (mail && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(mail)) problems.author_email = 'This email address does not look right.';
        if (!text.trim()) problems.body = 'Please write your comment first.';
        else if (chars(text) > max()) {
          problems.body = `Your comment is ${plural(chars(text) - max(), 'character', 'characters')} too long; the limit is ${max()}.`;
        }
        if (Object.keys(problems).length) {
          showErrors(problems, 'Please correct the marked fields.');
          return;
        }
        busy = true;
        submit.disabled = true;
        submit.textContent = 'Posting…';
        form.setAttribute('aria-busy', 'true');
        idemKey = idemKey || randomKey();
        const payload = { article: this.article, body: text, author_name: who,
          website: website.value, elapsed_ms: Math.min(Date.now() - shownAt, 86400000) };
        if (mail) payload.author_email = mail;
        if (parent) payload.parent_id = parent.id;
        const url = canonicalUrl();
        if (/^https?:\/\//.test(url) && url.length <= 2048) payload.article_url = url;
        if (document.title) payload.article_title = document.title.slice(0, 300);
        try {
          const doc = await api('POST', `/sites/${encodeURIComponent(this.site)}/comments`,
            { body: payload, token: this.token(), key: idemKey });
          idemKey = null;
          store.set('profile', { name: who, email: mail });
          if (doc.author_token) store.set(this.key('token'), doc.author_token);
          const entry = { id: doc.id, article: this.article, parent_id: parent ? parent.id : null,
            author_name: who, body: text, created_at: doc.created_at, status: doc.status };
          this.putEntry(entry);
          body.value = '';
          count();
          shownAt = Date.now();
          if (parent) this.closeSlot(parent);
          const node = this.showOwn(entry);
          this.announce(doc.status === 'approved' ? 'Your comment is published.'
            : 'Your comment was sent and is awaiting moderation.');
          if (node) node.el.focus();
        } catch (failure) {
          const marked = Object.keys(failure.fields || {}).some((key) => fields[key]);
          showErrors(failure.fields, marked ? 'Please correct the marked fields.' : describe(failure));
          if (failure.code === 'comments_closed') {
            // Closed while the page was open: no more Reply buttons; this form stays, with
            // the reader's text and the error, so nothing they wrote is lost.
            this.isOpen = false;
            for (const other of this.nodes.values()) this.renderActions(other);
          }
          if (failure.status === 429) {
            cooldown = failure.retryAfter || 10;
            setTimeout(() => { cooldown = 0; submit.disabled = false; }, cooldown * 1000);
          }
        } finally {
          busy = false;
          submit.disabled = Boolean(cooldown);
          submit.textContent = submitLabel;
          form.removeAttribute('aria-busy');
          refocus(submit, body);
        }
      });
      return form;
    }

    toggleReply(node) {
      if (node.slot.querySelector('form.warden-form')) { this.closeSlot(node, node.replyButton); return; }
      const form = this.composer(node);
      this.openSlot(node, form, node.replyButton);
      form.querySelector('textarea').focus();
    }

    // -- the reader's own comments --
    mergeMine() {
      const now = Date.now();
      const keep = this.mine().filter((e) => e.article !== this.article || e.status !== 'approved'
        || this.canEdit(e) || now - Date.parse(e.created_at) < 86400000);
      this.saveMine(keep);
      for (const entry of keep) {
        if (entry.article !== this.article) continue;
        const node = this.nodes.get(entry.id);
        if (node && node.approved) {
          node.own = entry;
          node.el.classList.add('warden-own');
          node.badge.hidden = false;
          node.badge.textContent = 'You';
          this.renderActions(node);
        } else if (!node && entry.status !== 'approved') {
          this.showOwn(entry);
        } else if (!node) {
          this.recheckPublished(entry);
        } else if (node && node.data.deleted && !['approved', 'deleted'].includes(entry.status)) {
          this.showOwnInPlaceholder(node, entry);
        }
      }
    }

    /** One's own comment, recorded as published, is not in the thread: it is on a later
     * page, or a moderator removed it since. Ask once per page view; a removed one is
     * shown to its author with the reason, instead of vanishing without a word. */
    async recheckPublished(entry) {
      this.rechecked = this.rechecked || new Set();
      if (this.rechecked.has(entry.id)) return;
      this.rechecked.add(entry.id);
      const generation = this.generation;
      let doc;
      try {
        doc = await api('GET', `/comments/${entry.id}`, { token: this.token(), fresh: true });
      } catch (error) {
        if (error.status === 404 || error.status === 401) this.dropEntry(entry.id);
        return;
      }
      // The list was rebuilt meanwhile (a new sort): its own merge asks again.
      if (this.generation !== generation) { this.rechecked.delete(entry.id); return; }
      if (doc.status === 'approved' || this.nodes.has(entry.id)) return; // a later page
      if (doc.status === 'deleted') { this.dropEntry(entry.id); return; }
      Object.assign(entry, { status: doc.status, body: doc.body, message: doc.message });
      this.putEntry(entry);
      this.showOwn(entry);
    }

    showOwn(entry) {
      const parent = entry.parent_id ? this.nodes.get(entry.parent_id) : null;
      const data = { id: entry.id, parent_id: entry.parent_id, author_name: entry.author_name,
        html: '', created_at: entry.created_at, replies: [] };
      const li = this.renderNode(data, parent ? parent.depth + 1 : 0, entry);
      if (parent) parent.replies.append(li);
      else if (this.sort === 'newest') this.list.prepend(li);
      else this.list.append(li);
      this.updateEmpty();
      // Published at once (post-moderation) is watched too: its text comes from the server,
      // and the checks may still pull it back.
      if (['pending', 'held', 'approved'].includes(entry.status)) this.watch(entry.id);
      return this.nodes.get(entry.id);
    }

    /** The thread keeps one's own unpublished comment as a placeholder when approved
     * replies hang from it; its author sees their own text and state there instead. */
    showOwnInPlaceholder(node, entry) {
      node.data = Object.assign({}, node.data, { deleted: false, author_name: entry.author_name });
      node.el.replaceWith(this.renderComment(node));
      this.setOwnState(node, entry);
      if (entry.status === 'pending' || entry.status === 'held') this.watch(entry.id);
    }

    setOwnState(node, entry, doc) {
      node.own = entry;
      const status = entry.status;
      const el = node.el;
      el.classList.add('warden-own');
      el.classList.toggle('warden-pending', status === 'pending' || status === 'held');
      el.classList.toggle('warden-refused', status === 'rejected' || status === 'spam');
      node.badge.hidden = false;
      node.state.hidden = status === 'approved';
      node.state.textContent = '';
      if (status === 'approved') {
        node.badge.textContent = 'You';
        node.body.replaceChildren(richText((doc && doc.html) || ''));
        if (!node.approved) {
          node.approved = true;
          this.setCount(this.count + 1);
          // The count the page loaded may include it already (approved while the reader was
          // away, shown from their own list because it is on a later page): ask the server.
          this.refreshCount();
        }
      } else {
        if (node.approved) { node.approved = false; this.setCount(this.count - 1); }
        node.body.replaceChildren(h('p', { class: 'warden-plain' }, entry.body || ''));
        const pending = status === 'pending' || status === 'held';
        node.badge.textContent = pending ? 'Awaiting moderation' : 'Not published';
        const message = (doc && doc.message) || entry.message
          || (pending ? 'Your comment is awaiting moderation.' : 'Your comment was not published.');
        node.state.append(pending ? `${message} Only you can see it until it is approved.` : message);
        if (!pending) {
          node.state.append(' ', h('button', { type: 'button', class: 'warden-action',
            onclick: () => this.forget(node) }, 'Dismiss'));
        }
      }
      this.renderActions(node);
    }

    forget(node) {
      this.dropEntry(node.id);
      this.removeNode(node);
      this.title.focus();
    }

    removeNode(node) {
      clearTimeout(node.windowTimer);
      this.nodes.delete(node.id);
      if (node.replies.querySelector('.warden-item')) {
        node.data = Object.assign({}, node.data, { deleted: true, html: '', author_name: null });
        node.approved = false;
        node.own = null;
        node.el.replaceWith(this.renderComment(node));
        node.actions = null;
        this.nodes.set(node.id, node);
      } else {
        node.li.remove();
      }
      this.updateEmpty();
    }

    /** Poll the reader's own comment with backoff until it is decided (held: slowly). */
    watch(id) {
      const node = this.nodes.get(id);
      if (!node || node.watching) return;
      node.watching = true;
      const started = Date.now();
      let delay = 1000;
      const again = () => {
        if (Date.now() - started > 30 * MINUTE) { node.watching = false; return; } // resumes on next visit
        setTimeout(tick, delay);
        delay = Math.min(delay * 1.6, 30000);
      };
      const tick = async () => {
        if (this.nodes.get(id) !== node || !node.li.isConnected) { node.watching = false; return; }
        if (document.hidden) { again(); return; }
        const entry = this.entry(id);
        if (!entry) { node.watching = false; return; }
        try {
          const doc = await api('GET', `/comments/${id}`, { token: this.token(), fresh: true });
          const changed = doc.status !== entry.status;
          Object.assign(entry, { status: doc.status, body: doc.body, message: doc.message });
          if (doc.status === 'deleted') { this.dropEntry(id); this.removeNode(node); return; }
          this.putEntry(entry);
          if (changed || doc.status === 'approved') {
            this.setOwnState(node, entry, doc);
            if (changed && doc.status === 'approved') this.announce('Your comment is published.');
            else if (changed && doc.status !== 'pending') this.announce(doc.message);
          }
          // Post-moderation: published before the checks ran, which may pull it back.
          const unchecked = doc.status === 'approved' && this.info.mode === 'post'
            && Date.now() - Date.parse(doc.created_at) < 2 * MINUTE;
          if (doc.status === 'pending' || doc.status === 'held' || unchecked) again();
          else node.watching = false;
        } catch (error) {
          if (error.status === 404 || error.status === 401) {
            this.dropEntry(id); this.removeNode(node); return;
          }
          again();
        }
      };
      again();
    }

    editor(node, onSaved) {
      const id = uid();
      const text = h('textarea', { id: id + '-body', rows: '4', 'aria-describedby': id + '-count' });
      text.value = node.own.body || '';
      const counter = h('span', { class: 'warden-counter', id: id + '-count' });
      const error = h('div', { class: 'warden-error', role: 'alert' });
      const save = h('button', { type: 'submit', class: 'warden-button' }, 'Save');
      const count = () => {
        const n = chars(text.value);
        counter.textContent = `${n} / ${this.info.max_body_chars}`;
        counter.classList.toggle('warden-over', n > this.info.max_body_chars);
      };
      text.addEventListener('input', count);
      count();
      const form = h('form', { class: 'warden-form warden-edit', novalidate: true },
        h('p', { class: 'warden-field' }, h('label', { for: text.id }, 'Edit your comment'), text),
        h('p', { class: 'warden-hint' }, 'An edited comment is checked again before it shows.'),
        h('div', { class: 'warden-form-foot' }, counter, h('span', { class: 'warden-form-buttons' },
          h('button', { type: 'button', class: 'warden-button warden-quiet',
            onclick: () => this.closeSlot(node, node.el) }, 'Cancel'), save)),
        error);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (!text.value.trim()) { error.textContent = 'Please write your comment first.'; text.focus(); return; }
        if (chars(text.value) > this.info.max_body_chars) {
          error.textContent = `Your comment is longer than ${this.info.max_body_chars} characters.`;
          text.focus();
          return;
        }
        save.disabled = true;
        try {
          await onSaved(text.value);
        } catch (failure) {
          error.textContent = describe(failure);
          this.closedWindow(node, failure);
        } finally { save.disabled = false; refocus(save, text); }
      });
      return form;
    }

    closedWindow(node, failure) {
      if (failure.code !== 'edit_window_closed') return;
      node.own.created_at = new Date(0).toISOString(); // this tab now knows the window is shut
      this.putEntry(node.own);
      for (const b of node.actions.querySelectorAll('button')) {
        if (b.textContent === 'Edit' || b.textContent === 'Delete') b.remove();
      }
    }

    openEdit(node) {
      const form = this.editor(node, async (body) => {
        const doc = await api('PATCH', `/comments/${node.id}`,
          { body: { body }, token: this.token() });
        const entry = Object.assign(node.own, { body: doc.body, status: doc.status, message: doc.message });
        this.putEntry(entry);
        this.closeSlot(node);
        this.setOwnState(node, entry, doc);
        this.announce('Your edit was saved and is awaiting moderation.');
        node.el.focus();
        this.watch(node.id);
      });
      this.openSlot(node, form);
      form.querySelector('textarea').focus();
    }

    openDelete(node) {
      const error = h('p', { class: 'warden-error', role: 'alert' });
      const keep = h('button', { type: 'button', class: 'warden-button warden-quiet',
        onclick: () => this.closeSlot(node, node.el) }, 'Keep it');
      const confirm = h('button', { type: 'button', class: 'warden-button warden-danger',
        onclick: async () => {
          confirm.disabled = true;
          try {
            await api('DELETE', `/comments/${node.id}`, { token: this.token() });
            if (node.approved) this.setCount(this.count - 1);
            this.dropEntry(node.id);
            this.removeNode(node);
            this.announce('Your comment was deleted.');
            this.title.focus();
          } catch (failure) {
            confirm.disabled = false;
            error.textContent = describe(failure);
            this.closedWindow(node, failure);
            refocus(confirm, keep);
          }
        } }, 'Delete');
      this.openSlot(node, h('div', { class: 'warden-confirm', role: 'group', 'aria-label': 'Delete your comment' },
        h('p', null, 'Delete your comment? This cannot be undone.'),
        h('p', { class: 'warden-form-buttons' }, keep, confirm), error));
      keep.focus();
    }

    // -- reporting --
    reasons() {
      this.reasonsReady = this.reasonsReady || api('GET', '/flag-reasons').then((doc) => doc.reasons);
      this.reasonsReady.catch(() => { this.reasonsReady = null; });
      return this.reasonsReady;
    }

    async openReport(node) {
      if (node.slot.querySelector('.warden-report')) { this.closeSlot(node, node.reportButton); return; }
      const id = uid();
      const error = h('p', { class: 'warden-error', role: 'alert' });
      let reasons;
      try {
        reasons = await this.reasons();
      } catch (failure) {
        this.openSlot(node, h('div', { class: 'warden-report' },
          h('p', { class: 'warden-error', role: 'alert' }, `Reporting is unavailable. ${describe(failure)}`)),
        node.reportButton);
        return;
      }
      const note = h('textarea', { id: id + '-note', rows: '2', maxlength: '1000' });
      const send = h('button', { type: 'submit', class: 'warden-button' }, 'Send report');
      const form = h('form', { class: 'warden-form warden-report', novalidate: true, 'aria-label': 'Report this comment' },
        h('fieldset', null, h('legend', null, 'Why are you reporting this comment?'),
          h('div', { class: 'warden-reasons' }, reasons.map((reason) => h('label', { class: 'warden-reason' },
            h('input', { type: 'radio', name: id + '-reason', value: reason.id }), reason.label)))),
        h('p', { class: 'warden-field' },
          h('label', { for: note.id }, 'Anything a moderator should know? ',
            h('span', { class: 'warden-optional' }, '(optional)')), note),
        h('div', { class: 'warden-form-foot' }, h('span', { class: 'warden-form-buttons' },
          h('button', { type: 'button', class: 'warden-button warden-quiet',
            onclick: () => this.closeSlot(node, node.reportButton) }, 'Cancel'), send)),
        error);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const picked = form.querySelector('input[type="radio"]:checked');
        if (!picked) {
          error.textContent = 'Please choose a reason.';
          form.querySelector('input[type="radio"]').focus();
          return;
        }
        send.disabled = true;
        const payload = { reason: picked.value };
        if (note.value.trim()) payload.note = note.value.trim();
        try {
          await api('POST', `/comments/${node.id}/flags`, { body: payload, token: this.token() });
          this.reported(node, 'Thank you. A moderator will take a look.');
        } catch (failure) {
          send.disabled = false;
          if (failure.code === 'already_flagged') this.reported(node, 'You have already reported this comment.');
          else error.textContent = describe(failure);
          refocus(send, null);
        }
      });
      this.openSlot(node, form, node.reportButton);
      form.querySelector('input[type="radio"]').focus();
    }

    reported(node, message) {
      store.set(this.key('flagged'), this.flagged().filter((i) => i !== node.id).concat(node.id).slice(-500));
      const thanks = h('p', { class: 'warden-thanks', role: 'status', tabindex: '-1' }, message);
      node.slot.replaceChildren(thanks);
      node.reportButton.textContent = 'Reported';
      node.reportButton.disabled = true;
      node.reportButton.setAttribute('aria-expanded', 'false');
      thanks.focus();
    }
  }

  // ---- start --------------------------------------------------------------------------

  const stylesheet = () => {
    if (document.querySelector('link[data-warden-css], link[rel="stylesheet"][href$="/widget.css"]')) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const link = h('link', { rel: 'stylesheet', href: BASE + '/widget.css', 'data-warden-css': true,
        onload: resolve, onerror: resolve });
      setTimeout(resolve, 3000); // never leave the thread unrendered over a slow stylesheet
      document.head.append(link);
    });
  };
  const mount = (host) => {
    if (!host || host.hasAttribute('data-warden-mounted')) return;
    host.setAttribute('data-warden-mounted', '');
    new Thread(host).start();
  };
  const mountAll = () => stylesheet().then(() => {
    document.querySelectorAll('#warden-thread, [data-warden-thread]').forEach(mount);
  });
  window.WardenEmbed = { mount: (host) => stylesheet().then(() => mount(host)) };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mountAll);
  else mountAll();
})();
