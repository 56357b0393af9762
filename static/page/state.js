// state.js — the page's one store (after tegola's ui/src/globals/store.js).
// Other modules read `state` and change it only through the functions
// below: writing a property of `state` directly throws. Each change
// notifies the subscribers of its topic, so a component re-renders itself
// instead of being called from every place that changes what it shows.

const s = {
  lang: localStorage.getItem('lastmile.lang') || ((navigator.language || '').startsWith('zh') ? 'zh' : 'en'),
  config: null, // /app/config.json
  catalog: null, // /app/catalog.json: layers, fields, enum values, definitions, ranking defaults
  tilejson: null, // /tiles/{layers}.json
  available: new Set(), // layers the tile server has
  visible: new Set(), // layers shown
  filters: { status: [], surface: [], yearOn: false, from: 2010, to: 2030 },
  map: null,
  selected: null, // {layer, id, props, geometry, lngLat, etag?, feature?}
  drawing: null, // {base, extend, points, type}
  moving: false,
  editEpoch: 0, // edits saved since the page loaded (tiles then revalidate)
  lastRank: null, // the last ranking response
  dashLoaded: false,
  timings: {}, // performance.now() marks: firstTileLoaded, firstTilesDrawn, idle
  ready: false,
};

export const state = new Proxy(s, {
  set(_, k) { throw new Error(`state.${String(k)} is written through state.js`); },
  deleteProperty(_, k) { throw new Error(`state.${String(k)} is written through state.js`); },
});

const subs = new Map();

// subscribe calls fn after every change of topic: lang, visible, filters, selected, drawing, rank.
export function subscribe(topic, fn) {
  if (!subs.has(topic)) subs.set(topic, []);
  subs.get(topic).push(fn);
}

function emit(topic) {
  for (const fn of subs.get(topic) || []) fn(s);
}

export function setLang(lang) {
  s.lang = lang;
  localStorage.setItem('lastmile.lang', lang);
  emit('lang');
}

// setServer records what the server said before the map is drawn.
export function setServer({ config, catalog }) {
  s.config = config;
  s.catalog = catalog;
}

// setTiles records the tile server's TileJSON and the layers it has.
export function setTiles(tilejson, available) {
  s.tilejson = tilejson;
  s.available = new Set(available);
}

export function setVisible(name, on) {
  const v = new Set(s.visible);
  if (on) v.add(name); else v.delete(name);
  s.visible = v;
  emit('visible');
}

export function setFilters(patch) {
  s.filters = { ...s.filters, ...patch };
  emit('filters');
}

export function setMap(map) { s.map = map; }

// mark records the first time of a timing mark.
export function mark(name, t = performance.now()) {
  if (s.timings[name] === undefined) s.timings[name] = t;
}

export function setReady() { s.ready = true; }

export function select(sel) {
  s.selected = sel;
  emit('selected');
}

// updateSelected changes the selected feature's etag or feature (after a read or a save).
export function updateSelected(patch) {
  if (!s.selected) return;
  s.selected = { ...s.selected, ...patch };
  emit('selected');
}

export function setDrawing(d) {
  s.drawing = d;
  emit('drawing');
}

export function setMoving(on) { s.moving = on; }

export function editSaved() { s.editEpoch++; }

export function setRank(result) {
  s.lastRank = result;
  emit('rank');
}

export function setDashLoaded() { s.dashLoaded = true; }
