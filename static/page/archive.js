// archive.js — the map page without a lastmile server: it draws a PMTiles
// archive (written by `lastmile export tiles`) opened by URL (?pmtiles=URL,
// read with HTTP Range requests: any static server, object storage or CDN
// that answers them) or as a local file (the file input; read by slices of
// the File), through the pmtiles package's MapLibre protocol. The archive's
// metadata carries the server's style document of its layers
// (lastmile_style); an archive made elsewhere gets a plain style from its
// vector_layers. Libraries are loaded relative to this module (../vendor/),
// so the page works from any static copy that keeps app/ beside vendor/.
import { $, el, notice } from './dom.js';

const vendor = (p) => new URL('../vendor/' + p, import.meta.url).href;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error('cannot load ' + src));
    document.head.append(s);
  });
}

let libs = null;

// libraries loads MapLibre (module) and pmtiles (its IIFE build, global
// pmtiles) once, and registers the pmtiles:// protocol.
async function libraries() {
  if (libs) return libs;
  const [m] = await Promise.all([import(vendor('maplibre-gl/maplibre-gl.mjs')),
    window.pmtiles ? null : loadScript(vendor('pmtiles/pmtiles.js'))]);
  const maplibregl = m.Map ? m : m.default;
  const protocol = new window.pmtiles.Protocol();
  maplibregl.addProtocol('pmtiles', protocol.tile);
  libs = { maplibregl, protocol, pmtiles: window.pmtiles };
  return libs;
}

// plainStyle draws every vector layer of an archive not made by lastmile.
function plainStyle(meta) {
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#f4f1ea' } }];
  for (const vl of meta.vector_layers || []) {
    const base = { source: 'lastmile', 'source-layer': vl.id, metadata: { 'lm:layer': vl.id } };
    layers.push(
      { ...base, id: vl.id + '--fill', type: 'fill', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#8c8c8c', 'fill-opacity': 0.3 } },
      { ...base, id: vl.id + '--line', type: 'line', filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#4d4d4d', 'line-width': 1.5 } },
      { ...base, id: vl.id + '--point', type: 'circle', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': '#4d4d4d', 'circle-radius': 3 } });
  }
  return { version: 8, sources: {}, layers };
}

// openArchive draws the archive at url (a string) or in file (a File),
// replacing the map the page has. It resolves to the map.
export async function openArchive(src) {
  const { maplibregl, protocol, pmtiles } = await libraries();
  const archive = new pmtiles.PMTiles(typeof src === 'string' ? new URL(src, location.href).href : new pmtiles.FileSource(src));
  protocol.add(archive);
  const [header, meta] = await Promise.all([archive.getHeader(), archive.getMetadata()]);
  const key = archive.source.getKey();
  const style = structuredClone(meta?.lastmile_style || plainStyle(meta || {}));
  style.sources = { ...(style.sources || {}), lastmile: { type: 'vector', url: 'pmtiles://' + key, attribution: meta?.attribution || '' } };
  const test = new URLSearchParams(location.search).has('e2e');
  const opts = {
    container: 'map', style, attributionControl: { compact: true }, maxZoom: 18, dragRotate: false, pitchWithRotate: false,
    bounds: [header.minLon, header.minLat, header.maxLon, header.maxLat], fitBoundsOptions: { padding: 20 },
  };
  if (test) opts.canvasContextAttributes = { preserveDrawingBuffer: true, antialias: false };
  window.lastmile?.map?.remove();
  $('#map').replaceChildren();
  const map = new maplibregl.Map(opts);
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.on('error', (e) => notice('map: ' + (e?.error?.message || String(e?.error || e)), 'error'));
  window.lastmile = { map, archive: { key, header, metadata: meta, source: meta?.lastmile } };
  map.once('idle', () => { document.body.dataset.ready = '1'; });
  archiveMode(meta || {}, map, style);
  return map;
}

// archiveMode leaves the panel what an archive can answer: its layers
// (shown or hidden) and the opener; statistics, ranking and editing need
// the server.
function archiveMode(meta, map, style) {
  document.body.classList.add('archive');
  for (const b of document.querySelectorAll('#tabs button')) b.hidden = b.dataset.tab !== 'layers';
  $('#filters').hidden = true;
  const list = $('#layer-list');
  list.replaceChildren();
  const names = [...new Set(style.layers.map((l) => l.metadata?.['lm:layer']).filter(Boolean))];
  for (const name of names) {
    const vl = (meta.vector_layers || []).find((v) => v.id === name);
    const box = el('input', { type: 'checkbox', checked: true });
    box.checked = true;
    box.addEventListener('change', () => {
      for (const l of style.layers) {
        if (l.metadata?.['lm:layer'] === name) map.setLayoutProperty(l.id, 'visibility', box.checked ? 'visible' : 'none');
      }
    });
    list.append(el('li', {}, el('label', {}, box, ' ' + (vl?.description || name))));
  }
  const src = meta.lastmile;
  $('#archive-info').textContent = [meta.name, src?.generated ? 'data of ' + src.generated : ''].filter(Boolean).join(' — ');
}

// setupArchiveOpener wires the file input and the URL field.
export function setupArchiveOpener() {
  $('#pmtiles-file')?.addEventListener('change', (e) => {
    const f = e.target.files?.[0];
    if (f) openArchive(f).catch((err) => notice('PMTiles: ' + (err?.message || err), 'error'));
  });
  $('#pmtiles-form')?.addEventListener('submit', (e) => {
    e.preventDefault();
    const u = $('#pmtiles-url').value.trim();
    if (!u) return;
    const q = new URLSearchParams(location.search);
    q.set('pmtiles', u);
    history.replaceState(null, '', '?' + q);
    openArchive(u).catch((err) => notice('PMTiles: ' + (err?.message || err), 'error'));
  });
}
