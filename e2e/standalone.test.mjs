// The binary alone: e2e/run copies bin/lastmile (make build) into an empty
// directory and serves the demo from there, with no node_modules anywhere
// it could find. The page must come up with its libraries from the binary:
// the map is drawn, MapLibre (module, worker, CSS) and ECharts load from
// /vendor/, and no request fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { mapIdle, paintedPixels } from './canvas.mjs';

const BASE = process.env.LASTMILE_URL;
if (!BASE) throw new Error('LASTMILE_URL is not set: run e2e/run');

let browser, page;
const failed = [];
const vendor = new Map();

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.LASTMILE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-dev-shm-usage'],
  });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' })).newPage();
  page.on('requestfailed', (r) => failed.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    if (u.pathname.startsWith('/vendor/')) vendor.set(u.pathname, r.status());
  });
  page.on('pageerror', (e) => failed.push('pageerror: ' + e.message));
});

after(async () => { await browser?.close(); });

test('the libraries are the binary\'s own', async () => {
  const cfg = await (await fetch(BASE + '/app/config.json')).json();
  assert.equal(cfg.libraries.source, 'embedded', 'libraries served from ' + JSON.stringify(cfg.libraries));
  assert.deepEqual(cfg.vendor, { maplibre: true, echarts: true });
  assert.match(cfg.libraries.versions['maplibre-gl'] || '', /^\d+\.\d+\.\d+/);
  assert.match(cfg.libraries.versions.echarts || '', /^\d+\.\d+\.\d+/);
});

test('the map is drawn and no request fails', { timeout: 120_000 }, async () => {
  await page.goto(BASE + '/?e2e', { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset.ready === '1' || window.lastmile?.error || document.querySelector('#notices .error'), null, { timeout: 90_000 });
  const err = await page.evaluate(() => window.lastmile.error || document.querySelector('#notices .error')?.textContent);
  assert.equal(err, undefined, 'the page says: ' + err);
  await mapIdle(page);
  // Painted pixels: anything but the page's background colour.
  const painted = await paintedPixels(page);
  console.log(`standalone: ${painted.n}/${painted.total} sampled pixels painted`);
  assert.ok(painted.n > painted.total * 0.01, `map barely drawn: ${painted.n}/${painted.total} pixels`);
  const echarts = await page.evaluate(async () => typeof (await import('/vendor/echarts/echarts.esm.min.mjs')).init);
  assert.equal(echarts, 'function', 'ECharts loads from the binary');
  for (const f of ['/vendor/maplibre-gl/maplibre-gl.mjs', '/vendor/maplibre-gl/maplibre-gl.css', '/vendor/maplibre-gl/maplibre-gl-worker.mjs', '/vendor/echarts/echarts.esm.min.mjs']) {
    assert.equal(vendor.get(f), 200, `${f}: ${vendor.get(f)}`);
  }
  console.log(`standalone: vendor files ${[...vendor].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  assert.deepEqual(failed, [], 'failed requests');
});
