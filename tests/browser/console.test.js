// The console in a real browser: Debian's chromium, headless, driven by puppeteer-core
// (no browser download). tests/integration/test_console.sh starts the controller, the
// agents and the database, and passes what this script needs in the environment:
//   CONSOLE_URL   the controller (the console is its /)
//   READS_URL     a controller on the same database with CMDB_READS_REQUIRE_AUTH=1
//   ALICE, BOB    writer tokens; READER a read-only token
//   AGENTS        JSON [{hostname, ip, port, role}] to register through the console;
//                 role "good" (fast), "bad" (its apply fails), "slow", or "spare"
//   WORK          where screenshots of a failed check go (WORK/fail-*.png)
//   SHOTS         where the documentation's screenshots go (console-running.png, ...)
//   CHROMIUM      the browser (default /usr/bin/chromium)
// It prints "ok"/"FAIL" per check and "N passed, N failed" last, like the shell suites.
'use strict';

const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');
const {T, check, assert, text, waitText, waitStatus, setValue, go, assertLayout, confirm,
  bannerSays, setToken, recordErrors, noErrors, run} = require('./lib');

const URL = process.env.CONSOLE_URL;
const READS_URL = process.env.READS_URL;
const AGENTS = JSON.parse(process.env.AGENTS || '[]');
const WORK = process.env.WORK || '.';
const SHOTS = process.env.SHOTS || WORK;

function role(r) {
  return AGENTS.filter((a) => a.role === r);
}

// The labels a node is registered with: its role, and a zone for the good ones (a, a, b, b).
function labelsOf(a) {
  const k = role('good').indexOf(a);
  return 'role=' + a.role + (k >= 0 ? ', zone=' + (k < 2 ? 'a' : 'b') : '');
}

// Types a whole value at once (one input event), as a paste does.
async function paste(page, sel, value) {
  await page.$eval(sel, (el, v) => {
    el.value = v;
    el.dispatchEvent(new Event('input', {bubbles: true}));
  }, value);
}

