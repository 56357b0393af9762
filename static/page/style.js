// style.js — the legend of each layer and the hazard hatching. How layers
// are drawn is the server's MapLibre style document
// (/tiles/{layers}/style.json, built from the catalog by tiles/style.go),
// which the map loads; value colours come from the catalog document.
import { el } from './dom.js';
import { state } from './state.js';
import { t, layerTitle, valueLabel } from './i18n.js';
import { styleOf, values, hardened } from './catalog.js';

// Layer-wide colours come from the style document's metadata (the server
// declares them once, in tiles/style.go).
const colors = () => state.style?.metadata?.['lm:colors'] || {};
const IN_PROGRESS = ['planned', 'under_construction'];
const COMPLETED = 'completed';

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
      add('circle', colors().village, t('village')); add('circle', colors().poor_village, t('poor_village')); add('text', '', `○ ∝ ${t('population')}`);
      break;
    case 'hazard_zones': add('hatch', colors().hazard, layerTitle(name)); break;
    case 'relocation_sites': add('circle', colors().site, layerTitle(name)); break;
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
