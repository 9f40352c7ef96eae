// cmdb console: the pages about nodes: the inventory (#/nodes: labels, a selector filter
// with its count, a page at a time) and the form of a new release (#/new: every online
// node, nodes picked in order, or a selector with a live count; zone by zone with
// group_by). Loaded after app.js, whose helpers it takes from CMDB_UI and whose router
// calls the views it adds there. Data is always written with textContent.
'use strict';

(function () {
  const {h, replace, badge, api, explain, say, unsay, confirmAction, poller, newKey, timeEl,
    statusLine, setStatus, main, may, needs} = CMDB_UI;
  const IDLE_MS = 5000;
  const PAGE = 100;          // nodes a page of the inventory shows
  const PICK_PAGE = 100;     // nodes a page of the picker shows
  const COUNT_DELAY_MS = 300; // the live count waits for typing to pause

  // "env=prod zone=a", each label a chip; an empty value shows as "key" alone.
  function labelChips(labels) {
    const keys = Object.keys(labels || {});
    if (!keys.length) return h('span', {class: 'muted'}, 'none');
    return h('span', {class: 'labels'}, keys.map((k) =>
      h('span', {class: 'label', title: k + '=' + labels[k]}, labels[k] === '' ? k : k + '=' + labels[k])));
  }

  // The query of a page of nodes: the filters, limit and after, with the count of all.
  function nodesQuery(filters, limit, after) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    q.set('limit', String(limit));
    q.set('total', '1');
    if (after) q.set('after', String(after));
    return '/api/v1/nodes?' + q.toString();
  }

  // Pages through the API: next() and prev() move, load() fetches the page shown now.
  function pager(limit) {
    const starts = [0]; // the after of each page seen, so that prev() can go back
    let at = 0;
    let next = null;
    return {
      reset() { starts.length = 1; at = 0; next = null; },
      after() { return starts[at]; },
      seen(data) { next = data.next_after; },
      hasNext() { return next !== null && next !== undefined; },
      hasPrev() { return at > 0; },
      next() { if (this.hasNext()) { starts[at + 1] = next; at++; starts.length = at + 1; } },
      prev() { if (at > 0) at--; },
      first() { return at * limit + 1; },
    };
  }

  // #/nodes[?selector=...]
  function viewNodes(params) {
    const tbody = h('tbody');
    const st = statusLine();
    const selector = h('input', {type: 'search', id: 'node-selector', spellcheck: 'false',
      placeholder: 'a selector: env=prod,zone in (a,b)', value: params.get('selector') || ''});
    const apply = h('button', {type: 'button', id: 'node-apply'}, 'Filter');
    const count = h('span', {id: 'node-count', 'aria-live': 'polite'});
    const search = h('input', {type: 'search', id: 'node-search', placeholder: 'host name or address'});
    const health = h('select', {id: 'node-health'}, h('option', {value: ''}, 'online and offline'),
      h('option', {value: 'online'}, 'online'), h('option', {value: 'offline'}, 'offline'));
    const prev = h('button', {type: 'button', id: 'node-prev', disabled: true}, 'Previous');
    const next = h('button', {type: 'button', id: 'node-next', disabled: true}, 'Next');
    const pageInfo = h('span', {id: 'node-page', class: 'muted'});
    const form = h('form', {class: 'grid', id: 'node-form'},
      h('label', {for: 'n-hostname'}, 'Host name'), h('input', {id: 'n-hostname', required: true, maxlength: 253, spellcheck: 'false'}),
      h('label', {for: 'n-ip'}, 'IP address'), h('input', {id: 'n-ip', required: true, spellcheck: 'false'}),
      h('label', {for: 'n-port'}, 'Agent port'), h('input', {id: 'n-port', type: 'number', min: 1, max: 65535, value: 8443}),
      h('label', {for: 'n-status'}, 'Status'), h('select', {id: 'n-status'}, h('option', {value: 'online'}, 'online'), h('option', {value: 'offline'}, 'offline')),
      h('label', {for: 'n-labels'}, 'Labels'), h('input', {id: 'n-labels', spellcheck: 'false', placeholder: 'env=prod, zone=a (optional)'}),
      h('div', {class: 'buttons'}, h('button', {type: 'submit', class: 'primary', id: 'n-submit'}, 'Register node')));
    replace(main, h('h1', {}, 'Nodes'),
      h('div', {class: 'row'}, h('label', {}, 'Selector', selector), apply, count),
      h('div', {class: 'row'}, h('label', {}, 'Find', search), h('label', {}, 'Status', health)),
      st,
      h('div', {class: 'scroll'}, h('table', {id: 'inventory'},
        h('thead', {}, h('tr', {}, h('th', {class: 'num'}, 'Node'), h('th', {}, 'Host'),
          h('th', {}, 'Address'), h('th', {}, 'Status'), h('th', {}, 'Labels'),
          h('th', {class: 'num'}, 'Config version'), h('th', {class: 'wide'}, 'Applied'),
          h('th', {class: 'wide'}, 'Last change by'), h('th', {}, ''))),
        tbody)),
      h('div', {class: 'row'}, prev, pageInfo, next),
      h('section', {class: 'panel', 'aria-labelledby': 'h-register'}, h('h2', {id: 'h-register'}, 'Register a node'),
        may('inventory') ? form : needs('inventory', 'Registering and changing nodes')));

    const pages = pager(PAGE);
    let nodes = [];
    let key = newKey();
    let last = '';
    let filter = selector.value.trim();

    function render() {
      const q = search.value.trim().toLowerCase();
      const shown = nodes.filter((n) => !q || n.hostname.toLowerCase().includes(q) || n.ip.includes(q));
      if (!shown.length) {
        replace(tbody, h('tr', {}, h('td', {colspan: 9, class: 'muted'},
          nodes.length ? 'No node of this page matches.' : filter || health.value ? 'No node matches.' : 'No node registered yet.')));
        return;
      }
      replace(tbody, shown.map((n) => {
        const to = n.status === 'online' ? 'offline' : 'online';
        return h('tr', {'data-node': n.id},
          h('td', {class: 'num'}, n.id), h('td', {}, n.hostname), h('td', {}, n.ip + ':' + n.agent_port),
          h('td', {}, badge(n.status)), h('td', {class: 'labels-cell'}, labelChips(n.labels)),
          h('td', {class: 'num'}, n.config_version === null ? 'none yet' : n.config_version),
          h('td', {class: 'wide'}, timeEl(n.config_applied_at)),
          h('td', {class: 'wide'}, n.updated_by || n.created_by || ''),
          h('td', {}, may('inventory') ? h('button', {type: 'button', 'data-set': to, onclick: () => setHealth(n, to)}, 'Set ' + to) : ''));
      }));
    }

    function showPage(data) {
      pages.seen(data);
      prev.disabled = !pages.hasPrev();
      next.disabled = !pages.hasNext();
      count.textContent = data.total + (data.total === 1 ? ' node' : ' nodes') +
        (filter || health.value ? ' match' + (data.total === 1 ? 'es' : '') : '');
      pageInfo.textContent = data.count ? 'nodes ' + pages.first() + ' to ' + (pages.first() + data.count - 1) +
        ' of ' + data.total : '';
    }

    async function setHealth(n, to) {
      const a = await confirmAction('Set ' + n.hostname + ' ' + to + '?',
        to === 'offline' ? 'New releases leave it out, and a release that reaches it later skips it without contacting it.'
          : 'New releases include it again.', {yes: 'Set ' + to, danger: to === 'offline'});
      if (!a.ok) return;
      try {
        await api('PATCH', '/api/v1/nodes/' + n.id, {status: to});
        say(n.hostname + ' is ' + to + ' now.', true);
      } catch (e) {
        say(explain(e));
      }
      last = '';
      poll.now();
    }

    // "env=prod, zone=a" -> {env: "prod", zone: "a"}; the API checks the rules.
    function parseLabels(text) {
      const out = {};
      for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
        const eq = part.indexOf('=');
        out[(eq < 0 ? part : part.slice(0, eq)).trim()] = eq < 0 ? '' : part.slice(eq + 1).trim();
      }
      return out;
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {hostname: form.querySelector('#n-hostname').value.trim(),
        ip: form.querySelector('#n-ip').value.trim(),
        agent_port: Number(form.querySelector('#n-port').value),
        status: form.querySelector('#n-status').value};
      const labels = parseLabels(form.querySelector('#n-labels').value);
      if (Object.keys(labels).length) body.labels = labels;
      try {
        const {data} = await api('POST', '/api/v1/nodes', body, {'Idempotency-Key': key});
        key = newKey();
        say('Node ' + data.id + ' (' + data.hostname + ') registered.', true);
        for (const id of ['#n-hostname', '#n-ip', '#n-labels']) form.querySelector(id).value = '';
        form.querySelector('#n-hostname').focus();
      } catch (e) {
        say(explain(e));
      }
      last = '';
      poll.now();
    });

    function refilter() {
      filter = selector.value.trim();
      pages.reset();
      last = '';
      poll.now();
    }

    search.addEventListener('input', render);
    health.addEventListener('change', refilter);
    apply.addEventListener('click', refilter);
    selector.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') refilter();
    });
    prev.addEventListener('click', () => { pages.prev(); last = ''; poll.now(); });
    next.addEventListener('click', () => { pages.next(); last = ''; poll.now(); });

    let invalid = null; // a selector the API refused: not asked again until it changes
    const poll = poller(async () => {
      let data;
      if (filter && filter === invalid) return;
      try {
        ({data} = await api('GET', nodesQuery({selector: filter, status: health.value}, PAGE, pages.after())));
      } catch (e) {
        if (e.status !== 400) throw e;
        invalid = filter;
        count.textContent = '';
        setStatus(st, null);
        say('Not valid: ' + e.message + '.');
        nodes = [];
        last = '';
        render();
        return;
      }
      setStatus(st, null);
      const k = JSON.stringify(data);
      if (k === last) return;
      last = k;
      nodes = data.nodes;
      showPage(data);
      render();
    }, () => IDLE_MS, (e) => setStatus(st, e));
    return {stop: poll.stop, wake: poll.now};
  }

  // "5" -> {batch_size: 5}; "1, 5, 20%" -> {batches: [1, 5, "20%"]}.
  function parsePlan(text) {
    const parts = text.split(/[\s,]+/).filter(Boolean);
    if (!parts.length) throw new Error('the batch plan is empty: give a batch size, or sizes such as 1, 5, 20%');
    const items = parts.map((p) => {
      if (/^[1-9][0-9]*$/.test(p)) return Number(p);
      if (/^([1-9][0-9]?|100)%$/.test(p)) return p;
      throw new Error('"' + p + '" is not a batch size (a number, or a percentage such as 20%)');
    });
    return items.length === 1 && typeof items[0] === 'number' ? {batch_size: items[0]} : {batches: items};
  }

  function parseList(text, what) {
    const parts = text.split(/[\s,]+/).filter(Boolean);
    return parts.map((p) => {
      if (!/^[1-9][0-9]*$/.test(p)) throw new Error('"' + p + '" is not a ' + what);
      return Number(p);
    });
  }

  // What a selector picks now: online matches, offline ones (left out), or the error.
  async function selectorCount(text) {
    const online = (await api('GET', nodesQuery({selector: text, status: 'online'}, 1, 0))).data.total;
    const offline = (await api('GET', nodesQuery({selector: text, status: 'offline'}, 1, 0))).data.total;
    return {online, offline};
  }

  // The preview of a dry run: its notes, each group and its batches, what it leaves out.
  function previewItems(p) {
    const items = [];
    if (p.approval_required) items.push(h('div', {class: 'notice'}, 'It would await approval: ' + (p.approval_reason || 'asked for') + '.'));
    if (p.waiting_for) items.push(h('div', {class: 'notice'}, 'It would wait for release ' + p.waiting_for + ', which shares nodes with it.'));
    items.push(h('p', {}, (p.selector ? 'The selector matches ' + p.matched + ' nodes: ' : '') +
      p.total_nodes + ' nodes in ' + p.batch_count + ' batches' +
      (p.groups ? ', ' + p.groups.length + ' groups by ' + p.group_by : '') + '; ' +
      (p.failure_allowance ? p.failure_allowance + ' failures tolerated.' : 'it stops at the first failure.')));
    if (p.groups) {
      items.push(h('ol', {id: 'preview-groups'}, p.groups.map((g) => h('li', {'data-group': g.group === null ? '' : g.group},
        (g.group === null ? 'No ' + p.group_by + ' label' : p.group_by + '=' + g.group) + ': ' + g.nodes +
        ' nodes in batches ' + g.first_batch + (g.batches > 1 ? ' to ' + (g.first_batch + g.batches - 1) : '') +
        (p.pause_between_groups && g !== p.groups[p.groups.length - 1] ? ', then it pauses' : '')))));
    }
    items.push(h('ol', {id: 'preview-batches'}, (p.batches || []).map((b) => h('li', {},
      'Batch ' + b.batch + (b.group !== undefined ? ' (' + (b.group === null ? 'no ' + p.group_by : p.group_by + '=' + b.group) + ')' : '') +
      ' (' + b.nodes.length + '): ' + b.nodes.slice(0, 20).map((n) => n.hostname).join(', ') +
      (b.nodes.length > 20 ? ' and ' + (b.nodes.length - 20) + ' more' : '') +
      (p.pause_after && p.pause_after.includes(b.batch) ? ' - then it pauses' : '')))));
    if (p.left_out && p.left_out.length) {
      items.push(h('p', {class: 'muted', id: 'preview-left-out'}, 'Left out: ' +
        p.left_out.slice(0, 50).map((n) => n.hostname + ' (' + n.reason + ')').join(', ') +
        (p.left_out.length > 50 ? ' and ' + (p.left_out.length - 50) + ' more' : '')));
    }
    return items;
  }

  // #/new
  function viewNew() {
    const picked = []; // node ids, in the order they were chosen: batch 1 first
    const pickBody = h('tbody');
    const order = h('p', {id: 'pick-order', class: 'muted'});
    const preview = h('div', {id: 'preview', 'aria-live': 'polite'});
    const allNodes = h('input', {type: 'radio', name: 'target', id: 't-all', value: 'all', checked: true});
    const someNodes = h('input', {type: 'radio', name: 'target', id: 't-some', value: 'some'});
    const bySelector = h('input', {type: 'radio', name: 'target', id: 't-selector', value: 'selector'});
    const selector = h('input', {id: 'r-selector', spellcheck: 'false', placeholder: 'env=prod,role in (web,api)'});
    const selCount = h('span', {id: 'r-selector-count', class: 'hint', 'aria-live': 'polite'});
    const selRow = h('div', {class: 'row', id: 'selector-row', hidden: true}, h('label', {for: 'r-selector'}, 'Selector'), selector, selCount);
    const pickPrev = h('button', {type: 'button', id: 'pick-prev', disabled: true}, 'Previous');
    const pickNext = h('button', {type: 'button', id: 'pick-next', disabled: true}, 'Next');
    const picker = h('div', {class: 'picker', id: 'picker', hidden: true},
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Pick'), h('th', {class: 'num'}, 'Node'),
        h('th', {}, 'Host'), h('th', {}, 'Status'), h('th', {}, 'Labels'), h('th', {class: 'num'}, 'Config version'))), pickBody),
      h('div', {class: 'row'}, pickPrev, pickNext));
    const form = h('form', {class: 'grid', id: 'release-form'},
      h('label', {for: 'r-version'}, 'Version'),
      h('input', {id: 'r-version', type: 'number', min: 1, required: true}),
      h('label', {for: 'r-plan'}, 'Batches'),
      h('input', {id: 'r-plan', required: true, placeholder: 'e.g. 10   or   1, 5, 20%', spellcheck: 'false'}),
      h('span', {class: 'hint'}, 'One size, or sizes in order with the last repeated; a percentage is of the release\'s nodes (of each group\'s with group by).'),
      h('label', {for: 'r-pause'}, 'Pause after batch'),
      h('input', {id: 'r-pause', placeholder: 'e.g. 1 (a canary); optional', spellcheck: 'false'}),
      h('label', {for: 'r-group-by'}, 'Group by'),
      h('input', {id: 'r-group-by', placeholder: 'a label key, e.g. zone: one zone after another; optional', spellcheck: 'false'}),
      h('span', {}, 'Between groups'),
      h('div', {class: 'row'}, h('label', {}, h('input', {type: 'checkbox', id: 'r-pause-groups'}), 'pause after each group but the last')),
      h('label', {for: 'r-maxfail'}, 'Failures tolerated'),
      h('input', {id: 'r-maxfail', type: 'number', min: 0, placeholder: '0: stop at the first failure'}),
      h('label', {for: 'r-notbefore'}, 'Not before'),
      h('input', {id: 'r-notbefore', type: 'datetime-local'}),
      h('label', {for: 'r-expires'}, 'Expires'),
      h('input', {id: 'r-expires', type: 'datetime-local'}),
      h('span', {}, 'Options'),
      h('div', {class: 'row'},
        h('label', {}, h('input', {type: 'checkbox', id: 'r-rollback'}), 'roll back if it fails'),
        h('label', {}, h('input', {type: 'checkbox', id: 'r-approval'}), 'require approval')),
      h('span', {}, 'Nodes'),
      h('div', {class: 'row'}, h('label', {}, allNodes, 'every online node'), h('label', {}, someNodes, 'nodes picked in order'),
        h('label', {}, bySelector, 'a selector')),
      h('div', {class: 'buttons'},
        h('button', {type: 'button', id: 'r-preview'}, 'Preview batches'),
        h('button', {type: 'submit', class: 'primary', id: 'r-create'}, 'Create release')));
    if (!may('operator')) {
      replace(main, h('h1', {}, 'New release'), h('section', {class: 'panel'}, needs('operator', 'Creating a release')));
      return {stop() {}};
    }
    replace(main, h('h1', {}, 'New release'),
      h('section', {class: 'panel'}, form, selRow, picker, order),
      h('section', {class: 'panel', 'aria-labelledby': 'h-preview'}, h('h2', {id: 'h-preview'}, 'Preview'),
        h('p', {class: 'muted', id: 'preview-empty'}, 'Preview shows the batches the release would have; nothing is created.'), preview));

    const pages = pager(PICK_PAGE);
    let key = newKey();
    let nodes = [];
    const hostnames = new Map();
    let stopped = false;
    let countTimer = null;
    let countSeq = 0;

    function showOrder() {
      order.textContent = someNodes.checked ? (picked.length ? 'Order (batch 1 first): ' +
        picked.map((id) => hostnames.get(id) || '#' + id).join(', ')
        : 'Pick nodes in the order they should go; the first ones form batch 1.') : '';
    }

    function renderPicker() {
      replace(pickBody, nodes.map((n) => h('tr', {},
        h('td', {}, h('input', {type: 'checkbox', 'data-node': n.id, 'aria-label': 'pick ' + n.hostname,
          checked: picked.includes(n.id), disabled: n.status !== 'online',
          onchange: (ev) => {
            const i = picked.indexOf(n.id);
            if (ev.target.checked && i < 0) picked.push(n.id);
            if (!ev.target.checked && i >= 0) picked.splice(i, 1);
            showOrder();
          }})),
        h('td', {class: 'num'}, n.id), h('td', {}, n.hostname), h('td', {}, badge(n.status)),
        h('td', {}, labelChips(n.labels)),
        h('td', {class: 'num'}, n.config_version === null ? 'none yet' : n.config_version))));
    }

    async function loadPicker() {
      const {data} = await api('GET', nodesQuery({}, PICK_PAGE, pages.after()));
      if (stopped) return;
      pages.seen(data);
      pickPrev.disabled = !pages.hasPrev();
      pickNext.disabled = !pages.hasNext();
      nodes = data.nodes;
      for (const n of nodes) hostnames.set(n.id, n.hostname);
      renderPicker();
    }

    // The live count of the selector, once typing pauses; a late answer is dropped.
    function countLater() {
      if (countTimer) clearTimeout(countTimer);
      const text = selector.value.trim();
      const seq = ++countSeq;
      selCount.textContent = text ? 'counting...' : 'type a selector';
      if (!text) return;
      countTimer = setTimeout(async () => {
        try {
          const c = await selectorCount(text);
          if (seq !== countSeq || stopped) return;
          selCount.textContent = c.online + ' online node' + (c.online === 1 ? '' : 's') + ' match' +
            (c.online === 1 ? 'es' : '') + (c.offline ? '; ' + c.offline + ' offline would be left out' : '');
          selCount.dataset.count = String(c.online);
        } catch (e) {
          if (seq !== countSeq || stopped) return;
          selCount.textContent = e.status === 400 ? e.message : explain(e);
          delete selCount.dataset.count;
        }
      }, COUNT_DELAY_MS);
    }

    for (const r of [allNodes, someNodes, bySelector]) {
      r.addEventListener('change', () => {
        picker.hidden = !someNodes.checked;
        selRow.hidden = !bySelector.checked;
        if (bySelector.checked) countLater();
        showOrder();
      });
    }
    selector.addEventListener('input', countLater);
    pickPrev.addEventListener('click', () => { pages.prev(); loadPicker().catch((e) => say(explain(e))); });
    pickNext.addEventListener('click', () => { pages.next(); loadPicker().catch((e) => say(explain(e))); });

    function body() {
      const b = {};
      const v = form.querySelector('#r-version').value.trim();
      if (!/^[1-9][0-9]*$/.test(v)) throw new Error('the version is a positive integer');
      b.version = Number(v);
      Object.assign(b, parsePlan(form.querySelector('#r-plan').value));
      const pause = parseList(form.querySelector('#r-pause').value, 'batch number');
      if (pause.length) b.pause_after = pause;
      const groupBy = form.querySelector('#r-group-by').value.trim();
      if (groupBy) b.group_by = groupBy;
      if (form.querySelector('#r-pause-groups').checked) b.pause_between_groups = true;
      const mf = form.querySelector('#r-maxfail').value.trim();
      if (mf !== '') b.max_failures = Number(mf);
      for (const [id, name] of [['#r-notbefore', 'not_before'], ['#r-expires', 'expires_at']]) {
        const t = form.querySelector(id).value;
        if (t) b[name] = new Date(t).toISOString();
      }
      if (form.querySelector('#r-rollback').checked) b.auto_rollback = true;
      if (form.querySelector('#r-approval').checked) b.require_approval = true;
      if (someNodes.checked) {
        if (!picked.length) throw new Error('pick at least one node, or choose every online node');
        b.node_ids = picked.slice();
      }
      if (bySelector.checked) {
        if (!selector.value.trim()) throw new Error('give a selector, or choose every online node');
        b.selector = selector.value.trim();
      }
      return b;
    }

    // The form as a request body, or null after saying what is wrong with it.
    function checkedBody() {
      try {
        return body();
      } catch (e) {
        say('Not valid: ' + e.message + '.');
        return null;
      }
    }

    form.querySelector('#r-preview').addEventListener('click', async () => {
      const b = checkedBody();
      if (!b) return;
      try {
        const {data} = await api('POST', '/api/v1/releases?dry_run=1', b);
        unsay();
        const empty = document.getElementById('preview-empty');
        if (empty) empty.remove();
        replace(preview, previewItems(data));
      } catch (e) {
        say(explain(e));
      }
    });

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const b = checkedBody();
      if (!b) return;
      const to = b.node_ids ? b.node_ids.length + ' picked nodes' : b.selector ? 'the online nodes of ' + b.selector : 'every online node';
      const ok = await confirmAction('Create this release?', 'Version ' + b.version + ' goes to ' + to +
        (b.group_by ? ', one ' + b.group_by + ' after another' : '') + '.', {yes: 'Create release'});
      if (!ok.ok) return;
      try {
        const {data} = await api('POST', '/api/v1/releases', b, {'Idempotency-Key': key});
        key = newKey();
        say('Release ' + data.id + ' created' + (data.status === 'awaiting_approval' ? '; it awaits approval.' : '.'), true);
        location.hash = '#/releases/' + data.id;
      } catch (e) {
        say(explain(e));
      }
    });

    loadPicker().catch((e) => say(explain(e)));
    return {stop() { stopped = true; if (countTimer) clearTimeout(countTimer); }};
  }

  CMDB_UI.views.nodes = viewNodes;
  CMDB_UI.views.new = viewNew;
})();
