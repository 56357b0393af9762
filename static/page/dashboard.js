// dashboard.js — the statistics tab: village coverage, Rural Access Index,
// road km hardened per year, renovation progress. Every figure is a
// stats.Result ({definition, groups[], total, uncovered[]}) whose columns
// the stats code names (stats/coverage.go, rai.go, lengths.go, progress.go).
import { $, el } from './dom.js';
import { state, subscribe, setDashLoaded } from './state.js';
import { t, valueLabel, fmtNum } from './i18n.js';
import { hardened, styleOf, value } from './catalog.js';
import * as api from './api.js';
import { setHighlight, setDangling } from './layers.js';

let echarts = null, echartsTried = false, seq = 0;
const charts = {};

// dashParams reads the dashboard's form: the method (straight | network)
// and metric (distance | time; time only along the network, with minutes).
function dashParams() {
  const asof = $('#d-asof').value;
  const km = Math.max(0.01, +$('#d-km').value || 1);
  const method = $('#d-method').value === 'network' ? 'network' : 'straight';
  const metric = method === 'network' && $('#d-metric').value === 'time' ? 'time' : 'distance';
  const min = Math.min(240, Math.max(1, +$('#d-min').value || 10));
  return { asof, within_m: Math.round(km * 1000), km, def: $('#d-def').value, method, metric, min };
}

// syncMethod enables the metric selector only along the network and shows
// the minutes only for travel time.
function syncMethod() {
  const network = $('#d-method').value === 'network';
  $('#d-metric').disabled = !network;
  if (!network) $('#d-metric').value = 'distance';
  $('#d-min-row').hidden = !(network && $('#d-metric').value === 'time');
}

export function setupDashboard() {
  for (const d of document.querySelectorAll('.def')) d.addEventListener('click', () => d.classList.toggle('open'));
  for (const id of ['#d-asof', '#d-km', '#d-def', '#d-min']) $(id).addEventListener('change', () => loadDashboard());
  for (const id of ['#d-method', '#d-metric']) $(id).addEventListener('change', () => { syncMethod(); loadDashboard(); });
  $('#net-dangling-box').addEventListener('toggle', () => { if ($('#net-dangling-box').open) loadDangling(); });
  syncMethod();
  subscribe('lang', () => { if (state.dashLoaded) loadDashboard(); });
  // The report link is computed when it is used: the map may have moved.
  const report = $('#d-report');
  const refresh = () => { report.href = reportURL(); };
  for (const ev of ['mouseenter', 'focus', 'mousedown', 'touchstart']) report.addEventListener(ev, refresh);
  refresh();
}

// reportURL is the printable report (GET /reports/{code}, docs/report.md) of
// the area under the map's centre: its township from zoom 12, else its county
// (both drawn from the admin_areas tiles), in the page's language and as of the
// dashboard's date. Without an area under the centre, the first county drawn.
export function reportURL() {
  const map = state.map;
  let code = '';
  if (map) {
    const layers = (map.getStyle()?.layers || []).filter((l) => l['source-layer'] === 'admin_areas' || l.id.startsWith('admin_areas')).map((l) => l.id);
    const level = map.getZoom() >= 12 ? 'township' : 'county';
    const at = layers.length ? map.queryRenderedFeatures(map.project(map.getCenter()), { layers }) : [];
    const pick = (fs, lv) => fs.find((f) => f.properties?.level === lv)?.properties.code;
    code = pick(at, level) || pick(at, 'county') || (layers.length ? pick(map.queryRenderedFeatures({ layers }), 'county') : '') || '';
  }
  const q = new URLSearchParams({ lang: state.lang });
  const asof = $('#d-asof').value;
  if (asof) q.set('as_of', asof);
  return code ? `/reports/${encodeURIComponent(code)}?${q}` : '#';
}

let chain = Promise.resolve(), pending = 0;

// serial asks url after every question serial asked before has been
// answered; #tab-dashboard's data-pending counts those not yet answered.
function serial(url) {
  pending++;
  $('#tab-dashboard').dataset.pending = String(pending);
  const p = chain.then(() => api.stats(url)).finally(() => { pending--; $('#tab-dashboard').dataset.pending = String(pending); });
  chain = p.catch(() => {});
  return p;
}

