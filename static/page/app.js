// lastmile map page. Everything comes from this server: the catalog
// (/app/catalog.json), the tiles (/tiles/...), the features and their history
// (/ogc/...), the statistics (/api/stats/...) and the ranking (/api/sites/rank).
// Libraries are loaded from /vendor/ (npm packages installed by scripts/setup).

const T0 = performance.now();
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
};

// ---------------------------------------------------------------- i18n

const I18N = {
  en: {
    title: 'lastmile — rural infrastructure', tab_layers: 'Layers', tab_dashboard: 'Dashboard', tab_sites: 'Sites', tab_edit: 'Edit',
    layers: 'Layers', filters: 'Filters', legend: 'Legend', field_status: 'Status', field_surface: 'Road surface',
    completed_years: 'Completed between', as_of: 'As of', distance_km: 'Distance (km)', road_def: 'Roads counted',
    def_graded: 'graded highway', def_hardened: 'hardened', def_all_season: 'all-season',
    coverage: 'Village coverage', uncovered: 'Uncovered villages', rai: 'Rural Access Index (2 km, all-season)',
    km_hardened: 'Road km hardened per year', renovation_progress: 'House renovation progress by township',
    area: 'Area', area_view: 'grid over the current map view', area_planned: 'planned relocation sites', cell_m: 'Grid cell (m)', limit: 'Best',
    constraints: 'Constraints', c_hazard: 'outside hazard zones + buffer (m)', c_road: 'hardened road within (m)',
    c_water: 'water within (m)', c_power: 'power within (m)', weights: 'Weights', run: 'Rank',
    edit_help: 'Paste a token with write scope, then click a village or a road on the map.', token: 'Token',
    villages_covered: (c, t, d) => `${c} of ${t} villages within ${d} km`, not_available: 'not available yet',
    history: 'History', loading: 'loading…', no_history: 'no history', by: 'by', changed: 'changed',
    hardened: 'hardened', not_hardened: 'not hardened', poor_village: 'poor village', village: 'village',
    population: 'population', total: 'total', rank_running: 'ranking…', excluded: 'excluded', score: 'score',
    factor: 'factor', raw: 'raw', normalised: 'norm.', weight: 'weight', contribution: 'contrib.',
    move_village: 'Move this village', move_click: 'Click the new position on the map…', save: 'Save', cancel: 'Cancel',
    saved: 'Saved. Tiles refreshed.', conflict: 'Conflict: someone changed this feature since you opened it (your version %v, now %n). Your change was NOT saved. Reload the feature and apply your change again.',
    need_token: 'Paste a token first.', unauthorized: 'The token was refused (401): check it.', forbidden: 'This token may not edit this layer (403).',
    select_feature: 'Click a village or a road on the map.', reload: 'Reload', no_tiles: 'Vector tiles are not available from this server yet (/tiles).',
    gcj02: 'The basemap uses the GCJ-02 datum (Amap/Gaode); lastmile data are WGS84 and will appear offset by a few hundred metres on it.',
    setup: 'The map libraries are not installed on the server: run scripts/setup (npm ci in static/).',
    first_tiles: 'first tiles drawn in', chart_missing: 'chart library missing — run scripts/setup',
    km: 'km', year: 'year', completed_pct: '% completed', area_view_bbox: 'view',
    extend_road: 'Extend this road', draw_road: 'Draw a new road', draw_help: 'Click points on the map; double-click to finish.',
    finish: 'Finish and save', created: 'Created road #%id. Tiles refreshed.', name: 'Name',
  },
  zh: {
    title: 'lastmile — 农村基础设施一张图', tab_layers: '图层', tab_dashboard: '统计', tab_sites: '选址', tab_edit: '编辑',
    layers: '图层', filters: '筛选', legend: '图例', field_status: '状态', field_surface: '路面类型',
    completed_years: '完工年份', as_of: '截至日期', distance_km: '距离（公里）', road_def: '计入的道路',
    def_graded: '等级公路', def_hardened: '硬化路', def_all_season: '全天候道路',
    coverage: '行政村通达率', uncovered: '未覆盖行政村', rai: '农村可达性指数（2公里，全天候）',
    km_hardened: '每年硬化道路里程（公里）', renovation_progress: '各乡镇危房改造进度',
    area: '范围', area_view: '当前地图范围（网格）', area_planned: '规划中的安置点', cell_m: '网格大小（米）', limit: '前',
    constraints: '约束条件', c_hazard: '避开地灾隐患区 + 缓冲（米）', c_road: '距硬化路不超过（米）',
    c_water: '距水源/管网不超过（米）', c_power: '距电网不超过（米）', weights: '权重', run: '排序',
    edit_help: '粘贴具有写权限的令牌，然后在地图上点击行政村或道路。', token: '令牌',
    villages_covered: (c, t, d) => `${t} 个行政村中 ${c} 个在 ${d} 公里内`, not_available: '暂不可用',
    history: '修改历史', loading: '加载中…', no_history: '无历史记录', by: '修改人', changed: '修改字段',
    hardened: '硬化', not_hardened: '未硬化', poor_village: '贫困村', village: '行政村',
    population: '人口', total: '合计', rank_running: '计算中…', excluded: '排除', score: '得分',
    factor: '因子', raw: '原值', normalised: '归一化', weight: '权重', contribution: '贡献',
    move_village: '移动此行政村', move_click: '请在地图上点击新位置…', save: '保存', cancel: '取消',
    saved: '已保存，瓦片已刷新。', conflict: '冲突：在您打开之后，已有其他人修改了该要素（您的版本 %v，当前版本 %n）。您的修改未保存。请重新加载后再修改。',
    need_token: '请先粘贴令牌。', unauthorized: '令牌无效（401），请检查。', forbidden: '该令牌无权编辑此图层（403）。',
    select_feature: '请在地图上点击行政村或道路。', reload: '重新加载', no_tiles: '服务器暂未提供矢量瓦片（/tiles）。',
    gcj02: '底图使用 GCJ-02 坐标系（高德），lastmile 数据为 WGS84，叠加时会有数百米偏移。',
    setup: '服务器未安装地图库：请运行 scripts/setup（在 static/ 中执行 npm ci）。',
    first_tiles: '首批瓦片绘制用时', chart_missing: '缺少图表库——请运行 scripts/setup',
    km: '公里', year: '年', completed_pct: '完成率 %', area_view_bbox: '视图',
    extend_road: '延长此道路', draw_road: '绘制新道路', draw_help: '在地图上依次点击，双击结束。',
    finish: '完成并保存', created: '已新建道路 #%id，瓦片已刷新。', name: '名称',
  },
};

