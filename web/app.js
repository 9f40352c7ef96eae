// cmdb console: a single page over the API of the controller that serves it. No build
// step but states.js (the state table's statuses, loaded first), no dependency, no
// inline script (the Content-Security-Policy forbids it). Views are chosen by the URL's
// hash: #/releases, #/releases/<id> (here), #/nodes, #/new (web/nodes.js, which takes its
// helpers from CMDB_UI). Data is always written with
// textContent, never as HTML. A release is followed with its summary view and its
// timeline once a second; its node table is fetched again only when the counts change.
// Who is signed in comes from GET /api/v1/whoami; only the actions the principal's roles
// grant are offered (the API still decides). docs/console.md describes it.
'use strict';

(function () {
  // Every status comes from the state table: /ui/states.js is written from internal/state
  // at build time (cmd/webstates). The filter lists releases that may still change first.
  const RELEASE_STATUSES = CMDB_RELEASE_STATUSES.filter((s) => !s.terminal)
    .concat(CMDB_RELEASE_STATUSES.filter((s) => s.terminal)).map((s) => s.name);
  const NODE_STATUSES = CMDB_NODE_STATUSES;
  const TERMINAL = new Set(CMDB_RELEASE_STATUSES.filter((s) => s.terminal).map((s) => s.name));
  const TOKEN_KEY = 'cmdb.token';
  const LIVE_MS = 1000;      // a running release, its timeline, the list of releases
  const IDLE_MS = 5000;      // a finished release (only rolled_back_by may still change), nodes
  const NODES_MAX_ROWS = 2000;
  const EVENTS_KEEP = 2000;

  const main = document.getElementById('main');

  // ---- DOM ----

  // h('a', {href: '#/x', class: 'c', onclick: f}, 'text', child, [more]): an element.
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
    add(el, kids);
    return el;
  }

  function add(el, kids) {
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      if (Array.isArray(k)) add(el, k);
      else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }

  function replace(el, ...kids) {
    el.replaceChildren();
    add(el, kids);
  }

  function badge(status) {
    return h('span', {class: 'badge s-' + status, 'data-status': status}, status.replace('_', ' '));
  }

  function pad(n) {
    return String(n).padStart(2, '0');
  }

  // An API time (RFC 3339, UTC) in the browser's local time, to the second.
  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function fmtDuration(fromIso, toIso) {
    if (!fromIso) return '';
    const ms = (toIso ? new Date(toIso) : new Date()) - new Date(fromIso);
    if (!(ms >= 0)) return '';
    if (ms < 10000) return (ms / 1000).toFixed(1) + ' s';
    const s = Math.round(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  function timeEl(iso) {
    return iso ? h('time', {datetime: iso, title: iso}, fmtTime(iso)) : '';
  }

  // ---- the API ----

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  // A random Idempotency-Key: a create that is sent twice (a double click, a retry)
  // creates one resource.
  function newKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return 'console-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  async function api(method, path, body, headers) {
    const hd = Object.assign({Accept: 'application/json'}, headers || {});
    const t = token();
    if (t) hd.Authorization = 'Bearer ' + t;
    if (body !== undefined) hd['Content-Type'] = 'application/json';
    let r;
    try {
      r = await fetch(path, {method, headers: hd, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (e) {
      throw new ApiError(0, 'the controller did not answer (' + e.message + ')', null);
    }
    let data = null;
    try {
      data = await r.json();
    } catch (e) {
      data = null;
    }
    if (!r.ok) {
      throw new ApiError(r.status, (data && data.error) || r.statusText || 'HTTP ' + r.status, data);
    }
    return {status: r.status, data};
  }

  // What an operator should read for a failed call.
  function explain(e) {
    if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
    switch (e.status) {
      case 0: return e.message + '; retrying.';
      case 401: return 'Not signed in: ' + e.message + '. Enter an API token at the top' +
        ' (kept in this tab only), or use a client certificate.';
      case 403: return 'Not allowed: ' + e.message + '.';
      case 409: return 'Refused: ' + e.message +
        (e.body && e.body.status ? ' (it is ' + e.body.status.replace('_', ' ') + ' now).' : '.');
      case 422: return 'Not valid: ' + e.message + '.';
      case 503: return 'The database is unavailable (' + e.message + '); try again shortly.';
      default: return 'Error ' + e.status + ': ' + e.message + '.';
    }
  }

  // ---- the banner: the outcome of the last action ----

  const banner = document.getElementById('banner');
  const bannerText = document.getElementById('banner-text');

  function say(msg, ok) {
    bannerText.textContent = msg;
    banner.classList.toggle('ok', !!ok);
    banner.hidden = false;
  }

  function unsay() {
    banner.hidden = true;
  }

  document.getElementById('banner-close').addEventListener('click', unsay);

  // ---- confirmation ----

  const dialog = document.getElementById('confirm');

  // Resolves to {ok, comment}; Escape and "Keep it as it is" are a no.
  function confirmAction(title, text, opts) {
    const o = opts || {};
    document.getElementById('confirm-title').textContent = title;
    document.getElementById('confirm-text').textContent = text;
    const yes = document.getElementById('confirm-yes');
    yes.textContent = o.yes || 'Confirm';
    yes.className = o.danger ? 'danger' : 'primary';
    const row = document.getElementById('confirm-comment-row');
    const comment = document.getElementById('confirm-comment');
    row.hidden = !o.comment;
    comment.value = '';
    dialog.returnValue = 'cancel';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => {
        resolve({ok: dialog.returnValue === 'ok', comment: comment.value.trim()});
      }, {once: true});
      dialog.showModal();
      (o.comment ? comment : document.getElementById('confirm-no')).focus();
    });
  }

  // ---- who is signed in ----

  const authState = document.getElementById('auth-state');
  const authInput = document.getElementById('auth-token');
  const authForget = document.getElementById('auth-forget');
  // GET /api/v1/whoami: {principal, roles, grants, scope}; null while not known, or when
  // the server needs a token even to read and has none that it knows.
  let me = null;

  // 1 when the principal's roles grant role (reader, operator, approver, inventory, ...).
  function may(role) {
    return !!(me && me.grants.includes(role));
  }

  // What the roles grant, for a note where a control is left out.
  function needs(role, what) {
    return h('p', {class: 'muted', 'data-needs': role}, what + ' needs the ' + role + ' role; ' +
      (me && me.principal ? me.principal + ' has ' + (me.roles.join(', ') || 'none') + '.'
        : 'sign in with a token at the top, or a client certificate.'));
  }

  function showAuth() {
    const t = token();
    if (me && me.principal) {
      authState.textContent = 'signed in as ' + me.principal + ' (' + me.roles.join(', ') + ')' +
        (me.scope ? ', scope ' + me.scope : '') + (t ? '; token kept in this tab only' : '');
    } else {
      authState.textContent = t ? 'token set (this tab only)'
        : me ? 'not signed in: reads only' : 'not signed in: this controller needs a token to read';
    }
    authForget.hidden = !t;
    document.querySelector('[data-nav="new"]').hidden = !may('operator');
  }

  // Asks who we are and shows it; null when the server wants a token (401).
  async function whoami() {
    try {
      me = (await api('GET', '/api/v1/whoami')).data;
    } catch (e) {
      me = null;
      if (e.status !== 401) throw e;
    }
    showAuth();
    return me;
  }

  document.getElementById('auth').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = authInput.value.trim();
    if (!t) {
      say('Enter a token first.');
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, t);
    authInput.value = '';
    try {
      // An unknown token is refused (401): that tells a typo at once.
      me = (await api('GET', '/api/v1/whoami')).data;
      showAuth();
      route();
      say('Token set: signed in as ' + me.principal + '. It stays in this tab only and is sent with every request.', true);
    } catch (e) {
      if (e.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      await signedIn(true);
      say(explain(e));
    }
  });

  authForget.addEventListener('click', async () => {
    sessionStorage.removeItem(TOKEN_KEY);
    await signedIn(false);
    if (me) say('Token forgotten.', true);
  });

  // After the principal may have changed: who it is now, and the view drawn for it. quiet:
  // the caller explains a refusal itself.
  async function signedIn(quiet) {
    try {
      if (!(await whoami()) && !quiet) {
        say('This controller needs a token even to read: enter one at the top.');
        authInput.focus();
      }
    } catch (e) {
      say(explain(e));
    }
    route();
  }

  // ---- polling ----

  // Calls fn now and then every ms() milliseconds, never two at once, not while the tab
  // is hidden; a failure is shown by onError and the loop goes on.
  function poller(fn, ms, onError) {
    let stopped = false;
    let timer = null;
    async function tick() {
      timer = null;
      if (stopped) return;
      if (!document.hidden) {
        try {
          await fn();
        } catch (e) {
          if (!stopped && onError) onError(e);
        }
      }
      if (!stopped) timer = setTimeout(tick, ms());
    }
    tick();
    return {
      stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
      },
      now() {
        if (stopped) return;
        if (timer) {
          clearTimeout(timer);
          tick();
        }
      },
    };
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && view && view.wake) view.wake();
  });

  // ---- views ----

  let view = null; // {stop(), wake()} of the view on screen

  function statusLine() {
    return h('p', {class: 'muted', 'aria-live': 'polite', id: 'view-status'});
  }

  function setStatus(el, e) {
    el.textContent = e ? 'Last update failed: ' + explain(e) : '';
  }

  function progressBar(counts, total) {
    const bar = h('div', {class: 'bar', role: 'img',
      'aria-label': NODE_STATUSES.filter((s) => counts[s]).map((s) => counts[s] + ' ' + s).join(', ')});
    for (const s of ['success', 'failed', 'skipped', 'running', 'pending']) {
      if (counts[s] > 0 && total > 0) {
        bar.append(h('span', {class: s, style: null, title: counts[s] + ' ' + s}));
        bar.lastChild.style.width = (100 * counts[s] / total) + '%';
      }
    }
    return bar;
  }

  function legend() {
    return h('div', {class: 'legend', 'aria-hidden': 'true'},
      ['success', 'failed', 'skipped', 'running', 'pending'].map((s) =>
        h('span', {}, h('i', {class: s}), s)));
  }

  function countsText(b) {
    const parts = [];
    for (const s of ['success', 'failed', 'skipped', 'running', 'pending']) {
      if (b[s]) parts.push(b[s] + ' ' + s);
    }
    return parts.join(', ') || 'no nodes';
  }

  // "zone=a", or "no zone" for the group of the nodes without the label.
  function groupName(r, value) {
    return value === null ? 'no ' + r.group_by : r.group_by + '=' + value;
  }

  // A group's counts from its batches' (summary view), and its status as a batch's is
  // made: failed if a batch failed, running while one runs, else pending until all ended.
  function groupCounts(batchList, g) {
    const c = {total: 0};
    const st = [];
    for (const b of batchList) {
      if (b.batch < g.first_batch || b.batch >= g.first_batch + g.batches) continue;
      for (const s of NODE_STATUSES) c[s] = (c[s] || 0) + (b[s] || 0);
      c.total += b.total;
      st.push(b.status);
    }
    c.status = st.includes('failed') ? 'failed' : st.includes('running') ? 'running'
      : st.length && st.every((x) => x === 'success' || x === 'skipped') ? (st.includes('success') ? 'success' : 'skipped')
        : st.some((x) => x !== 'pending') ? 'running' : 'pending';
    return c;
  }

  // #/releases[?status=...]
  function viewReleases(params) {
    const status = params.get('status') || '';
    const filter = h('select', {id: 'release-filter', onchange: (ev) => {
      location.hash = '#/releases' + (ev.target.value ? '?status=' + ev.target.value : '');
    }}, h('option', {value: ''}, 'every status'),
    RELEASE_STATUSES.map((s) => h('option', {value: s, selected: s === status}, s.replace('_', ' '))));
    const tbody = h('tbody');
    const st = statusLine();
    replace(main,
      h('h1', {}, 'Releases'),
      h('div', {class: 'row'}, h('label', {}, 'Status', filter),
        may('operator') ? h('a', {href: '#/new'}, 'New release') : null),
      st,
      h('div', {class: 'scroll'}, h('table', {id: 'releases-table'},
        h('thead', {}, h('tr', {},
          h('th', {class: 'num'}, 'Release'), h('th', {class: 'num'}, 'Version'),
          h('th', {}, 'Status'), h('th', {}, 'Progress'), h('th', {}, 'Nodes'),
          h('th', {class: 'wide'}, 'Created by'), h('th', {class: 'wide'}, 'Created'),
          h('th', {class: 'wide'}, 'Took'))),
        tbody)));
    let last = '';
    return poller(async () => {
      const q = '/api/v1/releases?limit=100' + (status ? '&status=' + encodeURIComponent(status) : '');
      const {data} = await api('GET', q);
      setStatus(st, null);
      const key = JSON.stringify(data.releases);
      if (key === last) return;
      last = key;
      if (!data.releases.length) {
        replace(tbody, h('tr', {}, h('td', {colspan: 8, class: 'muted'},
          status ? 'No release is ' + status.replace('_', ' ') + '.' : 'No release yet.')));
        return;
      }
      replace(tbody, data.releases.map((r) => {
        const other = Math.max(0, r.total_nodes - r.success_nodes - r.failed_nodes);
        const done = TERMINAL.has(r.status);
        return h('tr', {'data-release': r.id},
          h('td', {class: 'num'}, h('a', {href: '#/releases/' + r.id}, '#' + r.id)),
          h('td', {class: 'num'}, r.version),
          h('td', {}, badge(r.status)),
          h('td', {}, progressBar({success: r.success_nodes, failed: r.failed_nodes,
            [done ? 'skipped' : 'pending']: other}, r.total_nodes)),
          h('td', {class: 'num'}, r.success_nodes + ' / ' + r.total_nodes + ' ok' +
            (r.failed_nodes ? ', ' + r.failed_nodes + ' failed' : '')),
          h('td', {class: 'wide'}, r.created_by || ''),
          h('td', {class: 'wide'}, timeEl(r.created_at)),
          h('td', {class: 'wide'}, r.started_at ? fmtDuration(r.started_at, r.finished_at) : ''));
      }));
    }, () => LIVE_MS, (e) => setStatus(st, e));
  }

  // Each action, the role it needs, and what its confirmation says.
  const ACTIONS = {
    pause: {label: 'Pause', role: 'operator', title: 'Pause this release?',
      text: (r) => 'Nothing new is dispatched from now on; calls already sent to agents end and are recorded. Release ' + r.id + ' can be resumed later.'},
    resume: {label: 'Resume', role: 'operator', title: 'Resume this release?',
      text: (r) => 'Release ' + r.id + ' goes on from where it stopped. Nodes not yet dispatched are checked again; one that went offline is skipped.'},
    cancel: {label: 'Cancel release', role: 'operator', danger: true, title: 'Cancel this release for good?',
      text: (r) => 'Every node of release ' + r.id + ' not yet dispatched is skipped; calls in flight end and are recorded. A cancelled release cannot be resumed.'},
    approve: {label: 'Approve', role: 'approver', comment: true, title: 'Approve this release?',
      text: (r) => 'Release ' + r.id + ' applies version ' + r.version + ' to ' + r.total_nodes + ' nodes once approved. ' + (r.approval_reason ? 'It awaits approval because ' + r.approval_reason + '.' : '')},
    reject: {label: 'Reject', role: 'approver', danger: true, comment: true, title: 'Reject this release?',
      text: (r) => 'Release ' + r.id + ' will never run; its nodes are skipped.'},
    rollback: {label: 'Roll back', role: 'operator', danger: true, title: 'Roll this release back?',
      text: (r) => 'A new release puts every node that release ' + r.id + ' dispatched back on the version it ran before, in the same batches.'},
  };

  // #/releases/<id>
  function viewRelease(id) {
    const title = h('h1', {}, 'Release ' + id);
    const actions = h('div', {class: 'buttons', id: 'actions', role: 'group', 'aria-label': 'Actions'});
    const facts = h('dl', {class: 'facts', id: 'release-facts'});
    const notes = h('div', {id: 'release-notes'});
    const batches = h('div', {class: 'batches', id: 'batches'});
    const groups = h('div', {class: 'batches', id: 'groups'});
    const groupsPanel = h('section', {class: 'panel', id: 'groups-panel', 'aria-labelledby': 'h-groups', hidden: true},
      h('h2', {id: 'h-groups'}, 'Groups'), groups);
    const nodeFilter = h('select', {id: 'node-filter'}, h('option', {value: ''}, 'every status'),
      NODE_STATUSES.map((s) => h('option', {value: s}, s)));
    const nodesBody = h('tbody');
    const nodesNote = h('p', {class: 'muted', id: 'nodes-note'});
    const timeline = h('ol', {class: 'timeline', id: 'timeline', 'aria-label': 'Timeline'});
    const st = statusLine();
    replace(main, title, actions, st, notes,
      h('section', {class: 'panel'}, facts),
      groupsPanel,
      h('section', {class: 'panel', 'aria-labelledby': 'h-batches'},
        h('h2', {id: 'h-batches'}, 'Batches'), legend(), batches),
      h('section', {class: 'panel', 'aria-labelledby': 'h-nodes'},
        h('h2', {id: 'h-nodes'}, 'Nodes'),
        h('div', {class: 'row'}, h('label', {}, 'Status', nodeFilter)),
        nodesNote,
        h('div', {class: 'scroll'}, h('table', {id: 'nodes-table'},
          h('thead', {}, h('tr', {}, h('th', {class: 'num'}, 'Batch'), h('th', {class: 'num'}, 'Node'),
            h('th', {}, 'Host'), h('th', {class: 'wide'}, 'Address'), h('th', {}, 'Status'),
            h('th', {class: 'num wide'}, 'Version'), h('th', {class: 'num wide'}, 'Was'),
            h('th', {class: 'wide'}, 'Took'), h('th', {}, 'Error'))),
          nodesBody))),
      h('section', {class: 'panel', 'aria-labelledby': 'h-timeline'},
        h('h2', {id: 'h-timeline'}, 'Timeline'), timeline));

    let rel = null;
    let lastRel = '';
    let nodesKey = null;
    let nodesAt = 0;
    let eventsAfter = 0;
    let busy = false;

    nodeFilter.addEventListener('change', () => {
      nodesKey = null;
      poll.now();
    });

    function fact(name, value) {
      return value === null || value === undefined || value === '' ? null
        : [h('dt', {}, name), h('dd', {}, value)];
    }

    function link(to) {
      return to ? h('a', {href: '#/releases/' + to}, 'release ' + to) : null;
    }

    function renderRelease(r) {
      replace(title, 'Release ' + r.id + ' ', badge(r.status));
      title.querySelector('.badge').id = 'release-status';
      const plan = r.batch_size ? r.batch_size + ' per batch' : JSON.stringify(r.batch_plan);
      replace(facts,
        fact('Version', String(r.version)),
        fact('Nodes', r.total_nodes + ' in ' + r.batch_count + ' batches (' + plan + ')'),
        fact('Done', r.success_nodes + ' success, ' + r.failed_nodes + ' failed' +
          (r.failure_allowance ? ' (' + r.failure_allowance + ' failures tolerated)' : '')),
        fact('Created', [timeEl(r.created_at), r.created_by ? ' by ' + r.created_by : '']),
        fact('Approved', r.approved_by ? [timeEl(r.approved_at), ' by ' + r.approved_by,
          r.approval_comment ? ': ' + r.approval_comment : ''] : null),
        fact('Rejected', r.rejected_by ? [timeEl(r.rejected_at), ' by ' + r.rejected_by,
          r.approval_comment ? ': ' + r.approval_comment : ''] : null),
        fact('Started', r.started_at ? timeEl(r.started_at) : null),
        fact('Finished', r.finished_at ? [timeEl(r.finished_at), ' (took ' +
          fmtDuration(r.started_at || r.created_at, r.finished_at) + ')'] : null),
        fact('Last action', r.updated_by ? [r.updated_by, ' at ', timeEl(r.updated_at)] : null),
        fact('Pause after batch', r.pause_after ? r.pause_after.join(', ') : null),
        fact('Selector', r.selector),
        fact('Grouped by', r.group_by ? r.group_by + (r.pause_between_groups ? ', pausing after each group but the last' : '') : null),
        fact('Left out', r.left_out && r.left_out.length ? r.left_out.slice(0, 20).map((n) => n.hostname + ' (' + n.reason + ')').join(', ') +
          (r.left_out.length > 20 ? ' and ' + (r.left_out.length - 20) + ' more' : '') : null),
        fact('Not before', r.not_before ? timeEl(r.not_before) : null),
        fact('Expires', r.expires_at ? timeEl(r.expires_at) : null),
        fact('Auto rollback', r.auto_rollback ? 'yes, if it fails' : null),
        fact('Rolls back', r.rollback_of ? [link(r.rollback_of), r.rollback_reason ? ' (' + r.rollback_reason + ')' : ''] : null),
        fact('Rolled back by', link(r.rolled_back_by)));
      const n = [];
      if (r.error_msg) n.push(h('div', {class: 'error-box', id: 'release-error'}, h('strong', {}, 'Error: '), r.error_msg));
      if (r.status === 'paused' && r.paused_reason) n.push(h('div', {class: 'notice'}, 'Paused: ' + r.paused_reason + '.'));
      if (r.status === 'awaiting_approval') n.push(h('div', {class: 'notice'}, 'Awaits approval' + (r.approval_reason ? ': ' + r.approval_reason : '') + '. Another principal than its creator must approve it.'));
      if (r.waiting_for) n.push(h('div', {class: 'notice'}, 'Waits for ', link(r.waiting_for), ', which shares nodes with it and was created first.'));
      replace(notes, n);
      replace(actions, (r.actions || []).map((a) => {
        const def = ACTIONS[a];
        if (!def || !may(def.role)) return null;
        return h('button', {type: 'button', class: def.danger ? 'danger' : '', 'data-action': a,
          disabled: busy, onclick: () => act(a)}, def.label);
      }));
      replace(batches, (r.batches || []).map((b) => [
        h('span', {}, 'Batch ' + b.batch + ' ', b.group !== undefined ? groupName(r, b.group) + ' ' : '', badge(b.status)),
        progressBar(b, b.total),
        h('span', {class: 'counts', 'data-batch': b.batch}, countsText(b) + ' of ' + b.total)]));
      groupsPanel.hidden = !r.groups;
      replace(groups, (r.groups || []).map((g) => {
        const c = groupCounts(r.batches || [], g);
        return [h('span', {}, groupName(r, g.group) + ' ', badge(c.status)), progressBar(c, c.total),
          h('span', {class: 'counts', 'data-group': g.group === null ? '' : g.group},
            countsText(c) + ' of ' + c.total + ' (batch' + (g.batches > 1 ? 'es ' + g.first_batch + ' to ' +
            (g.first_batch + g.batches - 1) : ' ' + g.first_batch) + ')')];
      }));
    }

    async function act(a) {
      const def = ACTIONS[a];
      const answer = await confirmAction(def.title, def.text(rel), {yes: def.label, danger: def.danger, comment: def.comment});
      if (!answer.ok) return;
      busy = true;
      actions.querySelectorAll('button').forEach((b) => { b.disabled = true; });
      try {
        const body = def.comment && answer.comment ? {comment: answer.comment} : {};
        const {data} = await api('POST', '/api/v1/releases/' + id + '/' + a, body);
        if (a === 'rollback') {
          say('Rollback release ' + data.id + ' created.', true);
          location.hash = '#/releases/' + data.id;
          return;
        }
        say('Release ' + id + ' is ' + data.status.replace('_', ' ') + ' now.', true);
      } catch (e) {
        say(explain(e));
      } finally {
        busy = false;
      }
      lastRel = '';
      poll.now();
    }

    async function loadNodes(r) {
      const f = nodeFilter.value;
      const key = f + '|' + JSON.stringify((r.batches || []).map((b) => [b.pending, b.running, b.success, b.failed, b.skipped]));
      // A big release is not fetched whole on every change: at most every 5 s.
      if (key === nodesKey || (r.total_nodes > 1000 && Date.now() - nodesAt < 5000 && nodesKey !== null && nodesKey.startsWith(f + '|'))) return;
      const {data} = await api('GET', '/api/v1/releases/' + id + (f ? '?node_status=' + f : ''));
      nodesKey = key;
      nodesAt = Date.now();
      const rows = [];
      let total = 0;
      for (const b of data.batches || []) {
        for (const nd of b.nodes || []) {
          total++;
          if (rows.length >= NODES_MAX_ROWS) continue;
          rows.push(h('tr', {'data-node': nd.node_id, 'data-status': nd.status},
            h('td', {class: 'num'}, b.batch), h('td', {class: 'num'}, nd.node_id),
            h('td', {class: 'host'}, nd.hostname), h('td', {class: 'wide'}, nd.node_ip + ':' + nd.agent_port),
            h('td', {}, badge(nd.status)), h('td', {class: 'num wide'}, nd.version),
            h('td', {class: 'num wide'}, nd.previous_version === null ? '' : nd.previous_version),
            h('td', {class: 'wide'}, nd.started_at ? fmtDuration(nd.started_at, nd.finished_at) : ''),
            h('td', {class: 'err'}, nd.error_msg || '')));
        }
      }
      nodesNote.textContent = total > rows.length ? 'Showing the first ' + rows.length + ' of ' + total + ' nodes; choose a status to narrow the list.' : '';
      if (!rows.length) rows.push(h('tr', {}, h('td', {colspan: 9, class: 'muted'}, f ? 'No node is ' + f + '.' : 'No nodes.')));
      replace(nodesBody, rows);
    }

    async function loadEvents() {
      for (let pages = 0; pages < 5; pages++) {
        const {data} = await api('GET', '/api/v1/releases/' + id + '/events?after=' + eventsAfter + '&limit=500');
        const stick = timeline.scrollTop + timeline.clientHeight >= timeline.scrollHeight - 4;
        for (const ev of data.events) {
          timeline.append(h('li', {'data-type': ev.type}, timeEl(ev.at),
            h('strong', {}, ev.type.replace(/_/g, ' ')),
            ev.node_id ? ' node ' + ev.node_id : '', ' by ' + ev.actor,
            ev.detail ? ': ' + ev.detail : ''));
        }
        while (timeline.childElementCount > EVENTS_KEEP) timeline.firstElementChild.remove();
        if (stick) timeline.scrollTop = timeline.scrollHeight;
        eventsAfter = data.next_after;
        if (data.events.length < 500) return;
      }
    }

    const poll = poller(async () => {
      const {data} = await api('GET', '/api/v1/releases/' + id + '?view=summary');
      rel = data;
      setStatus(st, null);
      const key = JSON.stringify(data);
      if (key !== lastRel && !busy) {
        lastRel = key;
        renderRelease(data);
      }
      await loadNodes(data);
      await loadEvents();
    }, () => (rel && TERMINAL.has(rel.status) ? IDLE_MS : LIVE_MS), (e) => {
      if (e.status === 404) {
        replace(main, h('h1', {}, 'Release ' + id), h('p', {}, 'There is no release ' + id + '. ', h('a', {href: '#/releases'}, 'All releases')));
        poll.stop();
        return;
      }
      setStatus(st, e);
    });
    return {stop: poll.stop, wake: poll.now};
  }

  // ---- what web/nodes.js uses ----

  window.CMDB_UI = {h, add, replace, badge, api, explain, say, unsay, confirmAction, poller,
    newKey, timeEl, statusLine, setStatus, main, may, needs, views: {}};

  // ---- routing ----

  function route() {
    if (view) view.stop();
    view = null;
    if (dialog.open) dialog.close('cancel');
    const hash = location.hash || '#/releases';
    const q = hash.indexOf('?');
    const path = q < 0 ? hash.slice(1) : hash.slice(1, q);
    const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
    const parts = path.split('/').filter(Boolean);
    const section = parts[0] || 'releases';
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (section === 'releases' && parts.length === 1) {
      document.title = 'Releases - cmdb';
      view = viewReleases(params);
    } else if (section === 'releases' && parts.length === 2 && /^[1-9][0-9]{0,17}$/.test(parts[1])) {
      document.title = 'Release ' + parts[1] + ' - cmdb';
      view = viewRelease(parts[1]);
    } else if (section === 'nodes' && parts.length === 1) {
      document.title = 'Nodes - cmdb';
      view = CMDB_UI.views.nodes(params);
    } else if (section === 'new' && parts.length === 1) {
      document.title = 'New release - cmdb';
      view = CMDB_UI.views.new();
    } else {
      replace(main, h('h1', {}, 'Not found'), h('p', {}, 'The console has no page ' + hash + '. ', h('a', {href: '#/releases'}, 'Releases')));
    }
  }

  document.getElementById('skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', route);
  // The views of web/nodes.js are added after this file runs, before the page is loaded:
  // who is signed in is asked then, and the view drawn for it.
  document.addEventListener('DOMContentLoaded', () => signedIn(false));
})();