export const resizeCharts = () => Object.values(charts).forEach((c) => c.resize());

// coverageURL is the coverage question the dashboard asks (the browser test
// asks the API the same one).
function coverageURL(p, extra = {}) {
  const q = new URLSearchParams({ target: 'villages', source: 'roads', within_m: String(p.within_m), source_filter: p.def, group_by: 'township', list: 'uncovered', ...extra });
  if (p.method === 'network') q.set('method', 'network');
  if (p.metric === 'time') { q.set('metric', 'time'); q.set('within_min', String(p.min)); }
  if (p.asof) q.set('as_of', p.asof);
  return '/api/stats/coverage?' + q;
}

// networkURL is the road network's quality for the roads counted
// (/api/stats/network: components, dangling ends, unconnected villages).
function networkURL(p) {
  const q = new URLSearchParams({ source_filter: p.def, list: 'unconnected' });
  if (p.asof) q.set('as_of', p.asof);
  return '/api/stats/network?' + q;
}

export async function loadDashboard() {
  setDashLoaded();
  const p = dashParams();
  const asof = p.asof ? { as_of: p.asof } : {};
  const covURL = coverageURL(p);
  const raiURL = '/api/stats/rai?' + new URLSearchParams({ within_m: '2000', ...(p.method === 'network' ? { method: 'network' } : {}), ...asof });
  const kmURL = '/api/stats/lengths?' + new URLSearchParams({ layer: 'roads', group_by: 'year,surface', status: 'completed', ...asof });
  const progURL = '/api/stats/progress?' + new URLSearchParams({ layer: 'house_renovations', group_by: 'township', ...asof });
  const netURL = networkURL(p);
  const csv = (u) => u + '&format=csv';
  $('#net-csv').href = csv(netURL.replace('&list=unconnected', '')); $('#net-unc-csv').href = csv(netURL);
  $('#net-dang-csv').href = csv(netURL.replace('list=unconnected', 'list=dangling'));
  $('#cov-csv').href = csv(covURL.replace('&list=uncovered', ''));
  $('#cov-unc-csv').href = csv(covURL); $('#rai-csv').href = csv(raiURL); $('#km-csv').href = csv(kmURL); $('#prog-csv').href = csv(progURL);
  const mine = ++seq;
  $('#card-coverage').dataset.state = 'loading';
  $('#cov-detail').textContent = t('loading');
  const cheap = Promise.all([api.stats(kmURL), api.stats(progURL)]);
  // coverage and RAI along the network are expensive: the server runs one
  // at a time per client (503 beyond), so the page asks them one after the
  // other, after any still running from an earlier question
  const cov = await serial(covURL);
  const rai = await serial(raiURL);
  const net = await serial(netURL);
  const [km, prog] = await cheap;
  if (mine !== seq) return; // a newer question was asked meanwhile
  renderCoverage(cov, p, covURL);
  renderRAI(rai, raiURL);
  renderNetwork(net, netURL);
  loadECharts().then(() => { renderKm(km); renderProgress(prog); });
}

// renderCoverage: total {total, covered, uncovered, pct}; uncovered [{id, name, code, lon, lat, distance_m}].
function renderCoverage(res, p, url) {
  const box = $('#card-coverage');
  box.dataset.url = url;
  if (!res.ok || !res.data) {
    $('#cov-pct').textContent = '–';
    $('#cov-detail').textContent = `${t('not_available')} (${res.status}) ${res.data?.error?.message || ''}`;
    box.dataset.state = 'unavailable';
    return;
  }
  const { covered, total, pct } = res.data.total;
  $('#cov-pct').textContent = `${fmtNum(pct, 1)} %`;
  $('#cov-pct').dataset.pct = pct; $('#cov-pct').dataset.covered = covered; $('#cov-pct').dataset.total = total;
  $('#cov-detail').textContent = p.metric === 'time' ? t('villages_covered_time')(fmtNum(covered), fmtNum(total), p.min)
    : t('villages_covered')(fmtNum(covered), fmtNum(total), p.km) + (p.method === 'network' ? ` (${t('method_network')})` : '');
  $('#cov-def').textContent = res.data.definition;
  box.dataset.state = 'ok';
  const unc = res.data.uncovered || [];
  $('#cov-unc-n').textContent = String(unc.length);
  $('#cov-uncovered').replaceChildren(...unc.map((v) => el('li', { 'data-id': v.id, onclick: (e) => highlightVillage(v, e.currentTarget) },
    `${v.name || v.code || v.id}`, el('span', { class: 'sub', text: uncoveredText(v) }))));
}

