// edit.js — the Edit tab: move a village, change a road's status or
// surface, extend a road or draw a new one, saved through the feature API
// (PATCH with If-Match; 412 when someone else saved first).
import { $, el } from './dom.js';
import { state, subscribe, setDrawing, setMoving, updateSelected, editSaved } from './state.js';
import { t, layerTitle, fieldLabel, valueLabel } from './i18n.js';
import { values } from './catalog.js';
import * as api from './api.js';
import { refreshTiles, setHighlight } from './layers.js';

// What a road drawn on the page starts as.
const NEW_ROAD = { status: 'planned', road_class: 'village', surface: 'cement' };

const token = () => ($('#e-token').value || '').trim();
const editTabActive = () => !!document.querySelector('#tab-edit.active');

export function setupEdit() {
  const tok = $('#e-token');
  tok.value = sessionStorage.getItem('lastmile.token') || '';
  $('#token-form').addEventListener('submit', (e) => e.preventDefault());
  tok.addEventListener('change', () => sessionStorage.setItem('lastmile.token', tok.value.trim()));
  document.querySelector('#tabs [data-tab=edit]').addEventListener('click', renderEditBox);
  subscribe('selected', () => { if (editTabActive()) renderEditBox(); });
  subscribe('drawing', renderEditBox);
  subscribe('lang', () => { if (state.selected) renderEditBox(); });
}

function editMsg(text, kind = '') { const m = $('#edit-msg'); m.textContent = text; m.className = 'msg ' + kind; delete m.dataset.status; }

function renderEditBox() {
  const box = $('#edit-box');
  const s = state.selected;
  const draw = el('button', { type: 'button', text: t('draw_road'), onclick: () => startDrawing(null) });
  if (state.drawing) {
    box.replaceChildren(el('p', { text: t('draw_help') }),
      el('button', { type: 'button', text: t('finish'), onclick: finishDrawing }),
      el('button', { type: 'button', text: t('cancel'), onclick: cancelDrawing }));
    return;
  }
  if (!s || !['villages', 'roads'].includes(s.layer)) { box.replaceChildren(el('p', { class: 'sub', text: t('select_feature') }), draw); return; }
  const p = s.feature?.properties || s.props;
  const head = el('h3', { text: `${layerTitle(s.layer)}: ${p.name || '#' + s.id} (v${p.version ?? '?'})` });
  if (s.layer === 'villages') {
    box.replaceChildren(head, el('button', { type: 'button', text: t('move_village'), onclick: () => { setMoving(true); editMsg(t('move_click')); } }), el('hr'), draw);
    return;
  }
  const sel = (field) => el('label', {}, fieldLabel('roads', field), el('select', { id: 'e-' + field },
    ...values('roads', field).map((v) => el('option', { value: v.code, selected: p[field] === v.code, text: valueLabel('roads', field, v.code) }))));
  box.replaceChildren(head, sel('status'), sel('surface'),
    el('button', { type: 'button', id: 'e-save', text: t('save'), onclick: () => saveEdit({ properties: { status: $('#e-status').value, surface: $('#e-surface').value } }) }),
    el('button', { type: 'button', text: t('extend_road'), onclick: () => startDrawing(s) }), el('hr'), draw);
}

// onEditClick takes a map click while moving a village or drawing; it
// reports whether it did.
export function onEditClick(e) {
  if (state.moving) { finishMove(e.lngLat); return true; }
  if (state.drawing) { addDrawPoint(e.lngLat); return true; }
  return false;
}

// Drawing: a new road, or the extension of the selected one. Points are
// added by clicks; a double-click (or Finish) saves.
function startDrawing(sel) {
  let base = null;
  if (sel) {
    const g = sel.feature?.geometry;
    if (!g) { editMsg(t('loading')); return; }
    base = g.type === 'LineString' ? g.coordinates : g.coordinates.at(-1);
  }
  state.map.doubleClickZoom.disable();
  state.map.once('dblclick', finishDrawing);
  editMsg(t('draw_help'));
  setDrawing({ base, extend: !!sel, points: [], type: sel ? sel.feature.geometry.type : 'LineString' });
}

