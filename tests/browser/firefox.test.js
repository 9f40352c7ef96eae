// The console in Firefox (Debian's firefox-esr, headless, driven by puppeteer-core over
// WebDriver BiDi; no browser download): the reading paths and a dry run, on the releases
// and nodes that console.test.js made in Chromium just before. Same environment as that
// script, plus FIREFOX (default /usr/bin/firefox-esr). Prints "N passed, N failed".
'use strict';

const puppeteer = require('puppeteer-core');
const {T, check, assert, waitText, waitStatus, setValue, go, assertLayout, setToken, recordErrors,
  noErrors, run} = require('./lib');

const URL = process.env.CONSOLE_URL;
const AGENTS = JSON.parse(process.env.AGENTS || '[]');

async function main() {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(T);
  await page.setViewport({width: 1280, height: 800});
  const errors = recordErrors(page);

  let failedId = 0;
  await check('firefox: the list of releases, filtered to the failed one', page, async () => {
    await page.goto(URL + '/', {waitUntil: 'load'});
    await page.waitForSelector('#releases-table tr[data-release]', {timeout: T});
    await page.select('#release-filter', 'failed');
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('#releases-table tr[data-release]');
      return rows.length === 1 && rows[0].querySelector('.badge').dataset.status === 'failed';
    }, {timeout: T});
    failedId = Number(await page.$eval('#releases-table tr[data-release]', (tr) => tr.dataset.release));
    await assertLayout(page);
  });

  await check('firefox: the failed release shows its error, the failed node and the skipped batch', page, async () => {
    await go(page, '#/releases/' + failedId, '#release-status[data-status="failed"]');
    await page.waitForSelector('#release-error', {timeout: T});
    await page.waitForSelector('#batches .badge[data-status="skipped"]', {timeout: T});
    await page.select('#node-filter', 'failed');
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('#nodes-table tbody tr');
      return rows.length === 1 && rows[0].querySelector('td.err').textContent.includes('simulated apply failure');
    }, {timeout: T});
    await page.waitForSelector('#timeline li[data-type="finished"]', {timeout: T});
  });

  await check('firefox: the inventory lists every node', page, async () => {
    await go(page, '#/nodes', '#inventory');
    await page.waitForFunction((n) => document.querySelectorAll('#inventory tr[data-node]').length === n,
      {timeout: T}, AGENTS.length);
  });

  await check('firefox: a token, then a dry-run preview that creates nothing', page, async () => {
    await setToken(page, process.env.ALICE);
    const before = await page.evaluate(() => fetch('/api/v1/releases').then((r) => r.json()).then((d) => d.count));
    await go(page, '#/new', '#release-form');
    await setValue(page, '#r-version', 99);
    await setValue(page, '#r-plan', '1, 50%');
    await page.click('#r-preview');
    await page.waitForSelector('#preview-batches li', {timeout: T});
    const after = await page.evaluate(() => fetch('/api/v1/releases').then((r) => r.json()).then((d) => d.count));
    assert(before === after, 'the preview created a release');
  });

  await check('firefox: a confirmation dialog opens and "keep it" closes it', page, async () => {
    await go(page, '#/releases/' + failedId, '#actions button[data-action="rollback"]');
    await page.click('#actions button[data-action="rollback"]');
    await page.waitForSelector('dialog#confirm[open]', {timeout: T});
    await page.click('#confirm-no');
    await page.waitForFunction(() => !document.querySelector('dialog#confirm').open, {timeout: T});
    await waitStatus(page, 'failed');
    await waitText(page, '#release-facts', 'Version');
  });

  await check('firefox: the inventory goes a page at a time, with the count', page, async () => {
    // 150 offline nodes more (they are in no release), through the import.
    const n = await page.evaluate(async () => {
      const nodes = [];
      for (let i = 0; i < 150; i++) {
        nodes.push({hostname: 'page-' + i, ip: '10.77.0.' + (i + 1), status: 'offline', labels: {pool: 'paging'}});
      }
      const r = await fetch('/api/v1/nodes/import', {method: 'POST', body: JSON.stringify({nodes}),
        headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + sessionStorage.getItem('cmdb.token')}});
      return r.status;
    });
    assert(n === 201, 'the import answered ' + n);
    const total = AGENTS.length + 150;
    await go(page, '#/nodes', '#inventory');
    await waitText(page, '#node-page', 'nodes 1 to 100 of ' + total);
    await page.waitForFunction(() => document.querySelectorAll('#inventory tr[data-node]').length === 100, {timeout: T});
    await page.click('#node-next');
    await waitText(page, '#node-page', 'nodes 101 to ' + total + ' of ' + total);
    await page.waitForFunction((k) => document.querySelectorAll('#inventory tr[data-node]').length === k, {timeout: T}, total - 100);
    assert(await page.$eval('#node-next', (b) => b.disabled), 'Next is enabled on the last page');
    await page.click('#node-prev');
    await waitText(page, '#node-page', 'nodes 1 to 100 of ' + total);
    await page.$eval('#node-selector', (el) => { el.value = 'pool=paging'; });
    await page.click('#node-apply');
    await waitText(page, '#node-count', '150 nodes match');
    await assertLayout(page);
  });

  await noErrors('firefox: no console errors or error answers', page, errors);
  await browser.close();
}

run('the Firefox test', main);