// Fills the new-release form and creates it; resolves to the new release's id.
async function createRelease(page, f) {
  await go(page, '#/new', '#release-form');
  await page.waitForSelector('#picker input[data-node]', {timeout: T});
  await setValue(page, '#r-version', f.version);
  await setValue(page, '#r-plan', f.plan);
  await setValue(page, '#r-pause', f.pauseAfter || '');
  if (f.approval) await page.click('#r-approval');
  await page.click('#t-some');
  for (const id of f.nodes) await page.click('#picker input[data-node="' + id + '"]');
  if (f.preview) await f.preview();
  await page.click('#r-create');
  await confirm(page);
  await page.waitForFunction(() => /^#\/releases\/\d+$/.test(location.hash), {timeout: T});
  await page.waitForSelector('#release-status', {timeout: T});
  await assertLayout(page);
  return Number(await page.evaluate(() => location.hash.split('/')[2]));
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-extensions', '--disable-background-networking'],
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(T);
  await page.setViewport({width: 1280, height: 800});
  const errors = recordErrors(page);

  const ids = {}; // hostname -> node id
  let okRel = 0;
  let badRel = 0;

  await check('the console loads at / with its script and style', page, async () => {
    const r = await page.goto(URL + '/', {waitUntil: 'load'});
    assert(r.status() === 200, 'GET / answered ' + r.status());
    await page.waitForSelector('#releases-table', {timeout: T});
    await waitText(page, '#releases-table', 'No release yet.');
    await assertLayout(page);
  });

  await check('a token is taken and kept in the tab only', page, async () => {
    await setToken(page, process.env.ALICE);
    const kept = await page.evaluate(() => [sessionStorage.getItem('cmdb.token'), localStorage.length]);
    assert(kept[0] === process.env.ALICE && kept[1] === 0, 'token not in sessionStorage alone');
    await waitText(page, '#auth-state', 'signed in as token:alice (writer)');
  });

  await check('the banner is gone once dismissed, and no page shows what is marked hidden', page, async () => {
    await page.click('#banner-close');
    await assertLayout(page);
    for (const [hash, ready] of [['#/nodes', '#node-form'], ['#/new', '#release-form'],
      ['#/releases', '#releases-table']]) {
      await go(page, hash, ready);
    }
  });

  await check('nodes are registered through the console (' + AGENTS.length + ')', page, async () => {
    await go(page, '#/nodes', '#node-form');
    for (const a of AGENTS) {
      await setValue(page, '#n-hostname', a.hostname);
      await setValue(page, '#n-ip', a.ip);
      await setValue(page, '#n-port', a.port);
      await setValue(page, '#n-labels', labelsOf(a));
      await page.click('#n-submit');
      await bannerSays(page, '(' + a.hostname + ') registered');
    }
    await page.waitForFunction((n) => document.querySelectorAll('#inventory tr[data-node]').length === n,
      {timeout: T}, AGENTS.length);
    const rows = await page.$$eval('#inventory tr[data-node]', (trs) => trs.map((tr) =>
      [Number(tr.dataset.node), tr.children[1].textContent]));
    for (const [id, host] of rows) ids[host] = id;
    assert(AGENTS.every((a) => ids[a.hostname]), 'a registered node is missing from the inventory');
  });

  await check('a node is set offline and online again, each confirmed', page, async () => {
    const spare = role('spare')[0];
    const row = '#inventory tr[data-node="' + ids[spare.hostname] + '"]';
    await page.click(row + ' button[data-set="offline"]');
    await confirm(page);
    await page.waitForSelector(row + ' .badge[data-status="offline"]', {timeout: T});
    await page.click(row + ' button[data-set="online"]');
    await confirm(page);
    await page.waitForSelector(row + ' .badge[data-status="online"]', {timeout: T});
  });

  const good = role('good').map((a) => ids[a.hostname]);
  const slow = role('slow').map((a) => ids[a.hostname]);
  const bad = role('bad').map((a) => ids[a.hostname]);

  await check('new release: the dry-run preview shows the batches before anything is created', page, async () => {
    okRel = await createRelease(page, {version: 2, plan: '2', nodes: good.slice(0, 4), preview: async () => {
      await page.click('#r-preview');
      await page.waitForFunction(() => document.querySelectorAll('#preview-batches li').length === 2, {timeout: T});
      const first = await text(page, '#preview-batches li');
      const hosts = role('good').slice(0, 2).map((a) => a.hostname);
      assert(hosts.every((hn) => first.includes(hn)), 'batch 1 of the preview is ' + first);
      const n = await page.evaluate(() => fetch('/api/v1/releases').then((r) => r.json()).then((d) => d.count));
      assert(n === 0, 'the preview created a release');
    }});
  });

  await check('the running release shows its batches filling up; it reaches success', page, async () => {
    await page.waitForSelector('#batches .badge[data-status="success"]', {timeout: T});
    if (await page.$('#release-status[data-status="running"]')) {
      await page.screenshot({path: path.join(SHOTS, 'console-running.png'), fullPage: true});
    }
    await waitStatus(page, 'success', 60000);
    await waitText(page, '#batches [data-batch="1"]', '2 success of 2');
    await waitText(page, '#batches [data-batch="2"]', '2 success of 2');
    await page.waitForSelector('#timeline li[data-type="finished"]', {timeout: T});
    const order = await page.$$eval('#timeline li', (lis) => lis.map((li) => li.dataset.type));
    assert(order[0] === 'created' && order.includes('claimed'), 'timeline starts ' + order.slice(0, 3));
  });

  await check('a running screenshot was taken while the release ran', page, async () => {
    assert(fs.existsSync(path.join(SHOTS, 'console-running.png')), 'the release ended before a screenshot could show it running');
  });

  await check('a failing release: its failed node with the agent\'s error, its skipped batch', page, async () => {
    badRel = await createRelease(page, {version: 3, plan: '2', nodes: [good[0], bad[0], good[1], good[2]]});
    await waitStatus(page, 'failed', 60000);
    await page.waitForSelector('#release-error', {timeout: T});
    await page.waitForSelector('#batches .badge[data-status="skipped"]', {timeout: T});
    await waitText(page, '#batches [data-batch="2"]', '2 skipped of 2');
    await page.select('#node-filter', 'failed');
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('#nodes-table tbody tr');
      return rows.length === 1 && rows[0].dataset.status === 'failed';
    }, {timeout: T});
    const row = await page.$eval('#nodes-table tbody tr', (tr) => ({node: Number(tr.dataset.node), err: tr.querySelector('td.err').textContent}));
    assert(row.node === bad[0], 'the failed row is node ' + row.node);
    assert(row.err.includes('simulated apply failure'), 'its error is "' + row.err + '"');
    await page.select('#node-filter', 'skipped');
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('#nodes-table tbody tr');
      return rows.length === 2 && Array.from(rows).every((r) => r.dataset.status === 'skipped' && r.querySelector('td.err').textContent.includes('release failed'));
    }, {timeout: T});
    // The node that was in flight with the failed one is followed to its end.
    await waitText(page, '#batches [data-batch="1"]', '1 success, 1 failed of 2');
    await page.select('#node-filter', '');
    await page.waitForFunction(() => document.querySelectorAll('#nodes-table tbody tr').length === 4, {timeout: T});
    await page.screenshot({path: path.join(SHOTS, 'console-failed.png'), fullPage: true});
  });

  await check('the failed release fits a narrow window (400 px) without sideways scrolling', page, async () => {
    await page.setViewport({width: 400, height: 800});
    await page.waitForSelector('#release-status', {timeout: T});
    const w = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    await page.setViewport({width: 1280, height: 800});
    assert(w[0] <= w[1] + 1, 'the page is ' + w[0] + ' px wide in a ' + w[1] + ' px window');
  });

  let canary = 0;
  await check('a canary pauses after batch 1 by its plan', page, async () => {
    canary = await createRelease(page, {version: 4, plan: '1', pauseAfter: '1', nodes: slow.slice(0, 3)});
    await waitStatus(page, 'paused', 60000);
    await waitText(page, '#release-notes', 'paused after batch 1');
    await waitText(page, '#batches [data-batch="1"]', '1 success of 1');
  });

  await check('resume by keyboard alone: Tab to Resume, Enter, Tab to Confirm, Enter', page, async () => {
    await page.waitForSelector('#actions button[data-action="resume"]', {timeout: T});
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    let found = false;
    for (let i = 0; i < 60 && !found; i++) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement && document.activeElement.dataset.action === 'resume');
    }
    assert(found, 'Tab never reached the Resume button');
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog#confirm[open]', {timeout: T});
    const focus = await page.evaluate(() => document.activeElement.id);
    assert(focus === 'confirm-no', 'the dialog opened with ' + focus + ' focused, not the safe choice');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await bannerSays(page, 'is pending now');
    await page.waitForSelector('#release-status[data-status="running"], #release-status[data-status="pending"]', {timeout: T});
  });

  await check('pause from its button while batch 2 runs, then resume; the canary succeeds', page, async () => {
    await waitStatus(page, 'running', 30000);
    await page.click('#actions button[data-action="pause"]');
    await confirm(page);
    await bannerSays(page, 'is paused now');
    await waitStatus(page, 'paused');
    await waitText(page, '#release-notes', 'paused by token:alice');
    await page.click('#actions button[data-action="resume"]');
    await confirm(page);
    await waitStatus(page, 'success', 60000);
    const types = await page.$$eval('#timeline li', (lis) => lis.map((li) => li.dataset.type));
    assert(types.filter((t) => t === 'paused').length === 2 && types.filter((t) => t === 'resumed').length === 2,
      'timeline: ' + types.join(' '));
  });

  await check('cancel a release: its nodes not dispatched are skipped, naming who cancelled', page, async () => {
    const id = await createRelease(page, {version: 5, plan: '1', pauseAfter: '1', nodes: slow.slice(0, 2)});
    await waitStatus(page, 'paused', 60000);
    await page.click('#actions button[data-action="cancel"]');
    await confirm(page);
    await waitStatus(page, 'cancelled');
    await page.select('#node-filter', 'skipped');
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('#nodes-table tbody tr');
      return rows.length === 1 && rows[0].querySelector('td.err').textContent.includes('cancelled by token:alice');
    }, {timeout: T});
    assert(!(await page.$('#actions button[data-action="resume"]')), 'a cancelled release offers resume');
    assert(id > canary, 'ids out of order');
  });

  await check('a confirmation answered "keep it" changes nothing', page, async () => {
    await go(page, '#/releases/' + okRel, '#release-status[data-status="success"]');
    await page.waitForSelector('#actions button[data-action="rollback"]', {timeout: T});
    await page.click('#actions button[data-action="rollback"]');
    await page.waitForSelector('dialog#confirm[open]', {timeout: T});
    await page.click('#confirm-no');
    const r = await page.evaluate((id) => fetch('/api/v1/releases/' + id).then((x) => x.json()), okRel);
    assert(r.rolled_back_by === null || r.rolled_back_by === undefined, 'rolled back anyway');
  });

  await check('the list of releases filters by status and links to each', page, async () => {
    await go(page, '#/releases', '#releases-table');
    // Its statuses are the state table's (states.js): the same the API names for a bad one.
    const offered = await page.$$eval('#release-filter option', (os) => os.map((o) => o.value).filter(Boolean));
    // (Asked from here, not from the page: the page's error answers are counted as errors.)
    const known = (await (await fetch(URL + '/api/v1/releases?status=x')).json())
      .error.replace(/^status must be one of /, '').split(', ');
    assert(offered.length === known.length && known.every((st) => offered.includes(st)),
      'the filter offers ' + offered.join(' ') + '; the API knows ' + known.join(' '));
    await page.waitForSelector('#releases-table tr[data-release="' + okRel + '"]', {timeout: T});
    await page.select('#release-filter', 'failed');
    await page.waitForFunction((id) => {
      const rows = document.querySelectorAll('#releases-table tr[data-release]');
      return rows.length === 1 && Number(rows[0].dataset.release) === id;
    }, {timeout: T}, badRel);
    await page.click('#releases-table tr[data-release="' + badRel + '"] a');
    await waitStatus(page, 'failed');
  });

  // A second tab: what is offered without a principal and with a read-only one, and the
  // API's refusals explained. Its refusals are expected, so its console is not the one
  // checked for errors.
  const ctx = await browser.createBrowserContext();
  const other = await ctx.newPage();
  await other.setViewport({width: 1280, height: 800});
  await check('without a token the console offers no write and says which role it needs', other, async () => {
    await other.goto(URL + '/#/nodes', {waitUntil: 'load'});
    await waitText(other, '#auth-state', 'not signed in: reads only');
    await waitText(other, '[data-needs="inventory"]', 'Registering and changing nodes needs the inventory role');
    await other.waitForSelector('#inventory tr[data-node]', {timeout: T});
    assert(await other.$('#node-form') === null, 'the register form is offered');
    assert(await other.$('button[data-set]') === null, 'a set online/offline button is offered');
    assert(await other.$eval('[data-nav="new"]', (a) => a.hidden), 'New release is in the menu');
    await go(other, '#/new', '[data-needs="operator"]');
    assert(await other.$('#release-form') === null, 'the new-release form is offered');
  });
  await check('a read-only token is signed in and offered no write', other, async () => {
    await setToken(other, process.env.READER);
    await waitText(other, '#auth-state', 'signed in as token:reader (reader)');
    await go(other, '#/nodes', '[data-needs="inventory"]');
    await waitText(other, '[data-needs="inventory"]', 'token:reader has reader');
    await go(other, '#/releases/' + okRel, '#release-status');
    await waitText(other, '#release-facts', 'Version');
    assert(await other.$('#actions button') === null, 'an action is offered to a reader');
    await go(other, '#/releases', '#releases-table');
    assert(await other.$('a[href="#/new"]:not([data-nav])') === null, 'New release is offered to a reader');
  });
  await check('an unknown token is refused when it is entered', other, async () => {
    await setValue(other, '#auth-token', 'not-a-token');
    await other.click('#auth-use');
    await bannerSays(other, 'Not signed in');
    assert(await other.evaluate(() => sessionStorage.getItem('cmdb.token') === null), 'the bad token was kept');
  });
  await check('approval: alice asks for it, her own approval is refused, bob approves it', other, async () => {
    const id = await createRelease(page, {version: 6, plan: '2', nodes: good.slice(0, 2), approval: true});
    await waitStatus(page, 'awaiting_approval');
    await setToken(other, process.env.ALICE);
    await go(other, '#/releases/' + id, '#actions button[data-action="approve"]');
    await other.click('#actions button[data-action="approve"]');
    await confirm(other);
    await bannerSays(other, 'Not allowed');
    await bannerSays(other, 'four eyes');
    await setToken(other, process.env.BOB);
    await go(other, '#/releases/' + id, '#actions button[data-action="approve"]');
    await other.click('#actions button[data-action="approve"]');
    await other.waitForSelector('dialog#confirm[open]');
    await other.type('#confirm-comment', 'looks right');
    await other.click('#confirm-yes');
    await waitStatus(other, 'success', 60000);
    await waitText(other, '#release-facts', 'by token:bob: looks right');
  });
  await check('a malformed selector on the node page says where it is wrong', other, async () => {
    await go(other, '#/nodes', '#node-selector');
    await paste(other, '#node-selector', 'zone in (a');
    await other.click('#node-apply');
    await bannerSays(other, 'selector: position 11: expected');
  });
  await ctx.close();

  await check('the inventory shows labels and filters by a selector, with the count', page, async () => {
    await go(page, '#/nodes', '#inventory');
    const first = role('good')[0];
    await waitText(page, '#inventory tr[data-node="' + ids[first.hostname] + '"] .labels', 'zone=a');
    await waitText(page, '#inventory tr[data-node="' + ids[first.hostname] + '"] .labels', 'role=good');
    await paste(page, '#node-selector', 'role=good,zone=a');
    await page.click('#node-apply');
    await waitText(page, '#node-count', '2 nodes match');
    await page.waitForFunction(() => document.querySelectorAll('#inventory tr[data-node]').length === 2, {timeout: T});
    await paste(page, '#node-selector', 'role notin (good)');
    await page.click('#node-apply');
    await waitText(page, '#node-count', (AGENTS.length - 4) + ' nodes match');
    await assertLayout(page);
  });

  let grouped = 0;
  await check('a release by selector with a live count, zone by zone, pausing between zones', page, async () => {
    await go(page, '#/new', '#release-form');
    await page.click('#t-selector');
    await page.waitForSelector('#r-selector', {visible: true, timeout: T});
    await paste(page, '#r-selector', 'role=good');
    await waitText(page, '#r-selector-count', '4 online nodes match');
    await setValue(page, '#r-version', 7);
    await setValue(page, '#r-plan', '1');
    await setValue(page, '#r-group-by', 'zone');
    await page.click('#r-pause-groups');
    await page.click('#r-preview');
    await page.waitForFunction(() => document.querySelectorAll('#preview-groups li').length === 2, {timeout: T});
    await waitText(page, '#preview-groups li', 'zone=a: 2 nodes in batches 1 to 2, then it pauses');
    await assertLayout(page);
    await page.click('#r-create');
    await confirm(page);
    await page.waitForFunction(() => /^#\/releases\/\d+$/.test(location.hash), {timeout: T});
    grouped = Number(await page.evaluate(() => location.hash.split('/')[2]));
    await waitStatus(page, 'paused', 60000);
    await waitText(page, '#release-notes', 'group_done');
    await waitText(page, '#groups [data-group="a"]', '2 success of 2');
    await waitText(page, '#groups [data-group="b"]', '2 pending of 2');
    await waitText(page, '#release-facts', 'role=good');
    await assertLayout(page);
  });

  await check('resumed, the second zone runs; a bar per zone, both done', page, async () => {
    await page.click('#actions button[data-action="resume"]');
    await confirm(page);
    await waitStatus(page, 'success', 60000);
    await waitText(page, '#groups [data-group="b"]', '2 success of 2');
    const bars = await page.$$eval('#groups .bar', (b) => b.length);
    assert(bars === 2, bars + ' group bars');
    const r = await page.evaluate((id) => fetch('/api/v1/releases/' + id).then((x) => x.json()), grouped);
    assert(r.selector === 'role=good' && r.group_by === 'zone' && r.groups.length === 2, 'the release is ' + JSON.stringify(r.groups));
  });

  // A controller whose reads need a principal (CMDB_READS_REQUIRE_AUTH=1): its 401s are
  // expected, so this tab is not checked for errors either.
  const rctx = await browser.createBrowserContext();
  const reads = await rctx.newPage();
  await reads.setViewport({width: 1280, height: 800});
  await check('where reads need a token, the console asks for one, then reads with it', reads, async () => {
    await reads.goto(READS_URL + '/', {waitUntil: 'load'});
    await bannerSays(reads, 'needs a token even to read');
    await waitText(reads, '#auth-state', 'this controller needs a token to read');
    await setToken(reads, process.env.READER);
    await waitText(reads, '#auth-state', 'signed in as token:reader (reader)');
    await reads.waitForSelector('#releases-table tr[data-release]', {timeout: T});
    await assertLayout(reads);
  });
  await rctx.close();

  await noErrors('no console errors, failed requests or error answers in the main tab', page, errors);

  await browser.close();
}

run('the Chromium test', main);
