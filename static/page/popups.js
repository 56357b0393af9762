// popups.js — the map's one popup: a feature's attributes (catalog labels
// and units) and its edit history, or a ranked site's factor breakdown.
import { el } from './dom.js';
import { state, select, updateSelected } from './state.js';
import { t, layerTitle, fieldLabel, valueLabel, opLabel, fmtNum } from './i18n.js';
import { catLayer, catField } from './catalog.js';
import * as api from './api.js';
import { setHighlight, interactiveLayers, CLICK_ORDER } from './layers.js';

let popup = null, maplibregl = null;

export function setupPopups(lib) { maplibregl = lib; }

// showPopup replaces the open popup with content at lngLat.
export function showPopup(lngLat, content) {
  popup?.remove();
  popup = new maplibregl.Popup({ maxWidth: '360px' }).setLngLat(lngLat).setDOMContent(content).addTo(state.map);
}

function fmtValue(layerName, field, v) {
  if (v === null || v === undefined || v === '') return '–';
  const fd = catField(layerName, field);
  if (fd?.type === 'enum' || fd?.type === 'boolean' || typeof v === 'boolean') return valueLabel(layerName, field, v);
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'number') return fmtNum(v, 2) + (fd?.unit ? ' ' + fd.unit : '');
  return String(v) + (fd?.unit ? ' ' + fd.unit : '');
}

function attrTable(layerName, props) {
  const cl = catLayer(layerName);
  const order = cl ? cl.fields.map((f) => f.name) : Object.keys(props);
  const rows = [];
  for (const k of order) if (k in props && k !== 'name' && k !== 'props') rows.push(el('tr', {}, el('td', { text: fieldLabel(layerName, k) }), el('td', { text: fmtValue(layerName, k, props[k]) })));
  for (const k of Object.keys(props)) if (!order.includes(k) && !k.startsWith('_')) rows.push(el('tr', {}, el('td', { text: k }), el('td', { text: fmtValue(layerName, k, props[k]) })));
  // props arrives as its JSON text from the feature API (an object from older servers).
  let extra = props.props;
  if (typeof extra === 'string') { try { extra = JSON.parse(extra); } catch { extra = null; } }
  if (extra && typeof extra === 'object') for (const [k, v] of Object.entries(extra)) rows.push(el('tr', {}, el('td', { text: k }), el('td', { text: typeof v === 'object' ? JSON.stringify(v) : String(v) })));
  return el('table', {}, ...rows);
}

// historyList renders GET …/history: {versions: [{op, version, actor, at, changed[]}]}.
function historyList(layerName, data) {
  const items = data?.versions || [];
  if (!items.length) return el('div', { class: 'sub', text: t('no_history') });
  return el('ul', {}, ...items.map((h) => {
    const changed = (h.changed || []).map((f) => fieldLabel(layerName, f)).join(', ');
    return el('li', {}, el('b', { text: `v${h.version} ${opLabel(h.op)}` }), ` ${String(h.at).replace('T', ' ').slice(0, 19)} · ${t('by')} ${h.actor || '?'}`,
      changed ? el('div', { class: 'sub', text: `${t('changed')}: ${changed}` }) : null);
  }));
}

// onFeatureClick opens the popup of the feature clicked (points first), or
// of a ranked site (showRank).
export async function onFeatureClick(e, showRank) {
  const map = state.map;
  const pad = 4;
  const feats = map.queryRenderedFeatures([[e.point.x - pad, e.point.y - pad], [e.point.x + pad, e.point.y + pad]], { layers: interactiveLayers() });
  if (!feats.length) return;
  const rank = feats.find((f) => f.source === 'rank');
  if (rank) { showRank(rank, e.lngLat); return; }
  feats.sort((a, b) => CLICK_ORDER.indexOf(a.layer.metadata['lm:layer']) - CLICK_ORDER.indexOf(b.layer.metadata['lm:layer']));
  const f = feats[0], name = f.layer.metadata['lm:layer'];
  // a low-zoom overview feature (collected lines, a count point) has no
  // feature id: its tile properties are all there is, and nothing to edit
  if (f.id === undefined || f.id === null) {
    showPopup(e.lngLat, el('div', { class: 'popup overview', 'data-layer': name },
      el('h3', { text: f.properties.name || layerTitle(name) }), el('div', { class: 'sub', text: layerTitle(name) }),
      el('div', { class: 'attrs' }, attrTable(name, f.properties)), el('p', { class: 'sub', text: t('overview_note') })));
    select(null);
    setHighlight(f.geometry);
    return;
  }
  const title = f.properties.name || `${layerTitle(name)} #${f.id}`;
  const body = el('div', { class: 'popup', 'data-layer': name, 'data-id': f.id },
    el('h3', { text: title }), el('div', { class: 'sub', text: layerTitle(name) }),
    el('div', { class: 'attrs' }, attrTable(name, f.properties)),
    el('h4', { text: t('history') }), el('div', { class: 'hist', text: t('loading') }));
  showPopup(e.lngLat, body);
  select({ layer: name, id: f.id, props: f.properties, geometry: f.geometry, lngLat: e.lngLat });
  setHighlight(f.geometry);
  const [item, hist] = await Promise.all([api.feature(name, f.id), api.history(name, f.id)]);
  if (item.ok && item.data?.properties) {
    body.querySelector('.attrs').replaceChildren(attrTable(name, item.data.properties));
    if (item.data.properties.name) body.querySelector('h3').textContent = item.data.properties.name;
    if (state.selected?.id === f.id) updateSelected({ etag: item.headers.get('ETag'), feature: item.data });
  }
  body.querySelector('.hist').replaceChildren(hist.ok ? historyList(name, hist.data) : el('span', { class: 'sub', text: `${t('not_available')} (${hist.status})` }));
}
