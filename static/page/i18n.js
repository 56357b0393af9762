// i18n.js — the page's own strings in English and Chinese, and the labels
// of catalog things (layer titles, field labels, enum values), which come
// from the catalog document in the current language.
import { $ } from './dom.js';
import { state } from './state.js';
import { catLayer, catField, value } from './catalog.js';

const I18N = {
  en: {
    title: 'lastmile — rural infrastructure', tab_layers: 'Layers', tab_dashboard: 'Dashboard', tab_sites: 'Sites', tab_edit: 'Edit',
    layers: 'Layers', filters: 'Filters', legend: 'Legend', field_status: 'Status', field_surface: 'Road surface',
    completed_years: 'Completed between', as_of: 'As of', distance_km: 'Distance (km)', road_def: 'Roads counted',
    def_graded: 'graded highway', def_hardened: 'hardened', def_all_season: 'all-season',
    method: 'Measured', method_straight: 'in a straight line', method_network: 'along the roads',
    metric: 'By', metric_distance: 'distance', metric_time: 'travel time', within_min: 'Time (minutes)',
    villages_covered_time: (c, t, m) => `${c} of ${t} villages within ${m} minutes by road`,
    minutes: 'min',
    coverage: 'Village coverage', report: 'Printable report', uncovered: 'Uncovered villages', rai: 'Rural Access Index (2 km, all-season)',
    km_hardened: 'Road km hardened per year', renovation_progress: 'House renovation progress by township',
    area: 'Area', area_view: 'grid over the current map view', area_planned: 'planned relocation sites', cell_m: 'Grid cell (m)', limit: 'Best',
    constraints: 'Constraints', c_hazard: 'outside hazard zones + buffer (m)', c_road: 'hardened road within (m)',
    c_water: 'water within (m)', c_power: 'power within (m)', weights: 'Weights', run: 'Rank',
    edit_help: 'Paste a token with write scope, then click a village or a road on the map.', token: 'Token',
    network_quality: 'Road network', unconnected: 'Villages not connected to a counted road',
    dangling: 'Dangling ends near another road, drawn on the map', dangling_item: (gap, road, near) => `${gap} m gap: road ${road} ends near road ${near}`,
    network_detail: (n, pct, km, dangling, unc) => `${n} connected parts; the largest holds ${pct} % of ${km} km; ${dangling} dangling ends near another road (likely gaps); ${unc} villages whose nearest road does not reach a counted road`,
    villages_covered: (c, t, d) => `${c} of ${t} villages within ${d} km`, not_available: 'not available yet',
    history: 'History', loading: 'loading…', no_history: 'no history', by: 'by', changed: 'changed',
    hardened: 'hardened', not_hardened: 'not hardened', poor_village: 'poor village', village: 'village',
    population: 'population', total: 'total', rank_running: 'ranking…', excluded: 'excluded', score: 'score',
    factor: 'factor', raw: 'raw', normalised: 'norm.', weight: 'weight', contribution: 'contrib.',
    move_village: 'Move this village', move_click: 'Click the new position on the map…', save: 'Save', cancel: 'Cancel',
    saved: 'Saved. Tiles refreshed.', conflict: 'Conflict: someone changed this feature since you opened it (your version %v, now %n). Your change was NOT saved. Reload the feature and apply your change again.',
    need_token: 'Paste a token first.', unauthorized: 'The token was refused (401): check it.', forbidden: 'This token may not edit this layer (403).',
    select_feature: 'Click a village or a road on the map.', overview_note: 'A summary of this zoom (features collected per county and class), not one feature: zoom in to see, open or edit each.', reload: 'Reload', no_tiles: 'Vector tiles are not available from this server yet (/tiles).',
    open_archive: 'Open a PMTiles archive', archive_help: 'Draw a tile archive made by lastmile export tiles, from a file or a URL, without the server.',
    no_server: 'No lastmile server answers here: open a PMTiles archive (file or URL).',
    gcj02: 'The basemap uses the GCJ-02 datum (Amap/Gaode); lastmile data are WGS84 and will appear offset by a few hundred metres on it.',
    setup: 'The map libraries are not installed on the server: run scripts/setup (npm ci in static/).',
    first_tiles: 'first tiles drawn in', chart_missing: 'chart library missing — run scripts/setup',
    km: 'km', year: 'year', completed_pct: '% completed', area_view_bbox: 'view',
    extend_road: 'Extend this road', draw_road: 'Draw a new road', draw_help: 'Click points on the map; double-click to finish.',
    finish: 'Finish and save', created: 'Created road #%id. Tiles refreshed.', name: 'Name',
    yes: 'yes', no: 'no', op_insert: 'insert', op_update: 'update', op_delete: 'delete', op_create: 'create',
    factor_road: 'hardened road', factor_water: 'water', factor_power: 'power grid', factor_population: 'population served',
  },
  zh: {
    title: 'lastmile — 农村基础设施一张图', tab_layers: '图层', tab_dashboard: '统计', tab_sites: '选址', tab_edit: '编辑',
    layers: '图层', filters: '筛选', legend: '图例', field_status: '状态', field_surface: '路面类型',
    completed_years: '完工年份', as_of: '截至日期', distance_km: '距离（公里）', road_def: '计入的道路',
    def_graded: '等级公路', def_hardened: '硬化路', def_all_season: '全天候道路',
    method: '量算方式', method_straight: '直线距离', method_network: '沿路网',
    metric: '按', metric_distance: '距离', metric_time: '行程时间', within_min: '时间（分钟）',
    villages_covered_time: (c, t, m) => `${t} 个行政村中 ${c} 个在 ${m} 分钟车程内`,
    minutes: '分钟',
    coverage: '行政村通达率', report: '打印报告', uncovered: '未覆盖行政村', rai: '农村可达性指数（2公里，全天候）',
    km_hardened: '每年硬化道路里程（公里）', renovation_progress: '各乡镇危房改造进度',
    area: '范围', area_view: '当前地图范围（网格）', area_planned: '规划中的安置点', cell_m: '网格大小（米）', limit: '前',
    constraints: '约束条件', c_hazard: '避开地灾隐患区 + 缓冲（米）', c_road: '距硬化路不超过（米）',
    c_water: '距水源/管网不超过（米）', c_power: '距电网不超过（米）', weights: '权重', run: '排序',
    edit_help: '粘贴具有写权限的令牌，然后在地图上点击行政村或道路。', token: '令牌',
    network_quality: '路网连通性', unconnected: '未连通到所计道路的行政村',
    dangling: '靠近其他道路的悬挂端点（在地图上标出）', dangling_item: (gap, road, near) => `道路 ${road} 的端点距道路 ${near} ${gap} 米`,
    network_detail: (n, pct, km, dangling, unc) => `路网分为 ${n} 个连通部分；最大部分占 ${km} 公里中的 ${pct} %；${dangling} 个悬挂端点靠近其他道路（可能是数字化缺口）；${unc} 个行政村的最近道路不连通到所计道路`,
    villages_covered: (c, t, d) => `${t} 个行政村中 ${c} 个在 ${d} 公里内`, not_available: '暂不可用',
    history: '修改历史', loading: '加载中…', no_history: '无历史记录', by: '修改人', changed: '修改字段',
    hardened: '硬化', not_hardened: '未硬化', poor_village: '贫困村', village: '行政村',
    population: '人口', total: '合计', rank_running: '计算中…', excluded: '排除', score: '得分',
    factor: '因子', raw: '原值', normalised: '归一化', weight: '权重', contribution: '贡献',
    move_village: '移动此行政村', move_click: '请在地图上点击新位置…', save: '保存', cancel: '取消',
    saved: '已保存，瓦片已刷新。', conflict: '冲突：在您打开之后，已有其他人修改了该要素（您的版本 %v，当前版本 %n）。您的修改未保存。请重新加载后再修改。',
    need_token: '请先粘贴令牌。', unauthorized: '令牌无效（401），请检查。', forbidden: '该令牌无权编辑此图层（403）。',
    select_feature: '请在地图上点击行政村或道路。', overview_note: '本级缩放的汇总（按县和等级合并的要素），不是单个要素：放大后可查看、打开或编辑每个要素。', reload: '重新加载', no_tiles: '服务器暂未提供矢量瓦片（/tiles）。',
    open_archive: '打开 PMTiles 瓦片包', archive_help: '无需服务器，从文件或网址显示 lastmile export tiles 导出的瓦片包。',
    no_server: '此处没有 lastmile 服务器：请打开 PMTiles 瓦片包（文件或网址）。',
    gcj02: '底图使用 GCJ-02 坐标系（高德），lastmile 数据为 WGS84，叠加时会有数百米偏移。',
    setup: '服务器未安装地图库：请运行 scripts/setup（在 static/ 中执行 npm ci）。',
    first_tiles: '首批瓦片绘制用时', chart_missing: '缺少图表库——请运行 scripts/setup',
    km: '公里', year: '年', completed_pct: '完成率 %', area_view_bbox: '视图',
    extend_road: '延长此道路', draw_road: '绘制新道路', draw_help: '在地图上依次点击，双击结束。',
    finish: '完成并保存', created: '已新建道路 #%id，瓦片已刷新。', name: '名称',
    yes: '是', no: '否', op_insert: '新增', op_update: '修改', op_delete: '删除', op_create: '新增',
    factor_road: '硬化路', factor_water: '供水', factor_power: '电网', factor_population: '服务人口',
  },
};

