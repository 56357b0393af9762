// style.js — how each catalog layer is drawn (MapLibre style layers) and
// its legend. Value colours, line widths and opacities come from the
// catalog document (values[].color/width/opacity); only the layer-wide
// defaults and the non-enum styling (villages, relocation sites) are here.
import { el } from './dom.js';
import { t, layerTitle, valueLabel } from './i18n.js';
import { styleOf, values, hardened } from './catalog.js';

const HAZARD_COLOR = '#d62828';
const VILLAGE_COLOR = '#2b9348', POOR_VILLAGE_COLOR = '#e63946';
const SITE_COLOR = '#7b2cbf';

// Statuses with behaviour of their own on the map: works not yet completed
// are dashed; the legend of pipelines and power lines lists these.
const IN_PROGRESS = ['planned', 'under_construction'];
const COMPLETED = 'completed';

// match is a MapLibre match expression over a property, from a code → output map.
const match = (prop, map, fallback) => {
  const pairs = Object.entries(map).flat();
  return pairs.length ? ['match', ['coalesce', ['get', prop], ''], ...pairs, fallback] : fallback;
};
const by = (layer, field, attr, fallback) => match(field, styleOf(layer, field, attr), fallback);
const zoomWidth = (base, extra = 0) => ['interpolate', ['linear'], ['zoom'], 8, ['+', extra, ['*', base, 0.5]], 12, ['+', extra, base], 15, ['+', extra, ['*', base, 2.2]]];
const isNotCompleted = ['match', ['coalesce', ['get', 'status'], COMPLETED], IN_PROGRESS, true, false];