const ENUM_ZH = {
  planned: '规划', under_construction: '在建', completed: '已完工', cancelled: '已取消',
  earth: '土路', gravel: '砂石', stone: '块石', cement: '水泥', asphalt: '沥青',
  county: '县道', township: '乡道', village: '村道', group: '组道',
  expressway: '高速', class1: '一级', class2: '二级', class3: '三级', class4: '四级', substandard: '等外',
  line: '线路', transformer: '变压器', repair: '修缮加固', rebuild: '拆除重建', C: 'C级', D: 'D级',
  province: '省', prefecture: '市', landslide: '滑坡', debris_flow: '泥石流', flood: '洪涝', subsidence: '地面塌陷',
  low: '低', medium: '中', high: '高', school: '学校', clinic: '卫生室', hospital: '医院', market: '集市',
  bus_stop: '公交站', water_source: '水源地', true: '是', false: '否',
  insert: '新增', update: '修改', delete: '删除', create: '新增',
};
// Values whose label depends on the field (admin level "county" is not the road class "county").
const FIELD_ENUM = {
  level: { zh: { province: '省', prefecture: '市', county: '县', township: '乡镇', village: '村' }, en: {} },
};
const tvf = (field, v) => FIELD_ENUM[field]?.[state.lang]?.[String(v)] ?? tv(v);
const ENUM_EN = { under_construction: 'under construction', debris_flow: 'debris flow', bus_stop: 'bus stop', water_source: 'water source', class1: 'class 1', class2: 'class 2', class3: 'class 3', class4: 'class 4', C: 'grade C', D: 'grade D', true: 'yes', false: 'no' };

const state = {
  lang: 'en',
  catalog: null, config: null, tilejson: null, available: new Set(),
  visible: new Set(), filters: { status: [], surface: [], yearOn: false, from: 2010, to: 2030 },
  editEpoch: 0, selected: null, charts: {}, echarts: null, timings: {},
};
state.lang = localStorage.getItem('lastmile.lang') || ((navigator.language || '').startsWith('zh') ? 'zh' : 'en');
const t = (k) => (I18N[state.lang][k] ?? I18N.en[k] ?? k);
const tv = (v) => {
  const s = String(v);
  return state.lang === 'zh' ? (ENUM_ZH[s] ?? s) : (ENUM_EN[s] ?? s.replaceAll('_', ' '));
};
const layerTitle = (name) => {
  const l = catLayer(name);
  return l ? (state.lang === 'zh' ? l.title_zh : l.title) : name;
};
const fieldLabel = (layerName, f) => {
  const fd = catLayer(layerName)?.fields.find((x) => x.name === f);
  if (!fd) return f;
  return state.lang === 'zh' ? fd.label_zh : fd.label;
};
const catLayer = (name) => state.catalog?.layers.find((l) => l.name === name);
const fmtNum = (n, d = 0) => (n === null || n === undefined || Number.isNaN(+n)) ? '–' : (+n).toLocaleString(state.lang === 'zh' ? 'zh-CN' : 'en-US', { maximumFractionDigits: d, minimumFractionDigits: 0 });

function notice(msg, kind = '') {
  const n = el('div', { class: 'notice ' + kind, text: msg });
  $('#notices').append(n);
  return n;
}

// ---------------------------------------------------------------- fetch helpers

// api fetches JSON from this server; it resolves to {ok, status, data, headers}.
async function api(url, opts = {}) {
  let res;
  try {
    res = await fetch(url, opts);
  } catch (err) {
    return { ok: false, status: 0, data: { error: { message: String(err) } } };
  }
  let data = null;
  const ct = res.headers.get('content-type') || '';
  if (res.status !== 204 && (ct.includes('json'))) {
    try { data = await res.json(); } catch { data = null; }
  }
  return { ok: res.ok, status: res.status, data, headers: res.headers };
}

// ---------------------------------------------------------------- styles

const SURFACE_COLORS = { asphalt: '#1d3557', cement: '#2a6fdb', stone: '#5e8fc9', gravel: '#d4891c', earth: '#9c5a2c' };
const STATUS_COLORS = { completed: '#0a9396', under_construction: '#ee9b00', planned: '#9b5de5', cancelled: '#999999' };
const ROAD_WIDTH = { county: 4, township: 3, village: 2, group: 1.2 };
const HAZARD_COLOR = '#d62828';
const FACILITY_COLORS = { school: '#3a86ff', clinic: '#ef233c', hospital: '#d90429', market: '#8338ec', bus_stop: '#fb8500', water_source: '#00b4d8' };

const match = (prop, map, fallback) => ['match', ['coalesce', ['get', prop], ''], ...Object.entries(map).flat(), fallback];
const zoomWidth = (base, extra = 0) => ['interpolate', ['linear'], ['zoom'], 8, ['+', extra, ['*', base, 0.5]], 12, ['+', extra, base], 15, ['+', extra, ['*', base, 2.2]]];
const isNotCompleted = ['match', ['coalesce', ['get', 'status'], 'completed'], ['planned', 'under_construction'], true, false];

