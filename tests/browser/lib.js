// Helpers shared by the browser tests (console.test.js in Chromium, firefox.test.js):
// checks that print "ok"/"FAIL" like the shell suites, with a screenshot of the page on
// failure, and waits on the console's own elements.
'use strict';

const path = require('path');

const WORK = process.env.WORK || '.';
const T = 30000; // the longest wait for one condition

const counts = {passed: 0, failed: 0};
let shotNo = 0;

async function failShot(page, name) {
  if (!page) return;
  const file = path.join(WORK, 'fail-' + (++shotNo) + '-' + name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60) + '.png');
  try {
    await page.screenshot({path: file, fullPage: true});
    console.log('     screenshot: ' + file);
  } catch (e) {
    console.log('     (no screenshot: ' + e.message + ')');
  }
}

// check(name, page, fn): passes when fn resolves; a failure is reported with a screenshot.
async function check(name, page, fn) {
  try {
    await fn();
    counts.passed++;
    console.log('ok   ' + name);
    return true;
  } catch (e) {
    counts.failed++;
    console.log('FAIL ' + name + ': ' + (e && e.message ? e.message.split('\n')[0] : e));
    await failShot(page, name);
    return false;
  }
}

function assert(cond, what) {
  if (!cond) throw new Error(what);
}

const text = (page, sel) => page.$eval(sel, (el) => el.textContent);

// Waits until the element's text contains s.
function waitText(page, sel, s, timeout) {
  return page.waitForFunction((q, want) => {
    const el = document.querySelector(q);
    return el && el.textContent.includes(want);
  }, {timeout: timeout || T, polling: 100}, sel, s);
}

function waitStatus(page, status, timeout) {
  return page.waitForSelector('#release-status[data-status="' + status + '"]', {timeout: timeout || T});
}

async function setValue(page, sel, value) {
  await page.$eval(sel, (el) => { el.value = ''; });
  if (value !== '') await page.type(sel, String(value));
}

// What no page may show, found by style and layout: an element marked hidden that is
// displayed anyway (a stylesheet's display beating the attribute), or the banner shown
// without a message. Resolves to a list of them, each naming the element.
function layoutProblems(page) {
  return page.evaluate(() => {
    const displayed = (el) => getComputedStyle(el).display !== 'none' || el.getClientRects().length > 0;
    const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '');
    const out = [];
    for (const el of document.querySelectorAll('[hidden]')) {
      if (displayed(el)) out.push(name(el) + ' is marked hidden but displayed (' + getComputedStyle(el).display + ')');
    }
    const banner = document.getElementById('banner');
    if (banner && displayed(banner) && !document.getElementById('banner-text').textContent.trim()) {
      out.push('the banner is shown with no message');
    }
    return out.map((p) => location.hash + ': ' + p);
  });
}

// Throws when the page shows any of layoutProblems.
async function assertLayout(page) {
  const problems = await layoutProblems(page);
  assert(problems.length === 0, problems.join('; '));
}

// Goes to a page of the console, waits until it is ready, and checks its layout.
async function go(page, hash, ready) {
  await page.evaluate((hsh) => { location.hash = hsh; }, hash);
  await page.waitForSelector(ready, {timeout: T});
  await assertLayout(page);
}

// Clicks the dialog's Confirm button once the dialog is open.
async function confirm(page) {
  await page.waitForSelector('dialog#confirm[open]', {timeout: T});
  await page.click('#confirm-yes');
  await page.waitForFunction(() => !document.querySelector('dialog#confirm').open, {timeout: T});
}

async function bannerSays(page, s) {
  await waitText(page, '#banner-text', s);
  assert(await page.$eval('#banner', (el) => !el.hidden), 'the banner is hidden');
}

async function setToken(page, tok) {
  await setValue(page, '#auth-token', tok);
  await page.click('#auth-use');
  await bannerSays(page, 'Token set');
}

// Collects what must not happen in a tab: console errors, script errors, failed
// requests, error answers. Returns the array they are pushed to.
function recordErrors(page) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('requestfailed', (r) => errors.push('request failed: ' + r.url() + ' ' + (r.failure() || {}).errorText));
  page.on('response', (r) => { if (r.status() >= 400) errors.push('HTTP ' + r.status() + ' ' + r.url()); });
  return errors;
}

// The check that none of them happened.
function noErrors(name, page, errors) {
  return check(name, page, async () => {
    assert(errors.length === 0, errors.slice(0, 5).join(' | '));
  });
}

// Runs main, counting an exception as a failure, and prints the summary line; the exit
// code says whether anything failed.
function run(what, main) {
  main().catch((e) => {
    counts.failed++;
    console.log('FAIL ' + what + ' stopped: ' + (e && e.stack ? e.stack : e));
  }).finally(summary);
}

// Prints the summary line; the exit code says whether anything failed.
function summary() {
  console.log('');
  console.log(counts.passed + ' passed, ' + counts.failed + ' failed');
  process.exitCode = counts.failed ? 1 : 0;
}

module.exports = {T, check, assert, text, waitText, waitStatus, setValue, go, assertLayout, confirm,
  bannerSays, setToken, recordErrors, noErrors, run};