// styleLayers returns the MapLibre style layers of one catalog layer.
export function styleLayers(name) {
  const src = 'lm-' + name, sl = name;
  const L = (id, def) => ({ id: `${name}--${id}`, source: src, 'source-layer': sl, metadata: { 'lm:layer': name }, ...def });
  switch (name) {
    case 'admin_areas':
      return [
        L('fill', { type: 'fill', filter: ['==', ['get', 'level'], 'county'], paint: { 'fill-color': '#ffffff', 'fill-opacity': 0.35 } }),
        L('line', { type: 'line', paint: {
          'line-color': by(name, 'level', 'color', '#888'),
          'line-width': by(name, 'level', 'width', 1),
          'line-dasharray': [4, 2] } }),
      ];
    case 'hazard_zones':
      return [
        L('fill', { type: 'fill', paint: { 'fill-pattern': 'hatch-red', 'fill-opacity': match('severity', styleOf(name, 'severity', 'opacity'), 0.5) } }),
        L('line', { type: 'line', paint: { 'line-color': HAZARD_COLOR, 'line-width': 1.2 } }),
      ];
    case 'relocation_sites':
      return [
        L('fill', { type: 'fill', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': SITE_COLOR, 'fill-opacity': 0.35, 'fill-outline-color': '#5a189a' } }),
        L('point', { type: 'circle', filter: ['==', ['geometry-type'], 'Point'], paint: {
          'circle-color': SITE_COLOR, 'circle-radius': ['interpolate', ['linear'], ['coalesce', ['get', 'capacity_households'], 50], 0, 4, 500, 10],
          'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5 } }),
      ];
    case 'roads': {
      const width = by(name, 'road_class', 'width', 1.5), color = by(name, 'surface', 'color', '#777');
      return [
        L('casing', { type: 'line', layout: { 'line-cap': 'round', 'line-join': 'round' }, filter: ['!', isNotCompleted], paint: {
          'line-color': '#ffffff', 'line-width': zoomWidth(width, 1.5) } }),
        L('line', { type: 'line', layout: { 'line-cap': 'round', 'line-join': 'round' }, filter: ['!', isNotCompleted], paint: {
          'line-color': color, 'line-width': zoomWidth(width) } }),
        L('planned', { type: 'line', filter: isNotCompleted, paint: {
          'line-color': color, 'line-width': zoomWidth(width), 'line-dasharray': [2, 1.5] } }),
      ];
    }
    case 'water_pipelines':
      return [L('line', { type: 'line', paint: {
        'line-color': by(name, 'status', 'color', '#777'), 'line-width': zoomWidth(1.6), 'line-opacity': 0.9 } })];
    case 'power_upgrades':
      return [
        L('line', { type: 'line', filter: ['!=', ['geometry-type'], 'Point'], paint: {
          'line-color': by(name, 'status', 'color', '#777'), 'line-width': zoomWidth(1.4), 'line-dasharray': [6, 2] } }),
        L('point', { type: 'circle', filter: ['==', ['geometry-type'], 'Point'], paint: {
          'circle-color': by(name, 'kind', 'color', '#777'), 'circle-radius': 4, 'circle-stroke-color': '#6b4226', 'circle-stroke-width': 1 } }),
      ];
    case 'house_renovations': {
      const grade = by(name, 'danger_grade', 'color', '#888');
      return [L('circle', { type: 'circle', paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 1.5, 14, 5],
        'circle-color': ['case', ['==', ['get', 'status'], COMPLETED], grade, '#ffffff'],
        'circle-stroke-color': grade, 'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 10, 0.8, 14, 1.5] } })];
    }
    case 'facilities':
      return [L('circle', { type: 'circle', paint: {
        'circle-radius': 3.5, 'circle-color': by(name, 'kind', 'color', '#555'), 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } })];
    case 'villages': {
      const poor = ['==', ['to-string', ['get', 'is_poor_village']], 'true'];
      return [
        L('circle', { type: 'circle', paint: {
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, ['interpolate', ['linear'], ['coalesce', ['get', 'population'], 500], 0, 1.5, 1000, 3, 3000, 5, 8000, 8],
            13, ['interpolate', ['linear'], ['coalesce', ['get', 'population'], 500], 0, 3, 1000, 6, 3000, 10, 8000, 15]],
          'circle-color': ['case', poor, POOR_VILLAGE_COLOR, VILLAGE_COLOR],
          'circle-opacity': 0.85,
          'circle-stroke-color': ['case', poor, '#6a040f', '#ffffff'],
          'circle-stroke-width': ['case', poor, 1.5, 0.8] } }),
      ];
    }
    default:
      return [
        L('fill', { type: 'fill', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#999', 'fill-opacity': 0.3 } }),
        L('line', { type: 'line', filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#555', 'line-width': 1.5 } }),
        L('point', { type: 'circle', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': '#555', 'circle-radius': 3 } }),
      ];
  }
}

// legendFor returns legend entries [{sym, color, label}] of a layer.
export function legendFor(name) {
  const items = [];
  const add = (sym, color, label) => items.push({ sym, color, label });
  const status = (code) => valueLabel(name, 'status', code);
  switch (name) {
    case 'roads': {
      const hard = new Set(hardened());
      const surfaces = values(name, 'surface');
      // hardened first, then the others, each in the catalog's order (reversed: best first)
      for (const v of [...surfaces].reverse().filter((x) => hard.has(x.code))) add('line', v.color, `${valueLabel(name, 'surface', v.code)} (${t('hardened')})`);
      for (const v of [...surfaces].reverse().filter((x) => !hard.has(x.code))) add('line', v.color, `${valueLabel(name, 'surface', v.code)} (${t('not_hardened')})`);
      add('dash', '#555', IN_PROGRESS.map(status).join(' / '));
      break;
    }
    case 'water_pipelines': case 'power_upgrades': {
      const colors = styleOf(name, 'status', 'color');
      for (const s of [COMPLETED, ...IN_PROGRESS.toReversed()]) add(name === 'power_upgrades' ? 'dash' : 'line', colors[s], status(s));
      break;
    }
    case 'house_renovations': {
      const grades = values(name, 'danger_grade');
      const g = (v) => valueLabel(name, 'danger_grade', v.code);
      for (const v of grades) add('circle', v.color, `${g(v)} ${status(COMPLETED)}`);
      grades.forEach((v, i) => add('ring', v.color, i === 0 ? `${g(v)} ${IN_PROGRESS.map(status).join('/')}` : `${g(v)} …`));
      break;
    }
    case 'villages':
      add('circle', VILLAGE_COLOR, t('village')); add('circle', POOR_VILLAGE_COLOR, t('poor_village')); add('text', '', `○ ∝ ${t('population')}`);
      break;
    case 'hazard_zones': add('hatch', HAZARD_COLOR, layerTitle(name)); break;
    case 'relocation_sites': add('circle', SITE_COLOR, layerTitle(name)); break;
    case 'admin_areas': {
      const colors = styleOf(name, 'level', 'color');
      for (const lv of ['county', 'township']) add('dash', colors[lv], valueLabel(name, 'level', lv));
      break;
    }
    case 'facilities': for (const v of values(name, 'kind')) add('circle', v.color, valueLabel(name, 'kind', v.code)); break;
  }
  return items;
}

export function legendSym(it) {
  if (it.sym === 'text') return null;
  if (it.sym === 'ring') return el('span', { class: 'sym circle', style: `border:2px solid ${it.color};background:#fff` });
  if (it.sym === 'dash') return el('span', { class: 'sym dash', style: `color:${it.color}` });
  if (it.sym === 'hatch') return el('span', { class: 'sym hatch' });
  return el('span', { class: 'sym ' + it.sym, style: `background:${it.color}` });
}

// hatchImage is the red hatching of hazard zones.
export function hatchImage() {
  const s = 16, c = document.createElement('canvas');
  c.width = c.height = s;
  const g = c.getContext('2d');
  g.fillStyle = 'rgba(214,40,40,0.12)'; g.fillRect(0, 0, s, s);
  g.strokeStyle = 'rgba(214,40,40,0.85)'; g.lineWidth = 2;
  g.beginPath();
  for (let o = -s; o <= s; o += 8) { g.moveTo(o, s); g.lineTo(o + s, 0); }
  g.stroke();
  return g.getImageData(0, 0, s, s);
}
