// api.js — every request the page makes to lastmile, with the response
// shapes the server really returns (read from its code; docs/*.md):
//   /app/config.json        static.Config {basemap, vendor, setup}
//   /app/catalog.json       layer.Document + ranking defaults (docs/map.md)
//   /tiles/{layers}.json    TileJSON 3 {vector_layers[{id, minzoom, maxzoom}], bounds, center, attribution}
//   /api/stats/*            stats.Result {definition, parameters, columns, groups[], total, uncovered[]}
//   /api/sites/rank         a FeatureCollection {summary, features[{properties: {rank, status, name, total, factors[]}}]}
//   /ogc/.../items/{id}     a GeoJSON Feature, ETag "<version>"
//   /ogc/.../history        {layer, id, versions[{op, version, actor, at, changed[]}]}
//   errors                  {error: {code, message, details[{row, field, value, message}]}}

// request fetches JSON from this server; it resolves to {ok, status, data, headers}.
export async function request(url, opts = {}) {
  let res;
  try {
    res = await fetch(url, opts);
  } catch (err) {
    return { ok: false, status: 0, data: { error: { message: String(err) } }, headers: new Headers() };
  }
  let data = null;
  const ct = res.headers.get('content-type') || '';
  if (res.status !== 204 && ct.includes('json')) {
    try { data = await res.json(); } catch { data = null; }
  }
  return { ok: res.ok, status: res.status, data, headers: res.headers };
}

// errorText is an error response's message and the messages of its details.
export function errorText(res) {
  const e = res.data?.error;
  return `${e?.message || ''} ${(e?.details || []).map((p) => p.message).join('; ')}`.trim();
}

export const config = () => request('/app/config.json');
export const catalog = () => request('/app/catalog.json');
export const tileJSON = (names) => request(`/tiles/${names.join(',')}.json`);

export const tileURL = (name, query) => `${location.origin}/tiles/${name}/{z}/{x}/{y}.mvt${query}`;

// stats asks one statistics endpoint (a URL the dashboard builds, so that
// its CSV links are the same question).
export const stats = (url) => request(url);

export const rank = (body) => request('/api/sites/rank', {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
});

const item = (layer, id) => `/ogc/collections/${layer}/items/${id}`;

export const feature = (layer, id) => request(item(layer, id), { headers: { Accept: 'application/geo+json' } });
export const history = (layer, id) => request(item(layer, id) + '/history');

// patchFeature sends a JSON merge patch with If-Match; 412 means someone else saved first.
export const patchFeature = (layer, id, etag, token, patch) => request(item(layer, id), {
  method: 'PATCH',
  headers: { 'Content-Type': 'application/merge-patch+json', 'If-Match': etag, Authorization: 'Bearer ' + token },
  body: JSON.stringify({ type: 'Feature', ...patch }),
});

// createFeature POSTs a new feature; the response is the created Feature (with its id).
export const createFeature = (layer, token, geometry, properties) => request(`/ogc/collections/${layer}/items`, {
  method: 'POST', headers: { 'Content-Type': 'application/geo+json', Authorization: 'Bearer ' + token },
  body: JSON.stringify({ type: 'Feature', geometry, properties }),
});
