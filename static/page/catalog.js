// catalog.js — reads the catalog document (/app/catalog.json, docs/map.md):
// layers, fields, enum values with labels and map style, the shared
// definitions and the ranking defaults. The page declares none of these.
import { state } from './state.js';

export const layers = () => state.catalog?.layers || [];
export const catLayer = (name) => layers().find((l) => l.name === name);
export const catField = (layerName, field) => catLayer(layerName)?.fields.find((f) => f.name === field);
export const hasField = (layerName, field) => !!catField(layerName, field);

// values returns the enum values of a layer's field ([] if none).
export const values = (layerName, field) => catField(layerName, field)?.values || [];

// value returns one enum value of a layer's field; without a layer, the
// field's value in the first layer declaring it (labels are the same in
// every layer; colours may differ).
export function value(layerName, field, code) {
  if (layerName) return values(layerName, field).find((v) => v.code === code);
  for (const l of layers()) {
    const v = values(l.name, field).find((x) => x.code === code);
    if (v) return v;
  }
  return undefined;
}

// styleOf maps a field's codes to a style attribute (color, width, opacity)
// as the catalog declares it.
export const styleOf = (layerName, field, attr) =>
  Object.fromEntries(values(layerName, field).filter((v) => v[attr] !== undefined).map((v) => [v.code, v[attr]]));

export const hardened = () => state.catalog?.hardened || [];
export const ranking = () => state.catalog?.ranking || { factors: [], weights: {}, constraints: {} };