// uncoveredText: an uncovered village's distance (and time) to the nearest
// qualifying road; unreachable along the network: –.
function uncoveredText(v) {
  if (v.distance_m === null || v.distance_m === undefined) return ' –';
  const km = ` ${fmtNum(v.distance_m / 1000, 2)} ${t('km')}`;
  return v.time_min !== undefined && v.time_min !== null ? ` ${fmtNum(v.time_min, 1)} ${t('minutes')},${km}` : km;
}

function highlightVillage(v, li) {
  for (const x of document.querySelectorAll('#cov-uncovered li.sel, #net-unconnected li.sel, #net-dangling li.sel')) x.classList.remove('sel');
  li?.classList.add('sel');
  const c = [v.lon, v.lat];
  setHighlight({ type: 'Point', coordinates: c });
  state.map.flyTo({ center: c, zoom: Math.max(state.map.getZoom(), 13) });
}

// renderNetwork: total {components, km, largest_pct, dangling_ends,
// unconnected_villages}; uncovered [{id, name, code, lon, lat}] (the
// villages whose nearest road is in a part without a counted road).
function renderNetwork(res, url) {
  const box = $('#card-network');
  box.dataset.url = url;
  if (!res.ok || !res.data) {
    $('#net-comp').textContent = '–';
    $('#net-detail').textContent = `${t('not_available')} (${res.status}) ${res.data?.error?.message || ''}`;
    box.dataset.state = 'unavailable';
    return;
  }
  const tot = res.data.total;
  $('#net-comp').textContent = fmtNum(tot.components);
  Object.assign($('#net-comp').dataset, { components: tot.components, dangling: tot.dangling_ends, unconnected: tot.unconnected_villages });
  $('#net-detail').textContent = t('network_detail')(fmtNum(tot.components), fmtNum(tot.largest_pct, 1), fmtNum(tot.km, 1), fmtNum(tot.dangling_ends), fmtNum(tot.unconnected_villages));
  $('#net-def').textContent = res.data.definition;
  box.dataset.state = 'ok';
  const unc = res.data.uncovered || [];
  $('#net-unc-n').textContent = String(unc.length);
  $('#net-unconnected').replaceChildren(...unc.map((v) => el('li', { 'data-id': v.id, onclick: (e) => highlightVillage(v, e.currentTarget) }, `${v.name || v.code || v.id}`)));
  $('#net-dang-n').textContent = fmtNum(tot.dangling_ends);
  $('#net-dangling').replaceChildren();
  delete $('#net-dangling').dataset.url;
  setDangling(null);
  if ($('#net-dangling-box').open) loadDangling();
}

// loadDangling lists the dangling ends of the network card's question
// (list=dangling, asked when the list is opened: a second network
// question) and draws them on the map.
async function loadDangling() {
  const url = $('#card-network').dataset.url?.replace('list=unconnected', 'list=dangling');
  const ol = $('#net-dangling');
  if (!url || ol.dataset.url === url) return;
  ol.dataset.url = url;
  const res = await serial(url);
  if (ol.dataset.url !== url) return; // another question meanwhile
  const rows = res.ok && res.data ? res.data.uncovered || [] : [];
  ol.replaceChildren(...rows.map((d) => el('li', { 'data-vertex': d.vertex, onclick: (e) => highlightVillage(d, e.currentTarget) },
    t('dangling_item')(fmtNum(d.gap_m, 1), d.road_id, d.near_road_id))));
  setDangling(rows);
  ol.dataset.n = String(rows.length);
}

