// The map page without a lastmile server: e2e/run stops the server, exports
// the demo county with `lastmile export tiles --out county.pmtiles`, and
// this test serves the page (static/page as /app/, the embedded libraries
// static/vendor as /vendor/) and the archive from a tiny static server of
// its own that answers Range requests — as any web server, object storage
// or CDN would. The page draws the county from the archive opened by URL
// (?pmtiles=) and as a local file (the file input), read through the
// pmtiles package's MapLibre protocol: pixels painted, the county's
// boundary, roads and villages among the rendered features, the archive
// read by ranges, and no request to a lastmile server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { mapIdle, paintedPixels } from './canvas.mjs';

const ARCHIVE = process.env.LASTMILE_ARCHIVE;
if (!ARCHIVE) throw new Error('LASTMILE_ARCHIVE is not set: run e2e/run');
const COUNTY = process.env.LASTMILE_COUNTY || '371426000000';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

let server, base, browser;
const ranges = [];
const requests = [];

function serveFile(req, res, file) {
  let st;
  try { st = fs.statSync(file); } catch { res.writeHead(404).end(); return; }
  if (!st.isFile()) { res.writeHead(404).end(); return; }
  const type = types[path.extname(file)] || 'application/octet-stream';
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
  if (m) {
    const start = Number(m[1]), end = Math.min(m[2] ? Number(m[2]) : st.size - 1, st.size - 1);
    if (start > end) { res.writeHead(416, { 'Content-Range': `bytes */${st.size}` }).end(); return; }
    ranges.push([start, end]);
    res.writeHead(206, { 'Content-Type': type, 'Content-Range': `bytes ${start}-${end}/${st.size}`, 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes' });
    fs.createReadStream(file, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': st.size, 'Accept-Ranges': 'bytes' });
  fs.createReadStream(file).pipe(res);
}

before(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    requests.push(u.pathname);
    const p = decodeURIComponent(u.pathname);
    if (p.includes('..')) { res.writeHead(400).end(); return; }
    if (p === '/') return serveFile(req, res, path.join(root, 'static/page/index.html'));
    if (p === '/county.pmtiles') return serveFile(req, res, ARCHIVE);
    if (p.startsWith('/app/')) return serveFile(req, res, path.join(root, 'static/page', p.slice(5)));
    if (p.startsWith('/vendor/')) return serveFile(req, res, path.join(root, 'static/vendor', p.slice(8)));
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.LASTMILE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

// drawn waits for the map, then returns the painted share and the rendered
// features per source layer.
async function drawn(page) {
  await page.waitForFunction(() => document.body.dataset.ready === '1' || document.querySelector('#notices .error'), null, { timeout: 90_000 });
  const err = await page.evaluate(() => document.querySelector('#notices .error')?.textContent);
  assert.equal(err, undefined, 'the page says: ' + err);
  await mapIdle(page);
  const { n, total } = await paintedPixels(page);
  return page.evaluate(({ n, total }) => {
    const map = window.lastmile.map;
    const layers = {};
    const codes = [];
    for (const f of map.queryRenderedFeatures()) {
      layers[f.sourceLayer] = (layers[f.sourceLayer] || 0) + 1;
      if (f.sourceLayer === 'admin_areas' && f.properties.level === 'county') codes.push(f.properties.code);
    }
    return { painted: n / total, layers, codes, zoom: map.getZoom(), source: window.lastmile.archive?.source };
  }, { n, total });
}

function check(r, how) {
  console.log(`archive (${how}): zoom ${r.zoom.toFixed(2)}, ${(r.painted * 100).toFixed(1)}% painted, features ${JSON.stringify(r.layers)}`);
  assert.ok(r.painted > 0.05, `map barely drawn: ${(r.painted * 100).toFixed(1)}% of pixels`);
  assert.ok(r.codes.includes(COUNTY), `the county ${COUNTY} is not drawn: ${r.codes}`);
  assert.ok((r.layers.roads || 0) > 10, `roads drawn: ${r.layers.roads}`);
  assert.ok((r.layers.villages || 0) > 0, `villages drawn: ${r.layers.villages}`);
  assert.equal(r.source?.admin_code, COUNTY, 'the archive says it holds the county');
}

test('the lastmile server is stopped', async () => {
  if (!process.env.LASTMILE_URL) return;
  await assert.rejects(fetch(process.env.LASTMILE_URL + '/readyz'), 'the lastmile server still answers');
});

test('the page draws the county from a PMTiles archive by URL, read by ranges', { timeout: 150_000 }, async () => {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' })).newPage();
  const failed = [];
  page.on('pageerror', (e) => failed.push('pageerror: ' + e.message));
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) failed.push('foreign request ' + r.url()); });
  requests.length = 0; ranges.length = 0;
  await page.goto(base + '/?e2e&pmtiles=/county.pmtiles', { waitUntil: 'load' });
  check(await drawn(page), 'URL');
  const size = fs.statSync(ARCHIVE).size;
  const read = ranges.reduce((s, [a, b]) => s + b - a + 1, 0);
  console.log(`archive (URL): ${ranges.length} range requests, ${read} of ${size} bytes`);
  assert.ok(ranges.length >= 2, `the archive was read by ${ranges.length} range requests`);
  assert.ok(!requests.some((p) => p.startsWith('/tiles/') || p === '/app/config.json'), `a lastmile server was asked: ${requests.filter((p) => p.startsWith('/tiles/') || p.startsWith('/app/c'))}`);
  assert.deepEqual(failed, []);
});

test('the page draws the county from a local PMTiles file', { timeout: 150_000 }, async () => {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' })).newPage();
  const failed = [];
  page.on('pageerror', (e) => failed.push('pageerror: ' + e.message));
  ranges.length = 0;
  await page.goto(base + '/?e2e', { waitUntil: 'load' });
  // No server: the page offers the archive opener.
  await page.waitForFunction(() => window.lastmile?.error === 'no server', null, { timeout: 30_000 });
  await page.setInputFiles('#pmtiles-file', ARCHIVE);
  check(await drawn(page), 'file');
  assert.equal(ranges.length, 0, 'a local file is not fetched');
  assert.deepEqual(failed, []);
});
