// lastmile map page (ES modules, no bundler). Everything comes from this
// server: the catalog document (/app/catalog.json: layers, fields, enum
// labels and colours, definitions, ranking defaults), the tiles (/tiles/...),
// the features and their history (/ogc/...), the statistics (/api/stats/...)
// and the ranking (/api/sites/rank). Libraries are loaded from /vendor/ (npm
// packages installed by scripts/setup).
//
// Modules, one per component: state (the one store), api (every request),
// catalog (the catalog document), i18n (strings and labels), style (the
// legend; how layers are drawn is the server's style document,
// /tiles/{layers}/style.json, which QGIS and other MapLibre clients load too), layers (the map, layer list, filters, legend), popups,
// dashboard, rank, edit; dom holds the two DOM helpers.
import { $, el, notice } from './dom.js';
import { state, subscribe, setLang, setServer, setTiles, setVisible } from './state.js';
import { t, applyI18n } from './i18n.js';
import { layers } from './catalog.js';
import * as api from './api.js';
import { buildMap, renderLayerList, renderFilters, renderLegend, setupFilters, refreshTiles, tileURL, DEFAULT_ON } from './layers.js';
import { setupPopups, onFeatureClick } from './popups.js';
import { setupDashboard, loadDashboard, resizeCharts } from './dashboard.js';
import { setupRank, showRankPopup } from './rank.js';
import { setupEdit, onEditClick } from './edit.js';
import { openArchive, setupArchiveOpener } from './archive.js';

const T0 = performance.now();

function showTab(name) {
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.classList.toggle('active', s.id === 'tab-' + name);
  if (name === 'dashboard' && !state.dashLoaded) loadDashboard();
  setTimeout(resizeCharts, 0);
}

async function boot() {
  applyI18n();
  subscribe('lang', applyI18n);
  $('#lang').addEventListener('click', () => setLang(state.lang === 'zh' ? 'en' : 'zh'));
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  setupArchiveOpener();

  // ?pmtiles=URL: an archive, no server needed (archive.js).
  const archive = new URLSearchParams(location.search).get('pmtiles');
  if (archive) {
    await openArchive(archive);
    return;
  }
  // The library loads while the page asks the server what it has.
  const libP = import('/vendor/maplibre-gl/maplibre-gl.mjs').then((m) => m, (err) => ({ loadError: err }));
  const [cfg, cat] = await Promise.all([api.config(), api.catalog()]);
  if (!cfg.ok && !cat.ok) {
    // No lastmile server behind this page (a static copy): open an archive.
    $('#archive-open').open = true;
    notice(t('no_server'));
    window.lastmile = { state, error: 'no server' };
    return;
  }
  setServer({ config: cfg.data || { vendor: {} }, catalog: cat.data || { layers: [] } });
  if (!state.config.vendor?.maplibre) {
    $('#map').append(el('div', { class: 'setup' }, el('p', { text: state.config.setup || t('setup') })));
    notice(t('setup'), 'error');
    window.lastmile = { state, error: 'setup' };
    return;
  }
  // Which layers the tile server has: its TileJSON for every catalog layer.
  const names = layers().map((l) => l.name);
  const [lib, tj, sd] = await Promise.all([libP, api.tileJSON(names), api.styleDoc(names)]);
  if (lib.loadError) {
    notice(t('setup'), 'error');
    window.lastmile = { state, error: String(lib.loadError) };
    return;
  }
  if (tj.ok && tj.data) {
    const ids = tj.data.vector_layers.map((v) => v.id);
    setTiles(tj.data, ids.length ? ids : names, sd.ok ? sd.data : null);
  } else {
    notice(t('no_tiles'));
  }
  for (const n of names) if (DEFAULT_ON.includes(n)) setVisible(n, true);

  const map = buildMap(lib);
  setupPopups(lib);
  map.on('click', (e) => { if (!onEditClick(e)) onFeatureClick(e, showRankPopup); });
  renderLayerList(); renderFilters(); renderLegend();
  setupFilters(); setupDashboard(); setupRank(); setupEdit();
  if (state.config.basemap?.gcj02) notice(t('gcj02'));
  window.lastmile = { map, state, T0, tileURL, refreshTiles, setLayerVisible: setVisible, loadDashboard };
}

boot().catch((err) => {
  notice('lastmile: ' + (err?.message || err), 'error');
  console.error(err);
});