function drawnLine() {
  const d = state.drawing;
  const pts = d.points.filter((p, i, a) => i === 0 || Math.hypot(p[0] - a[i - 1][0], p[1] - a[i - 1][1]) > 1e-7);
  if (!d.base) return pts;
  // Extend from the end nearer the first new point.
  const first = pts[0];
  if (!first) return d.base;
  const dist = (a) => Math.hypot(a[0] - first[0], a[1] - first[1]);
  return dist(d.base[0]) < dist(d.base.at(-1)) ? [...pts.reverse(), ...d.base] : [...d.base, ...pts];
}

function addDrawPoint(lngLat) {
  const d = state.drawing;
  setDrawing({ ...d, points: [...d.points, [+lngLat.lng.toFixed(7), +lngLat.lat.toFixed(7)]] });
  const line = drawnLine();
  setHighlight(line.length > 1 ? { type: 'LineString', coordinates: line } : { type: 'Point', coordinates: line[0] });
}

function cancelDrawing() {
  state.map.doubleClickZoom.enable();
  setHighlight(null);
  editMsg('');
  setDrawing(null);
}

async function finishDrawing() {
  const d = state.drawing;
  if (!d) return;
  const line = drawnLine();
  setDrawing(null);
  setTimeout(() => state.map.doubleClickZoom.enable(), 0);
  if (line.length < 2 || !d.points.length) { cancelDrawing(); return; }
  if (d.extend) {
    const f = state.selected.feature;
    const geometry = f.geometry.type === 'LineString' ? { type: 'LineString', coordinates: line }
      : { type: 'MultiLineString', coordinates: [...f.geometry.coordinates.slice(0, -1), line] };
    await saveEdit({ geometry });
    renderEditBox();
    return;
  }
  if (!token()) { editMsg(t('need_token'), 'error'); renderEditBox(); return; }
  const res = await api.createFeature('roads', token(), { type: 'LineString', coordinates: line },
    { ...NEW_ROAD, name: `${valueLabel('roads', 'status', NEW_ROAD.status)} ${new Date().toISOString().slice(0, 10)}` });
  if (!res.ok) {
    editMsg(`${res.status} ${api.errorText(res)}`, 'error');
    renderEditBox();
    return;
  }
  editSaved();
  refreshTiles(['roads'], { force: true });
  editMsg(t('created').replace('%id', res.data.id), 'ok');
  renderEditBox();
}

async function finishMove(lngLat) {
  setMoving(false);
  const coords = [+lngLat.lng.toFixed(7), +lngLat.lat.toFixed(7)];
  setHighlight({ type: 'Point', coordinates: coords });
  const ok = await saveEdit({ geometry: { type: 'Point', coordinates: coords } });
  // Not saved: show the village where it really is.
  if (!ok) setHighlight(state.selected?.feature?.geometry || state.selected?.geometry);
}

async function saveEdit(patch) {
  let s = state.selected;
  if (!token()) { editMsg(t('need_token'), 'error'); return false; }
  if (!s.etag) {
    const r = await api.feature(s.layer, s.id);
    if (!r.ok) { editMsg(`${r.status} ${r.data?.error?.message || ''}`, 'error'); return false; }
    updateSelected({ etag: r.headers.get('ETag'), feature: r.data });
    s = state.selected;
  }
  const res = await api.patchFeature(s.layer, s.id, s.etag, token(), patch);
  if (res.status === 412) {
    const now = await api.feature(s.layer, s.id);
    const nv = now.headers.get('ETag') || '?';
    editMsg(t('conflict').replace('%v', String(s.etag).replaceAll('"', '')).replace('%n', String(nv).replaceAll('"', '')) +
      (res.data?.error?.message ? ` (${res.data.error.message})` : ''), 'error');
    $('#edit-msg').dataset.status = '412';
    if (now.ok) updateSelected({ feature: now.data, etag: now.headers.get('ETag') });
    return false;
  }
  if (res.status === 401) { editMsg(t('unauthorized'), 'error'); return false; }
  if (res.status === 403) { editMsg(t('forbidden'), 'error'); return false; }
  if (!res.ok) {
    editMsg(`${res.status} ${api.errorText(res)}`, 'error');
    return false;
  }
  // The response is the saved Feature with its new ETag.
  editSaved();
  refreshTiles([s.layer], { force: true });
  editMsg(t('saved'), 'ok');
  updateSelected({ etag: res.headers.get('ETag'), feature: res.data });
  renderEditBox();
  return true;
}
