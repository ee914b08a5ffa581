/*! Comment Warden count.js: approved comment counts on list pages. No dependencies.
 *
 *   <span data-warden-count="my-article">Comments</span>
 *   <script src="https://comments.example/count.js" data-warden-site="demo" defer></script>
 *
 * One request per site for the whole page (batched past 100 keys, or past a safe URL
 * length). The text becomes "3 comments"; data-warden-format="number" gives just "3".
 * Counts the thread widget learns later on the same page (a comment approved) follow.
 */
(() => {
  'use strict';
  if (window.WardenCount) return;

  const script = document.currentScript || document.querySelector('script[src*="/count.js"]');
  const API = new URL('.', script.src).href.replace(/\/$/, '') + '/api/v1';
  const SCRIPT_SITE = script.getAttribute('data-warden-site');
  const MAX_KEYS = 100; // the API's limit per request
  const MAX_URL = 3500; // under common request-line limits (gunicorn: 4094 bytes)

  const label = (el, n) => {
    if (el.getAttribute('data-warden-format') === 'number') return String(n);
    return `${n} ${n === 1 ? 'comment' : 'comments'}`;
  };
  const show = (site, key, n) => {
    for (const el of document.querySelectorAll('[data-warden-count]')) {
      if (el.getAttribute('data-warden-count') !== key || siteOf(el) !== site) continue;
      el.textContent = label(el, n);
      el.setAttribute('data-warden-count-value', String(n));
    }
  };
  const siteOf = (el) => {
    const holder = el.closest('[data-warden-site]');
    return (holder && holder.getAttribute('data-warden-site')) || SCRIPT_SITE;
  };

  /** Split the keys into requests of at most MAX_KEYS keys and MAX_URL characters. */
  const batches = (base, keys) => {
    const out = [];
    let query = new URLSearchParams();
    let size = 0;
    for (const key of keys) {
      const part = new URLSearchParams({ article: key }).toString().length + 1;
      if (size && (size >= MAX_KEYS || (base + '?' + query).length + part > MAX_URL)) {
        out.push(query);
        query = new URLSearchParams();
        size = 0;
      }
      query.append('article', key);
      size += 1;
    }
    if (size) out.push(query);
    return out;
  };

  const refresh = () => {
    const bySite = new Map();
    for (const el of document.querySelectorAll('[data-warden-count]')) {
      const site = siteOf(el);
      const key = el.getAttribute('data-warden-count');
      if (!site || !key) continue;
      if (!bySite.has(site)) bySite.set(site, new Set());
      bySite.get(site).add(key);
    }
    const requests = [];
    for (const [site, keys] of bySite) {
      const base = `${API}/sites/${encodeURIComponent(site)}/counts`;
      for (const query of batches(base, keys)) {
        requests.push(fetch(`${base}?${query}`, { credentials: 'omit', headers: { Accept: 'application/json' } })
          .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
          .then((doc) => {
            for (const [key, n] of Object.entries(doc.counts || {})) show(site, key, n);
          })
          .catch(() => { /* counts are decoration: leave the element's own text */ }));
      }
    }
    return Promise.all(requests);
  };

  document.addEventListener('warden:count', (event) => {
    const { site, article, count } = event.detail || {};
    if (site && article != null && Number.isInteger(count)) show(site, article, count);
  });
  window.WardenCount = { refresh };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', refresh);
  else refresh();
})();