export const t = (k) => (I18N[state.lang][k] ?? I18N.en[k] ?? k);

// valueLabel is the label of a field's value: an enum value's catalog label,
// yes/no for booleans, the value itself otherwise.
export function valueLabel(layerName, field, v) {
  if (typeof v === 'boolean' || v === 'true' || v === 'false') return t(String(v) === 'true' ? 'yes' : 'no');
  const s = String(v);
  const d = value(layerName, field, s) ?? value(null, field, s);
  if (d) return state.lang === 'zh' ? d.label_zh : d.label;
  return state.lang === 'zh' ? s : s.replaceAll('_', ' ');
}

// opLabel is the label of a history entry's op (insert, update, delete).
export const opLabel = (op) => (op ? t('op_' + op) : '');

// factorLabel is a ranking factor's label; the distance-to-facility factors
// (school, clinic) are labelled as the facility kind they measure.
export function factorLabel(f) {
  const own = I18N[state.lang]['factor_' + f] ?? I18N.en['factor_' + f];
  if (own) return own;
  return value('facilities', 'kind', f) ? valueLabel('facilities', 'kind', f) : f.replaceAll('_', ' ');
}

export const layerTitle = (name) => {
  const l = catLayer(name);
  return l ? (state.lang === 'zh' ? l.title_zh : l.title) : name;
};

export const fieldLabel = (layerName, f) => {
  const fd = catField(layerName, f);
  if (!fd) return f;
  return state.lang === 'zh' ? fd.label_zh : fd.label;
};

export const fmtNum = (n, d = 0) => (n === null || n === undefined || Number.isNaN(+n)) ? '–'
  : (+n).toLocaleString(state.lang === 'zh' ? 'zh-CN' : 'en-US', { maximumFractionDigits: d, minimumFractionDigits: 0 });

// applyI18n sets every [data-i18n] element's text, the title and the language button.
export function applyI18n() {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
  $('#lang').textContent = state.lang === 'zh' ? 'EN' : '中文';
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  document.title = t('title');
}