// renderRAI: total.rai, the share of the population covered (%).
function renderRAI(res, url) {
  $('#card-rai').dataset.url = url;
  $('#card-rai').dataset.state = res.ok && res.data ? 'ok' : 'unavailable';
  if (!res.ok || !res.data) { $('#rai-val').textContent = '–'; $('#rai-def').textContent = `${t('not_available')} (${res.status})`; return; }
  const v = res.data.total.rai;
  $('#rai-val').textContent = `${fmtNum(v, 1)} %`;
  $('#rai-val').dataset.value = v;
  $('#rai-def').textContent = res.data.definition;
}

async function loadECharts() {
  if (echarts || echartsTried) return echarts;
  echartsTried = true;
  if (!state.config.vendor?.echarts) return null;
  try { echarts = await import('/vendor/echarts/echarts.esm.min.mjs'); } catch { echarts = null; }
  return echarts;
}

function chart(id, option, empty) {
  const box = $(id);
  if (!echarts) { box.textContent = t('chart_missing'); return; }
  if (empty) { charts[id]?.dispose(); delete charts[id]; box.textContent = empty; return; }
  if (!charts[id]) { box.textContent = ''; charts[id] = echarts.init(box, null, { renderer: 'canvas' }); }
  charts[id].setOption({ animation: false, ...option }, true);
}

// renderKm: groups [{year, surface, km, count, funding_yuan}], hardened surfaces stacked.
function renderKm(res) {
  if (!res.ok) { chart('#chart-km', null, `${t('not_available')} (${res.status})`); return; }
  const surfaces = hardened();
  const hard = new Set(surfaces);
  const per = {};
  for (const g of res.data.groups) {
    if (g.year === null || !hard.has(g.surface)) continue;
    per[g.year] ??= {}; per[g.year][g.surface] = (per[g.year][g.surface] || 0) + g.km;
  }
  const years = Object.keys(per).sort();
  const colors = styleOf('roads', 'surface', 'color');
  const label = (s) => valueLabel('roads', 'surface', s);
  chart('#chart-km', {
    tooltip: { trigger: 'axis' }, legend: { bottom: 0, data: surfaces.map(label) }, grid: { left: 40, right: 8, top: 10, bottom: 45 },
    xAxis: { type: 'category', data: years }, yAxis: { type: 'value', name: t('km') },
    series: surfaces.map((s) => ({ name: label(s), type: 'bar', stack: 'km', itemStyle: { color: colors[s] }, data: years.map((y) => +(per[y][s] || 0).toFixed(2)) })),
  }, years.length ? null : '–');
}

// renderProgress: groups [{township, township_name, total, planned, under_construction, completed, cancelled, pct}].
function renderProgress(res) {
  if (!res.ok) { chart('#chart-progress', null, `${t('not_available')} (${res.status})`); return; }
  const rows = res.data.groups.map((g) => ({ name: g.township_name || g.township || '?', done: g.completed, total: g.total, pct: g.pct ?? 0 }));
  chart('#chart-progress', {
    tooltip: { trigger: 'axis', formatter: (ps) => { const r = rows[ps[0].dataIndex]; return `${r.name}<br>${r.done} / ${r.total} (${r.pct.toFixed(1)} %)`; } },
    grid: { left: 80, right: 20, top: 5, bottom: 20 },
    xAxis: { type: 'value', max: 100, name: '%' }, yAxis: { type: 'category', data: rows.map((r) => r.name), axisLabel: { fontSize: 10 } },
    series: [{ type: 'bar', data: rows.map((r) => +r.pct.toFixed(1)), itemStyle: { color: value('house_renovations', 'status', 'completed')?.color }, label: { show: true, position: 'right', fontSize: 9, formatter: (x) => `${rows[x.dataIndex].done}/${rows[x.dataIndex].total}` } }],
  }, rows.length ? null : '–');
  $('#chart-progress').style.height = Math.max(200, rows.length * 18 + 30) + 'px';
  charts['#chart-progress']?.resize();
}