// styleLayers returns the MapLibre style layers of one catalog layer.
function styleLayers(name) {
  const src = 'lm-' + name, sl = name;
  const L = (id, def) => ({ id: `${name}--${id}`, source: src, 'source-layer': sl, metadata: { 'lm:layer': name }, ...def });
  switch (name) {
    case 'admin_areas':
      return [
        L('fill', { type: 'fill', filter: ['==', ['get', 'level'], 'county'], paint: { 'fill-color': '#ffffff', 'fill-opacity': 0.35 } }),
        L('line', { type: 'line', paint: {
          'line-color': match('level', { county: '#3d405b', township: '#6d6875', village: '#b5a8b5' }, '#888'),
          'line-width': match('level', { county: 2.2, township: 1.4, village: 0.6 }, 1),
          'line-dasharray': [4, 2] } }),
      ];
    case 'hazard_zones':
      return [
        L('fill', { type: 'fill', paint: { 'fill-pattern': 'hatch-red', 'fill-opacity': ['match', ['get', 'severity'], 'high', 0.9, 'medium', 0.7, 0.5] } }),
        L('line', { type: 'line', paint: { 'line-color': HAZARD_COLOR, 'line-width': 1.2 } }),
      ];
    case 'relocation_sites':
      return [
        L('fill', { type: 'fill', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#7b2cbf', 'fill-opacity': 0.35, 'fill-outline-color': '#5a189a' } }),
        L('point', { type: 'circle', filter: ['==', ['geometry-type'], 'Point'], paint: {
          'circle-color': '#7b2cbf', 'circle-radius': ['interpolate', ['linear'], ['coalesce', ['get', 'capacity_households'], 50], 0, 4, 500, 10],
          'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5 } }),
      ];
    case 'roads':
      return [
        L('casing', { type: 'line', layout: { 'line-cap': 'round', 'line-join': 'round' }, filter: ['!', isNotCompleted], paint: {
          'line-color': '#ffffff', 'line-width': zoomWidth(match('road_class', ROAD_WIDTH, 1.5), 1.5) } }),
        L('line', { type: 'line', layout: { 'line-cap': 'round', 'line-join': 'round' }, filter: ['!', isNotCompleted], paint: {
          'line-color': match('surface', SURFACE_COLORS, '#777'), 'line-width': zoomWidth(match('road_class', ROAD_WIDTH, 1.5)) } }),
        L('planned', { type: 'line', filter: isNotCompleted, paint: {
          'line-color': match('surface', SURFACE_COLORS, '#777'), 'line-width': zoomWidth(match('road_class', ROAD_WIDTH, 1.5)), 'line-dasharray': [2, 1.5] } }),
      ];
    case 'water_pipelines':
      return [L('line', { type: 'line', paint: {
        'line-color': match('status', STATUS_COLORS, '#0a9396'), 'line-width': zoomWidth(1.6), 'line-opacity': 0.9 } })];
    case 'power_upgrades':
      return [
        L('line', { type: 'line', filter: ['!=', ['geometry-type'], 'Point'], paint: {
          'line-color': match('status', { completed: '#f4a261', under_construction: '#e9c46a', planned: '#bdb2ff' }, '#f4a261'), 'line-width': zoomWidth(1.4), 'line-dasharray': [6, 2] } }),
        L('point', { type: 'circle', filter: ['==', ['geometry-type'], 'Point'], paint: {
          'circle-color': '#f4a261', 'circle-radius': 4, 'circle-stroke-color': '#6b4226', 'circle-stroke-width': 1 } }),
      ];
    case 'house_renovations':
      return [L('circle', { type: 'circle', paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 1.5, 14, 5],
        'circle-color': ['case', ['==', ['get', 'status'], 'completed'], match('danger_grade', { C: '#f77f00', D: '#b5179e' }, '#888'), '#ffffff'],
        'circle-stroke-color': match('danger_grade', { C: '#f77f00', D: '#b5179e' }, '#888'), 'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 10, 0.8, 14, 1.5] } })];
    case 'facilities':
      return [L('circle', { type: 'circle', paint: {
        'circle-radius': 3.5, 'circle-color': match('kind', FACILITY_COLORS, '#555'), 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } })];
    case 'villages':
      return [
        L('circle', { type: 'circle', paint: {
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, ['interpolate', ['linear'], ['coalesce', ['get', 'population'], 500], 0, 1.5, 1000, 3, 3000, 5, 8000, 8],
            13, ['interpolate', ['linear'], ['coalesce', ['get', 'population'], 500], 0, 3, 1000, 6, 3000, 10, 8000, 15]],
          'circle-color': ['case', ['==', ['to-string', ['get', 'is_poor_village']], 'true'], '#e63946', '#2b9348'],
          'circle-opacity': 0.85,
          'circle-stroke-color': ['case', ['==', ['to-string', ['get', 'is_poor_village']], 'true'], '#6a040f', '#ffffff'],
          'circle-stroke-width': ['case', ['==', ['to-string', ['get', 'is_poor_village']], 'true'], 1.5, 0.8] } }),
      ];
    default: {
      return [
        L('fill', { type: 'fill', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#999', 'fill-opacity': 0.3 } }),
        L('line', { type: 'line', filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#555', 'line-width': 1.5 } }),
        L('point', { type: 'circle', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': '#555', 'circle-radius': 3 } }),
      ];
    }
  }
}

// Drawing order, bottom to top; layers not listed go before villages.
const ORDER = ['admin_areas', 'hazard_zones', 'relocation_sites', 'water_pipelines', 'power_upgrades', 'roads', 'house_renovations', 'facilities', 'villages'];
const DEFAULT_ON = new Set(['admin_areas', 'hazard_zones', 'relocation_sites', 'roads', 'water_pipelines', 'house_renovations', 'villages']);
// Click priority: points first, then lines, then areas.
const CLICK_ORDER = ['villages', 'facilities', 'house_renovations', 'power_upgrades', 'relocation_sites', 'roads', 'water_pipelines', 'hazard_zones', 'admin_areas'];

// legendFor returns legend entries [{sym, color, label}] of a layer.
function legendFor(name) {
  const items = [];
  const add = (sym, color, label) => items.push({ sym, color, label });
  switch (name) {
    case 'roads':
      for (const s of ['asphalt', 'cement', 'stone']) add('line', SURFACE_COLORS[s], `${tv(s)} (${t('hardened')})`);
      for (const s of ['gravel', 'earth']) add('line', SURFACE_COLORS[s], `${tv(s)} (${t('not_hardened')})`);
      add('dash', '#555', `${tv('planned')} / ${tv('under_construction')}`);
      break;
    case 'water_pipelines': case 'power_upgrades':
      for (const s of ['completed', 'under_construction', 'planned']) add(name === 'power_upgrades' ? 'dash' : 'line', name === 'power_upgrades' ? { completed: '#f4a261', under_construction: '#e9c46a', planned: '#bdb2ff' }[s] : STATUS_COLORS[s], tv(s));
      break;
    case 'house_renovations':
      add('circle', '#f77f00', `${tv('C')} ${tv('completed')}`); add('circle', '#b5179e', `${tv('D')} ${tv('completed')}`);
      add('ring', '#f77f00', `${tv('C')} ${tv('planned')}/${tv('under_construction')}`); add('ring', '#b5179e', `${tv('D')} …`);
      break;
    case 'villages':
      add('circle', '#2b9348', t('village')); add('circle', '#e63946', t('poor_village')); add('text', '', `○ ∝ ${t('population')}`);
      break;
    case 'hazard_zones': add('hatch', HAZARD_COLOR, layerTitle(name)); break;
    case 'relocation_sites': add('circle', '#7b2cbf', layerTitle(name)); break;
    case 'admin_areas': add('dash', '#3d405b', tvf('level', 'county')); add('dash', '#6d6875', tvf('level', 'township')); break;
    case 'facilities': for (const [k, c] of Object.entries(FACILITY_COLORS)) add('circle', c, tv(k)); break;
  }
  return items;
}

function legendSym(it) {
  if (it.sym === 'text') return null;
  if (it.sym === 'ring') return el('span', { class: 'sym circle', style: `border:2px solid ${it.color};background:#fff` });
  if (it.sym === 'dash') return el('span', { class: 'sym dash', style: `color:${it.color}` });
  if (it.sym === 'hatch') return el('span', { class: 'sym hatch' });
  return el('span', { class: 'sym ' + it.sym, style: `background:${it.color}` });
}

function renderLegend() {
  const box = $('#legend');
  box.replaceChildren();
  for (const name of ORDER.filter((n) => state.visible.has(n))) {
    const items = legendFor(name);
    box.append(el('div', { class: 'lg-layer' }, el('div', { class: 'lg-title', text: layerTitle(name) }),
      ...items.map((it) => el('span', { class: 'lg-item' }, legendSym(it), it.label))));
  }
}

// ---------------------------------------------------------------- tile URLs and filters

// tileQuery returns the filter query string that applies to a layer: status
// where the layer has a status field, surface for roads, completion years
// where the layer carries completed_on.
function tileQuery(name) {
  const l = catLayer(name);
  if (!l) return '';
  const has = (f) => l.fields.some((x) => x.name === f);
  const q = new URLSearchParams();
  const f = state.filters;
  if (f.status.length && has('status') && !l.reference) q.set('status', f.status.join(','));
  if (f.surface.length && has('surface')) q.set('surface', f.surface.join(','));
  if (f.yearOn && has('completed_on') && !l.reference) {
    q.set('completed_after', `${f.from}-01-01`);
    q.set('completed_before', `${f.to + 1}-01-01`);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

function tileURL(name) {
  return `${location.origin}/tiles/${name}/{z}/{x}/{y}.mvt${tileQuery(name)}`;
}

// refreshTiles points the layers' sources at their current tile URLs. Filter
// changes come in bursts (sliders, several checkboxes): they are applied once,
// and only to the sources whose URL changed. force reloads the given layers
// even when their URL is the same (after an edit).
function refreshTiles(names, { force = false } = {}) {
  state.pendingTiles ??= new Set();
  for (const n of names) state.pendingTiles.add(n);
  if (force) state.forceTiles = new Set([...(state.forceTiles || []), ...names]);
  clearTimeout(state.tileTimer);
  state.tileTimer = setTimeout(() => {
    const forced = state.forceTiles || new Set();
    for (const name of state.pendingTiles) {
      const src = state.map?.getSource('lm-' + name);
      const url = tileURL(name);
      if (!src?.setTiles || (src.tiles?.[0] === url && !forced.has(name))) continue;
      src.setTiles([url]);
    }
    state.pendingTiles.clear();
    state.forceTiles = null;
  }, 120);
}

// ---------------------------------------------------------------- boot

let maplibregl;

async function boot() {
  applyI18n();
  $('#lang').addEventListener('click', () => {
    state.lang = state.lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('lastmile.lang', state.lang);
    applyI18n(); renderLayerList(); renderLegend(); renderFilters(); renderWeights();
    if (state.dashLoaded) loadDashboard();
    if (state.lastRank) renderRank(state.lastRank);
    if (state.selected) renderEditBox();
  });
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));

  // The library loads while the page asks the server what it has.
  const libP = import('/vendor/maplibre-gl/maplibre-gl.mjs').then((m) => m, (err) => ({ loadError: err }));
  const [cfg, cat] = await Promise.all([api('/app/config.json'), api('/app/catalog.json')]);
  state.config = cfg.data || { vendor: {} };
  state.catalog = cat.data || { layers: [] };
  if (!state.config.vendor?.maplibre) {
    $('#map').append(el('div', { class: 'setup' }, el('p', { text: state.config.setup || t('setup') })));
    notice(t('setup'), 'error');
    window.lastmile = { state, error: 'setup' };
    return;
  }
  // Which layers the tile server has: its TileJSON for every catalog layer.
  const names = state.catalog.layers.map((l) => l.name);
  const [lib, tj] = await Promise.all([libP, api(`/tiles/${names.join(',')}.json`)]);
  if (lib.loadError) {
    notice(t('setup'), 'error');
    window.lastmile = { state, error: String(lib.loadError) };
    return;
  }
  maplibregl = lib;
  if (tj.ok && tj.data) {
    state.tilejson = tj.data;
    for (const v of tj.data.vector_layers || []) state.available.add(v.id);
    if (!state.available.size) names.forEach((n) => state.available.add(n));
  } else {
    notice(t('no_tiles'));
  }
  for (const n of names) if (DEFAULT_ON.has(n)) state.visible.add(n);

  buildMap();
  renderLayerList(); renderFilters(); renderLegend(); renderWeights();
  setupDashboardForm(); setupRank(); setupEdit();
  if (state.config.basemap?.gcj02) notice(t('gcj02'));
}

function showTab(name) {
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.classList.toggle('active', s.id === 'tab-' + name);
  if (name === 'dashboard' && !state.dashLoaded) loadDashboard();
  setTimeout(() => Object.values(state.charts).forEach((c) => c.resize()), 0);
}

function applyI18n() {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
  $('#lang').textContent = state.lang === 'zh' ? 'EN' : '中文';
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  document.title = t('title');
}

function hatchImage() {
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

function buildMap() {
  const tj = state.tilejson;
  const style = { version: 8, sources: {}, layers: [
    { id: 'background', type: 'background', paint: { 'background-color': '#f4f1ea' } },
  ] };
  const bm = state.config.basemap;
  if (bm?.url) {
    style.sources.basemap = { type: 'raster', tiles: [bm.url], tileSize: 256, attribution: bm.attribution || '' };
    style.layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  }
  const byName = Object.fromEntries((tj?.vector_layers || []).map((v) => [v.id, v]));
  const ordered = [...ORDER.filter((n) => catLayer(n)), ...state.catalog.layers.map((l) => l.name).filter((n) => !ORDER.includes(n))];
  for (const name of ordered) {
    if (!state.available.has(name)) continue;
    const cl = catLayer(name), vl = byName[name] || {};
    style.sources['lm-' + name] = {
      type: 'vector', tiles: [tileURL(name)],
      minzoom: vl.minzoom ?? cl.minzoom ?? 0, maxzoom: Math.min(vl.maxzoom ?? cl.maxzoom ?? 14, 14),
      attribution: name === 'roads' ? (tj?.attribution || 'lastmile') : undefined,
    };
    for (const sl of styleLayers(name)) {
      sl.layout = { ...(sl.layout || {}), visibility: state.visible.has(name) ? 'visible' : 'none' };
      style.layers.push(sl);
    }
  }
  // Over a basemap, the county's white wash would hide it.
  if (bm?.url) for (const l of style.layers) if (l.id === 'admin_areas--fill') l.paint['fill-opacity'] = 0.05;
  style.sources.highlight = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } };
  style.sources.rank = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } };
  style.layers.push(
    { id: 'rank-fill', type: 'fill', source: 'rank', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': ['interpolate', ['linear'], ['get', '_rank_n'], 0, '#1a9850', 1, '#fee08b'], 'fill-opacity': 0.6, 'fill-outline-color': '#333' } },
    { id: 'rank-point', type: 'circle', source: 'rank', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': ['interpolate', ['linear'], ['get', '_rank_n'], 0, '#1a9850', 1, '#fee08b'], 'circle-radius': 7, 'circle-stroke-color': '#222', 'circle-stroke-width': 1.5 } },
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
  state.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.addImage('hatch-red', hatchImage());
  map.on('styleimagemissing', (e) => {
    if (e.id === 'hatch-red' && !map.hasImage('hatch-red')) map.addImage('hatch-red', hatchImage());
  });
  map.on('load', () => { if (!map.hasImage('hatch-red')) map.addImage('hatch-red', hatchImage()); });
  map.on('error', (e) => {
    // Tile errors are shown once as a notice rather than spamming the console.
    const msg = e?.error?.message || String(e?.error || e);
    if (!state.mapErrorShown) { state.mapErrorShown = true; notice('map: ' + msg, 'error'); }
  });
  map.on('data', (e) => {
    if (e.dataType === 'source' && e.tile && state.timings.firstTileLoaded === undefined) state.timings.firstTileLoaded = performance.now();
  });
  map.on('render', () => {
    if (state.timings.firstTileLoaded !== undefined && state.timings.firstTilesDrawn === undefined) {
      state.timings.firstTilesDrawn = performance.now();
    }
  });
  map.once('idle', () => {
    state.timings.idle = performance.now();
    state.ready = true;
    document.body.dataset.ready = '1';
    const ms = Math.round(state.timings.firstTilesDrawn ?? state.timings.idle);
    console.info(`lastmile: ${t('first_tiles')} ${ms} ms`);
  });
  map.on('click', onMapClick);
  map.on('mousemove', (e) => {
    const f = map.queryRenderedFeatures(e.point, { layers: interactiveLayers() });
    map.getCanvas().style.cursor = (f.length || state.moving) ? 'pointer' : '';
  });
  window.lastmile = { map, state, T0, tileURL, refreshTiles, setLayerVisible, loadDashboard };
}

function interactiveLayers() {
  const ids = state.map.getStyle().layers.filter((l) => l.metadata?.['lm:layer'] && l.id.indexOf('--casing') < 0).map((l) => l.id);
  return [...ids, 'rank-fill', 'rank-point'];
}

function setLayerVisible(name, on) {
  if (on) state.visible.add(name); else state.visible.delete(name);
  const map = state.map;
  if (map) for (const l of map.getStyle().layers) {
    if (l.metadata?.['lm:layer'] === name) map.setLayoutProperty(l.id, 'visibility', on ? 'visible' : 'none');
  }
  renderLegend();
}

function renderLayerList() {
  const ul = $('#layer-list');
  ul.replaceChildren();
  for (const l of state.catalog.layers) {
    const avail = state.available.has(l.name);
    const first = legendFor(l.name)[0];
    ul.append(el('li', { class: avail ? '' : 'unavailable' },
      el('input', { type: 'checkbox', id: 'lay-' + l.name, 'data-layer': l.name, checked: state.visible.has(l.name) && avail, disabled: !avail,
        onchange: (e) => setLayerVisible(l.name, e.target.checked) }),
      first ? el('span', { class: 'swatch', style: first.sym === 'hatch' ? 'background:repeating-linear-gradient(45deg,#d62828 0 2px,#fbe3e3 2px 5px)' : `background:${first.color}` }) : null,
      el('label', { for: 'lay-' + l.name, text: layerTitle(l.name) + (avail ? '' : ` (${t('not_available')})`) })));
  }
}

function renderFilters() {
  const f = state.filters;
  const checks = (box, values, key) => {
    box.replaceChildren(...values.map((v) => el('label', {},
      el('input', { type: 'checkbox', value: v, checked: f[key].includes(v), 'data-filter': key, onchange: (e) => {
        f[key] = [...box.querySelectorAll('input:checked')].map((x) => x.value);
        refreshTiles(state.catalog.layers.map((l) => l.name));
      } }), ' ' + tv(v))));
  };
  const roads = catLayer('roads');
  checks($('#f-status'), roads?.fields.find((x) => x.name === 'status')?.enum || ['planned', 'under_construction', 'completed', 'cancelled'], 'status');
  checks($('#f-surface'), roads?.fields.find((x) => x.name === 'surface')?.enum || ['earth', 'gravel', 'stone', 'cement', 'asphalt'], 'surface');
  if (!state.yearsWired) {
    state.yearsWired = true;
    const from = $('#f-year-from'), to = $('#f-year-to'), on = $('#f-year-on');
    const y = new Date().getFullYear();
    from.max = to.max = String(y); to.value = String(y); f.to = y;
    const upd = () => {
      let a = +from.value, b = +to.value;
      if (a > b) [a, b] = [b, a];
      f.from = a; f.to = b; f.yearOn = on.checked;
      $('#f-year-from-v').textContent = from.value; $('#f-year-to-v').textContent = to.value;
    };
    const apply = () => { upd(); refreshTiles(state.catalog.layers.map((l) => l.name)); };
    from.addEventListener('input', upd); to.addEventListener('input', upd);
    from.addEventListener('change', apply); to.addEventListener('change', apply); on.addEventListener('change', apply);
    upd();
  }
}

// ---------------------------------------------------------------- popups

function fmtValue(layerName, field, v) {
  if (v === null || v === undefined || v === '') return '–';
  const fd = catLayer(layerName)?.fields.find((x) => x.name === field);
  if (fd?.type === 'enum' || fd?.type === 'boolean' || typeof v === 'boolean') return tvf(field, v);
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
  if (props.props && typeof props.props === 'object') for (const [k, v] of Object.entries(props.props)) rows.push(el('tr', {}, el('td', { text: k }), el('td', { text: typeof v === 'object' ? JSON.stringify(v) : String(v) })));
  return el('table', {}, ...rows);
}

function historyList(layerName, data) {
  const items = Array.isArray(data) ? data : (data?.history || data?.versions || data?.items || []);
  if (!items.length) return el('div', { class: 'sub', text: t('no_history') });
  return el('ul', {}, ...items.map((h) => {
    const when = h.at || h.time || h.changed_at || '';
    const changed = Array.isArray(h.changed) ? h.changed.map((f) => fieldLabel(layerName, f)).join(', ')
      : (h.changed && typeof h.changed === 'object') ? Object.keys(h.changed).map((f) => fieldLabel(layerName, f)).join(', ') : '';
    return el('li', {}, el('b', { text: `v${h.version ?? '?'} ${tv(h.op || '')}` }), ` ${String(when).replace('T', ' ').slice(0, 19)} · ${t('by')} ${h.actor || '?'}`,
      changed ? el('div', { class: 'sub', text: `${t('changed')}: ${changed}` }) : null);
  }));
}

async function onMapClick(e) {
  const map = state.map;
  if (state.moving) { finishMove(e.lngLat); return; }
  if (state.drawing) { addDrawPoint(e.lngLat); return; }
  const pad = 4;
  const feats = map.queryRenderedFeatures([[e.point.x - pad, e.point.y - pad], [e.point.x + pad, e.point.y + pad]], { layers: interactiveLayers() });
  if (!feats.length) return;
  const rank = feats.find((f) => f.source === 'rank');
  if (rank) { showRankPopup(rank, e.lngLat); return; }
  feats.sort((a, b) => CLICK_ORDER.indexOf(a.layer.metadata['lm:layer']) - CLICK_ORDER.indexOf(b.layer.metadata['lm:layer']));
  const f = feats[0], name = f.layer.metadata['lm:layer'];
  const title = f.properties.name || `${layerTitle(name)} #${f.id ?? ''}`;
  const body = el('div', { class: 'popup', 'data-layer': name, 'data-id': f.id ?? '' },
    el('h3', { text: title }), el('div', { class: 'sub', text: layerTitle(name) }),
    el('div', { class: 'attrs' }, attrTable(name, f.properties)),
    el('h4', { text: t('history') }), el('div', { class: 'hist', text: t('loading') }));
  state.popup?.remove();
  state.popup = new maplibregl.Popup({ maxWidth: '360px' }).setLngLat(e.lngLat).setDOMContent(body).addTo(map);
  state.selected = { layer: name, id: f.id, props: f.properties, geometry: f.geometry, lngLat: e.lngLat };
  setHighlight(f.geometry);
  if (document.querySelector('#tab-edit.active')) renderEditBox();
  if (f.id === undefined || f.id === null) { body.querySelector('.hist').textContent = ''; return; }
  const base = `/ogc/collections/${name}/items/${f.id}`;
  const [item, hist] = await Promise.all([api(base, { headers: { Accept: 'application/geo+json' } }), api(base + '/history')]);
  if (item.ok && item.data?.properties) {
    body.querySelector('.attrs').replaceChildren(attrTable(name, item.data.properties));
    if (item.data.properties.name) body.querySelector('h3').textContent = item.data.properties.name;
    if (state.selected?.id === f.id) {
      state.selected.etag = item.headers.get('ETag');
      state.selected.feature = item.data;
      if (document.querySelector('#tab-edit.active')) renderEditBox();
    }
  }
  body.querySelector('.hist').replaceChildren(hist.ok ? historyList(name, hist.data) : el('span', { class: 'sub', text: `${t('not_available')} (${hist.status})` }));
}

function setHighlight(geometry) {
  const src = state.map.getSource('highlight');
  src?.setData({ type: 'FeatureCollection', features: geometry ? [{ type: 'Feature', geometry, properties: {} }] : [] });
}

// ---------------------------------------------------------------- dashboard

function dashParams() {
  const asof = $('#d-asof').value;
  const km = Math.max(0.01, +$('#d-km').value || 1);
  return { asof, within_m: Math.round(km * 1000), km, def: $('#d-def').value };
}

function setupDashboardForm() {
  for (const d of document.querySelectorAll('.def')) d.addEventListener('click', () => d.classList.toggle('open'));
  for (const id of ['#d-asof', '#d-km', '#d-def']) $(id).addEventListener('change', () => loadDashboard());
}

// coverageURL is the coverage question the dashboard asks (the browser test
// asks the API the same one).
function coverageURL(p, extra = {}) {
  const q = new URLSearchParams({ target: 'villages', source: 'roads', within_m: String(p.within_m), source_filter: p.def, group_by: 'township', list: 'uncovered', ...extra });
  if (p.asof) q.set('as_of', p.asof);
  return '/api/stats/coverage?' + q;
}

const pick = (o, ...keys) => { for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k]; return undefined; };

async function loadDashboard() {
  state.dashLoaded = true;
  const p = dashParams();
  const asof = p.asof ? { as_of: p.asof } : {};
  const covURL = coverageURL(p);
  const raiURL = '/api/stats/rai?' + new URLSearchParams({ within_m: '2000', ...asof });
  const kmURL = '/api/stats/lengths?' + new URLSearchParams({ layer: 'roads', group_by: 'year,surface', status: 'completed', ...asof });
  const progURL = '/api/stats/progress?' + new URLSearchParams({ layer: 'house_renovations', group_by: 'township', ...asof });
  const csv = (u) => u + '&format=csv';
  $('#cov-csv').href = csv(covURL.replace('&list=uncovered', ''));
  $('#cov-unc-csv').href = csv(covURL); $('#rai-csv').href = csv(raiURL); $('#km-csv').href = csv(kmURL); $('#prog-csv').href = csv(progURL);
  const seq = state.dashSeq = (state.dashSeq || 0) + 1;
  $('#card-coverage').dataset.state = 'loading';
  $('#cov-detail').textContent = t('loading');
  const [cov, rai, km, prog] = await Promise.all([api(covURL), api(raiURL), api(kmURL), api(progURL)]);
  if (seq !== state.dashSeq) return; // a newer question was asked meanwhile
  renderCoverage(cov, p, covURL);
  renderRAI(rai);
  loadECharts().then(() => { renderKm(km); renderProgress(prog); });
}

function renderCoverage(res, p, url) {
  const box = $('#card-coverage');
  box.dataset.url = url;
  if (!res.ok || !res.data) {
    $('#cov-pct').textContent = '–';
    $('#cov-detail').textContent = `${t('not_available')} (${res.status}) ${res.data?.error?.message || ''}`;
    box.dataset.state = 'unavailable';
    return;
  }
  const tot = res.data.total || {};
  const covered = pick(tot, 'covered'), total = pick(tot, 'total', 'targets'), pct = pick(tot, 'pct', 'percent');
  $('#cov-pct').textContent = `${fmtNum(pct, 1)} %`;
  $('#cov-pct').dataset.pct = pct; $('#cov-pct').dataset.covered = covered; $('#cov-pct').dataset.total = total;
  $('#cov-detail').textContent = t('villages_covered')(fmtNum(covered), fmtNum(total), p.km);
  $('#cov-def').textContent = typeof res.data.definition === 'string' ? res.data.definition : (res.data.definition?.description || res.data.definition?.text || '');
  box.dataset.state = 'ok';
  const unc = res.data.uncovered || [];
  $('#cov-unc-n').textContent = String(unc.length);
  $('#cov-uncovered').replaceChildren(...unc.map((v) => el('li', { 'data-id': v.id ?? '', onclick: (e) => highlightVillage(v, e.currentTarget) },
    `${v.name || v.code || v.id}`, el('span', { class: 'sub', text: v.distance_m !== undefined && v.distance_m !== null ? ` ${fmtNum(v.distance_m / 1000, 2)} ${t('km')}` : '' }))));
}

async function highlightVillage(v, li) {
  for (const x of document.querySelectorAll('#cov-uncovered li.sel')) x.classList.remove('sel');
  li?.classList.add('sel');
  let geom = v.geometry;
  if (!geom && typeof v.lon === 'number') geom = { type: 'Point', coordinates: [v.lon, v.lat] };
  if (!geom && Array.isArray(v.coordinates)) geom = { type: 'Point', coordinates: v.coordinates };
  if (!geom && v.id !== undefined) {
    const r = await api(`/ogc/collections/villages/items/${v.id}`);
    geom = r.data?.geometry;
  }
  if (!geom) return;
  setHighlight(geom);
  const c = geom.type === 'Point' ? geom.coordinates : null;
  if (c) state.map.flyTo({ center: c, zoom: Math.max(state.map.getZoom(), 13) });
}

function renderRAI(res) {
  if (!res.ok || !res.data) { $('#rai-val').textContent = '–'; $('#rai-def').textContent = `${t('not_available')} (${res.status})`; return; }
  const d = res.data;
  const v = pick(d.total || {}, 'rai', 'population_pct', 'pct') ?? pick(d, 'rai', 'value');
  $('#rai-val').textContent = `${fmtNum(v, 1)} %`;
  $('#rai-val').dataset.value = v;
  $('#rai-def').textContent = typeof d.definition === 'string' ? d.definition : (d.definition?.description || '');
}

async function loadECharts() {
  if (state.echarts) return state.echarts;
  if (!state.config.vendor?.echarts) return null;
  try { state.echarts = await import('/vendor/echarts/echarts.esm.min.mjs'); } catch { state.echarts = null; }
  return state.echarts;
}

function chart(id, option, empty) {
  const box = $(id);
  if (!state.echarts) { box.textContent = t('chart_missing'); return; }
  if (empty) { state.charts[id]?.dispose(); delete state.charts[id]; box.textContent = empty; return; }
  if (!state.charts[id]) { box.textContent = ''; state.charts[id] = state.echarts.init(box, null, { renderer: 'canvas' }); }
  state.charts[id].setOption({ animation: false, ...option }, true);
}

const groupsOf = (d) => (Array.isArray(d) ? d : (d?.groups || d?.rows || []));
const keyOf = (g, k) => pick(g, k) ?? pick(g.key || g.keys || {}, k);

function renderKm(res) {
  if (!res.ok) { chart('#chart-km', null, `${t('not_available')} (${res.status})`); return; }
  const hard = new Set(state.catalog.hardened || ['cement', 'asphalt', 'stone']);
  const per = {};
  for (const g of groupsOf(res.data)) {
    const y = keyOf(g, 'year'), s = keyOf(g, 'surface');
    if (!y || !hard.has(s)) continue;
    const km = +(pick(g, 'km', 'length_km') ?? (pick(g, 'length_m') ?? 0) / 1000);
    per[y] ??= {}; per[y][s] = (per[y][s] || 0) + km;
  }
  const years = Object.keys(per).sort();
  const surfaces = [...hard];
  chart('#chart-km', {
    tooltip: { trigger: 'axis' }, legend: { bottom: 0, data: surfaces.map(tv) }, grid: { left: 40, right: 8, top: 10, bottom: 45 },
    xAxis: { type: 'category', data: years }, yAxis: { type: 'value', name: t('km') },
    series: surfaces.map((s) => ({ name: tv(s), type: 'bar', stack: 'km', itemStyle: { color: SURFACE_COLORS[s] }, data: years.map((y) => +(per[y][s] || 0).toFixed(2)) })),
  }, years.length ? null : '–');
}

function renderProgress(res) {
  if (!res.ok) { chart('#chart-progress', null, `${t('not_available')} (${res.status})`); return; }
  const rows = groupsOf(res.data).map((g) => {
    const done = +(pick(g, 'completed') ?? 0);
    const total = +(pick(g, 'total', 'count') ?? (done + +(pick(g, 'planned') ?? 0) + +(pick(g, 'under_construction') ?? 0)));
    const pct = pick(g, 'pct', 'percent') ?? (total ? 100 * done / total : 0);
    return { name: pick(g, 'township_name', 'county_name', 'name') || keyOf(g, 'township') || pick(g, 'code') || '?', done, total, pct: +pct };
  });
  chart('#chart-progress', {
    tooltip: { trigger: 'axis', formatter: (ps) => { const r = rows[ps[0].dataIndex]; return `${r.name}<br>${r.done} / ${r.total} (${r.pct.toFixed(1)} %)`; } },
    grid: { left: 80, right: 20, top: 5, bottom: 20 },
    xAxis: { type: 'value', max: 100, name: '%' }, yAxis: { type: 'category', data: rows.map((r) => r.name), axisLabel: { fontSize: 10 } },
    series: [{ type: 'bar', data: rows.map((r) => +r.pct.toFixed(1)), itemStyle: { color: '#0a9396' }, label: { show: true, position: 'right', fontSize: 9, formatter: (x) => `${rows[x.dataIndex].done}/${rows[x.dataIndex].total}` } }],
  }, rows.length ? null : '–');
  $('#chart-progress').style.height = Math.max(200, rows.length * 18 + 30) + 'px';
  state.charts['#chart-progress']?.resize();
}

// ---------------------------------------------------------------- site ranking

const FACTORS = ['road', 'water', 'power', 'school', 'clinic', 'population'];
const DEFAULT_WEIGHTS = { road: 0.3, water: 0.25, power: 0.15, school: 0.1, clinic: 0.1, population: 0.1 };
const FACTOR_LABEL = {
  en: { road: 'hardened road', water: 'water', power: 'power grid', school: 'school', clinic: 'clinic', population: 'population served' },
  zh: { road: '硬化路', water: '供水', power: '电网', school: '学校', clinic: '卫生室', population: '服务人口' },
};
const factorLabel = (f) => FACTOR_LABEL[state.lang][f] || FACTOR_LABEL.en[f] || f.replaceAll('_', ' ');

function renderWeights() {
  const box = $('#r-weights');
  const prev = Object.fromEntries([...box.querySelectorAll('input')].map((i) => [i.dataset.factor, i.value]));
  box.replaceChildren(...FACTORS.map((f) => el('label', {}, el('span', { text: factorLabel(f) }),
    el('input', { type: 'range', min: '0', max: '1', step: '0.05', value: prev[f] ?? String(DEFAULT_WEIGHTS[f]), 'data-factor': f, oninput: (e) => { e.target.nextSibling.textContent = e.target.value; } }),
    el('output', { text: prev[f] ?? String(DEFAULT_WEIGHTS[f]) }))));
}

function setupRank() {
  $('#rank-form').addEventListener('submit', (e) => { e.preventDefault(); runRank(); });
}

// rankRequest is the POST /api/sites/rank body (stats.RankRequest).
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
  const res = await api('/api/sites/rank', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(rankRequest()) });
  if (!res.ok || !res.data) {
    $('#rank-status').textContent = `${t('not_available')} (${res.status}) ${res.data?.error?.message || ''}`;
    return;
  }
  const sm = res.data.summary || {};
  $('#rank-status').textContent = `${sm.candidates ?? '?'} → ${sm.ranked ?? '?'} ranked, ${sm.excluded ?? 0} ${t('excluded')} · ${Math.round(performance.now() - t0)} ms`;
  state.lastRank = res.data;
  renderRank(res.data);
}

function rankedFeatures(fc) {
  const feats = (fc.features || []).filter((f) => f.geometry);
  const included = feats.filter((f) => !f.properties?.excluded && f.properties?.status !== 'excluded');
  const n = Math.max(1, included.length - 1);
  return included.map((f, i) => ({ ...f, properties: { ...f.properties, _rank: f.properties?.rank ?? i + 1, _rank_n: i / n } }));
}

function factorTable(props) {
  let factors = props.factors || props.breakdown || [];
  if (!Array.isArray(factors)) factors = Object.entries(factors).map(([name, v]) => ({ name, ...(typeof v === 'object' ? v : { contribution: v }) }));
  return el('table', { class: 'factors' },
    el('tr', {}, ...[t('factor'), t('raw'), t('normalised'), t('weight'), t('contribution')].map((h) => el('th', { text: h }))),
    ...factors.map((f) => el('tr', {}, el('td', { text: factorLabel(f.name || f.factor || '') }),
      el('td', { text: fmtNum(pick(f, 'raw', 'distance_m', 'value'), 0) }), el('td', { text: fmtNum(pick(f, 'normalised', 'normalized', 'norm'), 2) }),
      el('td', { text: fmtNum(f.weight, 2) }), el('td', { text: fmtNum(pick(f, 'contribution', 'score'), 3) }))),
    el('tr', {}, el('th', { text: t('total') }), el('td'), el('td'), el('td'), el('th', { text: fmtNum(pick(props, 'score', 'total'), 3) })));
}

function renderRank(fc) {
  const feats = rankedFeatures(fc);
  state.map.getSource('rank')?.setData({ type: 'FeatureCollection', features: feats });
  $('#rank-list').replaceChildren(...feats.map((f) => el('li', { onclick: (e) => {
    for (const x of document.querySelectorAll('#rank-list li.sel')) x.classList.remove('sel');
    e.currentTarget.classList.add('sel');
    const c = centroid(f.geometry);
    if (c) { state.map.flyTo({ center: c, zoom: Math.max(state.map.getZoom(), 13) }); showRankPopup(f, c); }
  } }, el('b', { text: `${t('score')} ${fmtNum(pick(f.properties, 'score', 'total'), 3)}` }), ' ', f.properties.name || '', factorTable(f.properties))));
}

function showRankPopup(f, at) {
  const props = typeof f.properties.factors === 'string' ? { ...f.properties, factors: JSON.parse(f.properties.factors) } : f.properties;
  state.popup?.remove();
  state.popup = new maplibregl.Popup({ maxWidth: '360px' }).setLngLat(at)
    .setDOMContent(el('div', { class: 'popup' }, el('h3', { text: `#${props._rank ?? props.rank ?? ''} ${props.name || ''}` }), factorTable(props))).addTo(state.map);
}

function centroid(g) {
  if (!g) return null;
  if (g.type === 'Point') return g.coordinates;
  const ring = g.type === 'Polygon' ? g.coordinates[0] : g.type === 'MultiPolygon' ? g.coordinates[0][0] : null;
  if (!ring) return null;
  const n = ring.length - 1 || 1;
  return [ring.slice(0, n).reduce((s, c) => s + c[0], 0) / n, ring.slice(0, n).reduce((s, c) => s + c[1], 0) / n];
}

// ---------------------------------------------------------------- editing

function setupEdit() {
  const tok = $('#e-token');
  tok.value = sessionStorage.getItem('lastmile.token') || '';
  $('#token-form').addEventListener('submit', (e) => e.preventDefault());
  tok.addEventListener('change', () => sessionStorage.setItem('lastmile.token', tok.value.trim()));
  document.querySelector('#tabs [data-tab=edit]').addEventListener('click', renderEditBox);
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
    box.replaceChildren(head, el('button', { type: 'button', text: t('move_village'), onclick: () => { state.moving = true; editMsg(t('move_click')); } }), el('hr'), draw);
    return;
  }
  const sel = (field) => {
    const fd = catLayer('roads').fields.find((f) => f.name === field);
    return el('label', {}, fieldLabel('roads', field), el('select', { id: 'e-' + field }, ...fd.enum.map((v) => el('option', { value: v, selected: p[field] === v, text: tv(v) }))));
  };
  box.replaceChildren(head, sel('status'), sel('surface'),
    el('button', { type: 'button', id: 'e-save', text: t('save'), onclick: () => saveEdit({ properties: { status: $('#e-status').value, surface: $('#e-surface').value } }) }),
    el('button', { type: 'button', text: t('extend_road'), onclick: () => startDrawing(s) }), el('hr'), draw);
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
  state.drawing = { base, extend: !!sel, points: [], type: sel ? sel.feature.geometry.type : 'LineString' };
  state.map.doubleClickZoom.disable();
  state.map.once('dblclick', finishDrawing);
  editMsg(t('draw_help'));
  renderEditBox();
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
  state.drawing.points.push([+lngLat.lng.toFixed(7), +lngLat.lat.toFixed(7)]);
  const line = drawnLine();
  setHighlight(line.length > 1 ? { type: 'LineString', coordinates: line } : { type: 'Point', coordinates: line[0] });
}

function cancelDrawing() {
  state.drawing = null;
  state.map.doubleClickZoom.enable();
  setHighlight(null);
  editMsg('');
  renderEditBox();
}

async function finishDrawing() {
  const d = state.drawing;
  if (!d) return;
  const line = drawnLine();
  state.drawing = null;
  setTimeout(() => state.map.doubleClickZoom.enable(), 0);
  if (line.length < 2 || !d.points.length) { cancelDrawing(); return; }
  if (d.extend) {
    const s = state.selected;
    const geometry = s.feature.geometry.type === 'LineString' ? { type: 'LineString', coordinates: line }
      : { type: 'MultiLineString', coordinates: [...s.feature.geometry.coordinates.slice(0, -1), line] };
    await saveEdit({ geometry });
    renderEditBox();
    return;
  }
  const token = ($('#e-token').value || '').trim();
  if (!token) { editMsg(t('need_token'), 'error'); renderEditBox(); return; }
  const res = await api('/ogc/collections/roads/items', {
    method: 'POST', headers: { 'Content-Type': 'application/geo+json', Authorization: 'Bearer ' + token },
    body: JSON.stringify({ type: 'Feature', geometry: { type: 'LineString', coordinates: line },
      properties: { status: 'planned', road_class: 'village', surface: 'cement', name: `${tv('planned')} ${new Date().toISOString().slice(0, 10)}` } }),
  });
  if (!res.ok) {
    const e = res.data?.error;
    editMsg(`${res.status} ${e?.message || ''} ${(e?.details || []).map((x) => typeof x === 'string' ? x : (x.message || JSON.stringify(x))).join('; ')}`, 'error');
    renderEditBox();
    return;
  }
  const id = res.data?.id ?? (res.headers.get('Location') || '').split('/').pop();
  state.editEpoch++;
  refreshTiles(['roads'], { force: true });
  editMsg(t('created').replace('%id', id), 'ok');
  renderEditBox();
}

async function finishMove(lngLat) {
  state.moving = false;
  const coords = [+lngLat.lng.toFixed(7), +lngLat.lat.toFixed(7)];
  setHighlight({ type: 'Point', coordinates: coords });
  const ok = await saveEdit({ geometry: { type: 'Point', coordinates: coords } });
  // Not saved: show the village where it really is.
  if (!ok) setHighlight(state.selected?.feature?.geometry || state.selected?.geometry);
}

async function saveEdit(patch) {
  const s = state.selected;
  const token = ($('#e-token').value || '').trim();
  if (!token) { editMsg(t('need_token'), 'error'); return false; }
  if (!s.etag) {
    const r = await api(`/ogc/collections/${s.layer}/items/${s.id}`);
    if (!r.ok) { editMsg(`${r.status} ${r.data?.error?.message || ''}`, 'error'); return false; }
    s.etag = r.headers.get('ETag'); s.feature = r.data;
  }
  const res = await api(`/ogc/collections/${s.layer}/items/${s.id}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/merge-patch+json', 'If-Match': s.etag, Authorization: 'Bearer ' + token },
    body: JSON.stringify({ type: 'Feature', ...patch }),
  });
  if (res.status === 412) {
    const now = await api(`/ogc/collections/${s.layer}/items/${s.id}`);
    const nv = now.headers?.get('ETag') || now.data?.properties?.version || '?';
    editMsg(t('conflict').replace('%v', String(s.etag).replaceAll('"', '')).replace('%n', String(nv).replaceAll('"', '')) +
      (res.data?.error?.message ? ` (${res.data.error.message})` : ''), 'error');
    $('#edit-msg').dataset.status = '412';
    if (now.ok) { s.feature = now.data; s.etag = now.headers.get('ETag'); renderEditBox(); }
    return false;
  }
  if (res.status === 401) { editMsg(t('unauthorized'), 'error'); return false; }
  if (res.status === 403) { editMsg(t('forbidden'), 'error'); return false; }
  if (!res.ok) {
    const d = res.data?.error;
    editMsg(`${res.status} ${d?.message || ''} ${(d?.details || []).map((x) => typeof x === 'string' ? x : (x.message || JSON.stringify(x))).join('; ')}`, 'error');
    return false;
  }
  s.etag = res.headers.get('ETag') || s.etag;
  if (res.data?.properties) s.feature = res.data; else s.etag = null;
  state.editEpoch++;
  refreshTiles([s.layer], { force: true });
  editMsg(t('saved'), 'ok');
  renderEditBox();
  return true;
}

boot().catch((err) => {
  notice('lastmile: ' + (err?.message || err), 'error');
  console.error(err);
});
