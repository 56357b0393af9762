// rank.js — the Sites tab: a ranking request (POST /api/sites/rank) built
// from the form, whose factors, default weights and constraint limits come
// from the catalog document's `ranking` (the ranking code's defaults); the
// ranked sites on the map, in a list and in popups.
import { $, el } from './dom.js';
import { state, subscribe, setRank } from './state.js';
import { t, factorLabel, fmtNum } from './i18n.js';
import { ranking } from './catalog.js';
import * as api from './api.js';
import { showPopup } from './popups.js';

// The constraints the form offers, by the ids of its inputs.
const CONSTRAINTS = { hazard: '#c-hazard', road: '#c-road', water: '#c-water', power: '#c-power' };

export function setupRank() {
  // Defaults of the constraints: enabled and limit as the ranking fills them in.
  const cs = ranking().constraints;
  for (const [name, id] of Object.entries(CONSTRAINTS)) {
    const c = cs[name];
    if (!c) continue;
    $(id).checked = c.enabled;
    $(id + '-m').value = String(c.buffer_m ?? c.max_m);
  }
  $('#rank-form').addEventListener('submit', (e) => { e.preventDefault(); runRank(); });
  renderWeights();
  subscribe('lang', () => { renderWeights(); if (state.lastRank) renderRank(state.lastRank); });
  subscribe('rank', () => renderRank(state.lastRank));
}

function renderWeights() {
  const box = $('#r-weights');
  const { factors, weights } = ranking();
  const prev = Object.fromEntries([...box.querySelectorAll('input')].map((i) => [i.dataset.factor, i.value]));
  box.replaceChildren(...factors.map((f) => el('label', {}, el('span', { text: factorLabel(f) }),
    el('input', { type: 'range', min: '0', max: '1', step: '0.05', value: prev[f] ?? String(weights[f]), 'data-factor': f, oninput: (e) => { e.target.nextSibling.textContent = e.target.value; } }),
    el('output', { text: prev[f] ?? String(weights[f]) }))));
}

// rankRequest is the POST /api/sites/rank body (rank.Request).
function rankRequest() {
  const area = document.querySelector('input[name=r-area]:checked').value;
  const b = state.map.getBounds();
  const num = (id) => +$(id).value;
  const body = { limit: num('#r-limit'), include_excluded: false, weights: {} };
  if (area === 'planned') body.candidates = { source: 'planned' };
  else body.candidates = { source: 'grid', bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((x) => +x.toFixed(5)), cell_m: num('#r-cell') };
  body.constraints = {
    hazard: { enabled: $('#c-hazard').checked, buffer_m: num('#c-hazard-m') },
    road: { enabled: $('#c-road').checked, max_m: num('#c-road-m') },
    water: { enabled: $('#c-water').checked, max_m: num('#c-water-m') },
    power: { enabled: $('#c-power').checked, max_m: num('#c-power-m') },
  };
  for (const i of document.querySelectorAll('#r-weights input')) body.weights[i.dataset.factor] = +i.value;
  return body;
}

async function runRank() {
  $('#rank-status').textContent = t('rank_running');
  const t0 = performance.now();
  const res = await api.rank(rankRequest());
  if (!res.ok || !res.data) {
    $('#rank-status').textContent = `${t('not_available')} (${res.status}) ${res.data?.error?.message || ''}`;
    return;
  }
  const sm = res.data.summary;
  $('#rank-status').textContent = `${sm.candidates} → ${sm.ranked} ranked, ${sm.excluded} ${t('excluded')} · ${Math.round(performance.now() - t0)} ms`;
  setRank(res.data);
}

// rankedFeatures: the ranked features (status "ranked", rank 1 = best), with
// _rank and _rank_n (0 best … 1 worst) for the map's colour ramp.
function rankedFeatures(fc) {
  const ranked = fc.features.filter((f) => f.geometry && f.properties.status === 'ranked');
  const n = Math.max(1, ranked.length - 1);
  return ranked.map((f, i) => ({ ...f, properties: { ...f.properties, _rank: f.properties.rank, _rank_n: i / n } }));
}

// factorTable: properties.factors [{factor, raw, unit, normalised, weight, contribution}] and total.
function factorTable(props) {
  return el('table', { class: 'factors' },
    el('tr', {}, ...[t('factor'), t('raw'), t('normalised'), t('weight'), t('contribution')].map((h) => el('th', { text: h }))),
    ...props.factors.map((f) => el('tr', {}, el('td', { text: factorLabel(f.factor) }),
      el('td', { text: fmtNum(f.raw, 0) }), el('td', { text: fmtNum(f.normalised, 2) }),
      el('td', { text: fmtNum(f.weight, 2) }), el('td', { text: fmtNum(f.contribution, 3) }))),
    el('tr', {}, el('th', { text: t('total') }), el('td'), el('td'), el('td'), el('th', { text: fmtNum(props.total, 3) })));
}

function renderRank(fc) {
  const feats = rankedFeatures(fc);
  state.map.getSource('rank')?.setData({ type: 'FeatureCollection', features: feats });
  $('#rank-list').replaceChildren(...feats.map((f) => el('li', { onclick: (e) => {
    for (const x of document.querySelectorAll('#rank-list li.sel')) x.classList.remove('sel');
    e.currentTarget.classList.add('sel');
    const c = centroid(f.geometry);
    if (c) { state.map.flyTo({ center: c, zoom: Math.max(state.map.getZoom(), 13) }); showRankPopup(f, c); }
  } }, el('b', { text: `${t('score')} ${fmtNum(f.properties.total, 3)}` }), ' ', f.properties.name || '', factorTable(f.properties))));
}

// showRankPopup opens a ranked site's popup; from the map, MapLibre hands
// the feature's nested properties back as JSON strings.
export function showRankPopup(f, at) {
  const props = typeof f.properties.factors === 'string' ? { ...f.properties, factors: JSON.parse(f.properties.factors) } : f.properties;
  showPopup(at, el('div', { class: 'popup' }, el('h3', { text: `#${props._rank ?? ''} ${props.name || ''}` }), factorTable(props)));
}

function centroid(g) {
  if (g.type === 'Point') return g.coordinates;
  const ring = g.type === 'Polygon' ? g.coordinates[0] : g.type === 'MultiPolygon' ? g.coordinates[0][0] : null;
  if (!ring) return null;
  const n = ring.length - 1 || 1;
  return [ring.slice(0, n).reduce((s, c) => s + c[0], 0) / n, ring.slice(0, n).reduce((s, c) => s + c[1], 0) / n];
}
