// layers.js — the map itself: its style (one vector-tile source per
// catalog layer), the layer list, the filters (which become tile query
// parameters) and the legend.
import { $, el, notice } from './dom.js';
import { state, subscribe, setVisible, setFilters, setMap, mark, setReady } from './state.js';
import { t, layerTitle, valueLabel } from './i18n.js';
import { layers, catLayer, hasField, values } from './catalog.js';
import { tileURL as tileTemplate } from './api.js';
import { legendFor, legendSym, hatchImage } from './style.js';

export const DEFAULT_ON = ['admin_areas', 'hazard_zones', 'relocation_sites', 'roads', 'water_pipelines', 'house_renovations', 'villages'];
// Click priority: points first, then lines, then areas.
export const CLICK_ORDER = ['villages', 'facilities', 'house_renovations', 'power_upgrades', 'relocation_sites', 'roads', 'water_pipelines', 'hazard_zones', 'admin_areas'];

const names = () => layers().map((l) => l.name);

// tileQuery returns the filter query string that applies to a layer: status
// where the layer has a status field, surface for roads, completion years
// where the layer carries completed_on.
function tileQuery(name) {
  const l = catLayer(name);
  if (!l) return '';
  const q = new URLSearchParams();
  const f = state.filters;
  if (f.status.length && hasField(name, 'status') && !l.reference) q.set('status', f.status.join(','));
  if (f.surface.length && hasField(name, 'surface')) q.set('surface', f.surface.join(','));
  if (f.yearOn && hasField(name, 'completed_on') && !l.reference) {
    q.set('completed_after', `${f.from}-01-01`);
    q.set('completed_before', `${f.to + 1}-01-01`);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export const tileURL = (name) => tileTemplate(name, tileQuery(name));

// refreshTiles points the layers' sources at their current tile URLs. Filter
// changes come in bursts (sliders, several checkboxes): they are applied once,
// and only to the sources whose URL changed. force reloads the given layers
// even when their URL is the same (after an edit).
const pending = new Set();
let forced = new Set(), timer;
export function refreshTiles(list, { force = false } = {}) {
  for (const n of list) pending.add(n);
  if (force) for (const n of list) forced.add(n);
  clearTimeout(timer);
  timer = setTimeout(() => {
    for (const name of pending) {
      const src = state.map?.getSource('lm-' + name);
      const url = tileURL(name);
      if (!src?.setTiles || (src.tiles?.[0] === url && !forced.has(name))) continue;
      src.setTiles([url]);
    }
    pending.clear();
    forced = new Set();
  }, 120);
}

// buildMap creates the MapLibre map from the server's style document (the
// same one QGIS loads: layers, colours and widths from the catalog), with one
// vector source per layer so that each carries its own filters, and the
// page's own sources (basemap, highlight, ranking) added.
export function buildMap(maplibregl) {
  const tj = state.tilejson, doc = state.style || { layers: [] };
  const style = { version: 8, sources: {}, layers: [] };
  const bm = state.config.basemap;
  const byName = Object.fromEntries((tj?.vector_layers || []).map((v) => [v.id, v]));
  for (const sl of doc.layers || []) {
    const name = sl.metadata?.['lm:layer'];
    if (!name) {
      style.layers.push(sl);
      if (sl.type === 'background' && bm?.url) {
        style.sources.basemap = { type: 'raster', tiles: [bm.url], tileSize: 256, attribution: bm.attribution || '' };
        style.layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
      }
      continue;
    }
    if (!state.available.has(name) || !catLayer(name)) continue;
    if (!style.sources['lm-' + name]) {
      const cl = catLayer(name), vl = byName[name] || {};
      style.sources['lm-' + name] = {
        type: 'vector', tiles: [tileURL(name)],
        minzoom: vl.minzoom ?? cl.minzoom ?? 0, maxzoom: Math.min(vl.maxzoom ?? cl.maxzoom ?? 14, 14),
        attribution: name === 'roads' ? (tj?.attribution || 'lastmile') : undefined,
      };
    }
    const l = { ...sl, source: 'lm-' + name, paint: { ...(sl.paint || {}) } };
    // The page hatches hazard zones (an image it draws; the document, for
    // clients without it, fills them with the same red).
    if (l.id === 'hazard_zones--fill') { delete l.paint['fill-color']; l.paint['fill-pattern'] = 'hatch-red'; }
    l.layout = { ...(l.layout || {}), visibility: state.visible.has(name) ? 'visible' : 'none' };
    style.layers.push(l);
  }
  // Over a basemap, the county's white wash would hide it.
  if (bm?.url) for (const l of style.layers) if (l.id === 'admin_areas--fill') l.paint['fill-opacity'] = 0.05;
  style.sources.highlight = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } };
  style.sources.rank = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } };
  style.sources.dangling = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } };
  style.layers.push(
    { id: 'rank-fill', type: 'fill', source: 'rank', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': ['interpolate', ['linear'], ['get', '_rank_n'], 0, '#1a9850', 1, '#fee08b'], 'fill-opacity': 0.6, 'fill-outline-color': '#333' } },
    { id: 'rank-point', type: 'circle', source: 'rank', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': ['interpolate', ['linear'], ['get', '_rank_n'], 0, '#1a9850', 1, '#fee08b'], 'circle-radius': 7, 'circle-stroke-color': '#222', 'circle-stroke-width': 1.5 } },
    { id: 'dangling-point', type: 'circle', source: 'dangling', paint: { 'circle-color': '#ff7f00', 'circle-radius': 5, 'circle-stroke-color': '#222', 'circle-stroke-width': 1.5 } },
    { id: 'highlight-line', type: 'line', source: 'highlight', filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#00e5ff', 'line-width': 5, 'line-opacity': 0.8 } },
    { id: 'highlight-point', type: 'circle', source: 'highlight', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': 'rgba(0,0,0,0)', 'circle-radius': 14, 'circle-stroke-color': '#00e5ff', 'circle-stroke-width': 4 } },
  );

  let bounds = tj?.bounds;
  if (!Array.isArray(bounds) || bounds.length !== 4 || bounds.some((b) => typeof b !== 'number') || bounds[0] <= -180) bounds = null;
  const test = new URLSearchParams(location.search).has('e2e');
  const opts = {
    container: 'map', style, attributionControl: { compact: true }, hash: !test,
    maxZoom: 18, dragRotate: false, pitchWithRotate: false,
  };
  if (test) opts.canvasContextAttributes = { preserveDrawingBuffer: true, antialias: false };
  if (bounds) { opts.bounds = bounds; opts.fitBoundsOptions = { padding: 20 }; }
  else if (Array.isArray(tj?.center)) { opts.center = tj.center.slice(0, 2); opts.zoom = tj.center[2] ?? 10; }
  else { opts.center = [117.2, 37.3]; opts.zoom = 10; }
  // After an edit, revalidate tiles rather than trusting the browser cache.
  opts.transformRequest = (url, type) => (state.editEpoch && type === 'Tile' && url.startsWith(location.origin)) ? { url, cache: 'no-cache' } : { url };

  const map = new maplibregl.Map(opts);
  setMap(map);
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.addImage('hatch-red', hatchImage());
  map.on('styleimagemissing', (e) => {
    if (e.id === 'hatch-red' && !map.hasImage('hatch-red')) map.addImage('hatch-red', hatchImage());
  });
  map.on('load', () => { if (!map.hasImage('hatch-red')) map.addImage('hatch-red', hatchImage()); });
  let errorShown = false;
  map.on('error', (e) => {
    // Tile errors are shown once as a notice rather than spamming the console.
    const msg = e?.error?.message || String(e?.error || e);
    if (!errorShown) { errorShown = true; notice('map: ' + msg, 'error'); }
  });
  map.on('data', (e) => { if (e.dataType === 'source' && e.tile) mark('firstTileLoaded'); });
  map.on('render', () => { if (state.timings.firstTileLoaded !== undefined) mark('firstTilesDrawn'); });
  map.once('idle', () => {
    mark('idle');
    setReady();
    document.body.dataset.ready = '1';
    const ms = Math.round(state.timings.firstTilesDrawn ?? state.timings.idle);
    console.info(`lastmile: ${t('first_tiles')} ${ms} ms`);
  });
  map.on('mousemove', (e) => {
    const f = map.queryRenderedFeatures(e.point, { layers: interactiveLayers() });
    map.getCanvas().style.cursor = (f.length || state.moving) ? 'pointer' : '';
  });
  subscribe('visible', applyVisibility);
  return map;
}

export function interactiveLayers() {
  const ids = state.map.getStyle().layers.filter((l) => l.metadata?.['lm:layer'] && l.id.indexOf('--casing') < 0).map((l) => l.id);
  return [...ids, 'rank-fill', 'rank-point'];
}

function applyVisibility() {
  const map = state.map;
  if (map) for (const l of map.getStyle().layers) {
    const name = l.metadata?.['lm:layer'];
    if (name) map.setLayoutProperty(l.id, 'visibility', state.visible.has(name) ? 'visible' : 'none');
  }
}

export function setHighlight(geometry) {
  state.map.getSource('highlight')?.setData({ type: 'FeatureCollection', features: geometry ? [{ type: 'Feature', geometry, properties: {} }] : [] });
}

// setDangling draws the road network's dangling ends (the network card's
// list=dangling rows: lon, lat, gap_m, road_id, near_road_id); none clears.
export function setDangling(rows) {
  state.map.getSource('dangling')?.setData({ type: 'FeatureCollection', features: (rows || []).map((r) => ({
    type: 'Feature', geometry: { type: 'Point', coordinates: [r.lon, r.lat] }, properties: { gap_m: r.gap_m, road_id: r.road_id, near_road_id: r.near_road_id } })) });
}

export function renderLayerList() {
  const ul = $('#layer-list');
  ul.replaceChildren();
  for (const l of layers()) {
    const avail = state.available.has(l.name);
    const first = legendFor(l.name)[0];
    ul.append(el('li', { class: avail ? '' : 'unavailable' },
      el('input', { type: 'checkbox', id: 'lay-' + l.name, 'data-layer': l.name, checked: state.visible.has(l.name) && avail, disabled: !avail,
        onchange: (e) => setVisible(l.name, e.target.checked) }),
      first ? el('span', { class: 'swatch', style: first.sym === 'hatch' ? 'background:repeating-linear-gradient(45deg,#d62828 0 2px,#fbe3e3 2px 5px)' : `background:${first.color}` }) : null,
      el('label', { for: 'lay-' + l.name, text: layerTitle(l.name) + (avail ? '' : ` (${t('not_available')})`) })));
  }
}

export function renderLegend() {
  const box = $('#legend');
  box.replaceChildren();
  // The drawing order of the style document, bottom to top.
  const order = [...new Set((state.style?.layers || []).map((l) => l.metadata?.['lm:layer']).filter(Boolean))];
  for (const name of order.filter((n) => state.visible.has(n))) {
    const items = legendFor(name);
    box.append(el('div', { class: 'lg-layer' }, el('div', { class: 'lg-title', text: layerTitle(name) }),
      ...items.map((it) => el('span', { class: 'lg-item' }, legendSym(it), it.label))));
  }
}

// renderFilters draws the status and surface check boxes from the roads
// layer's enum values.
export function renderFilters() {
  const checks = (box, field) => {
    box.replaceChildren(...values('roads', field).map((v) => el('label', {},
      el('input', { type: 'checkbox', value: v.code, checked: state.filters[field].includes(v.code), 'data-filter': field, onchange: () => {
        setFilters({ [field]: [...box.querySelectorAll('input:checked')].map((x) => x.value) });
      } }), ' ' + valueLabel('roads', field, v.code))));
  };
  checks($('#f-status'), 'status');
  checks($('#f-surface'), 'surface');
}

// setupFilters wires the completion-year sliders (once) and the tile refresh.
export function setupFilters() {
  const from = $('#f-year-from'), to = $('#f-year-to'), on = $('#f-year-on');
  const y = new Date().getFullYear();
  from.max = to.max = String(y); to.value = String(y);
  const read = () => {
    let a = +from.value, b = +to.value;
    if (a > b) [a, b] = [b, a];
    $('#f-year-from-v').textContent = from.value; $('#f-year-to-v').textContent = to.value;
    return { from: a, to: b, yearOn: on.checked };
  };
  // Slider moves show the years; the filter changes when they are let go.
  from.addEventListener('input', read); to.addEventListener('input', read);
  const apply = () => setFilters(read());
  from.addEventListener('change', apply); to.addEventListener('change', apply); on.addEventListener('change', apply);
  setFilters(read());
  subscribe('filters', () => refreshTiles(names()));
  subscribe('visible', renderLegend);
  subscribe('lang', () => { renderLayerList(); renderLegend(); renderFilters(); });
}
