// kiln's web page: a MapLibre GL map of the imported region with a switcher
// between every raster style the server has and the vector rendering of
// the styles that have a style.json. The position is kept in the URL hash
// as #zoom/lat/lon (MapLibre's hash option). Beside the map, the
// thumbnail panel (kiln-thumbs.js).
import * as maplibregl from './vendor/maplibre-gl/maplibre-gl.mjs';
import { ThumbPanel } from './kiln-thumbs.js';

const osm = '<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a>';

function showError(text) {
  const div = document.createElement('div');
  div.className = 'kiln-error';
  div.textContent = text;
  document.body.appendChild(div);
}

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
  return r.json();
}

// rasterStyle is a MapLibre style showing one of kiln's raster tile sets,
// @2x tiles on high-density screens (drawn at double resolution).
function rasterStyle(s) {
  const hidpi = window.devicePixelRatio > 1;
  const tiles = s.tiles.map((u) => hidpi ? u.replace(/\{y\}\.(\w+)$/, '{y}@2x.$1') : u);
  return {
    version: 8,
    sources: {
      [s.id]: {
        type: 'raster', tiles, tileSize: 256, minzoom: s.minzoom, maxzoom: s.maxzoom,
        // The OSM credit is on the map at all times; other credits come with the style.
        attribution: /OpenStreetMap/.test(s.attribution || '') ? '' : (s.attribution || ''),
      },
    },
    layers: [{ id: s.id, type: 'raster', source: s.id }],
  };
}

// StyleSwitcher is a map control listing the choices as radio buttons.
class StyleSwitcher {
  constructor(choices, current, onPick) {
    this.choices = choices;
    this.current = current;
    this.onPick = onPick;
  }

  onAdd() {
    const form = document.createElement('form');
    form.className = 'maplibregl-ctrl maplibregl-ctrl-group kiln-styles';
    form.setAttribute('aria-label', 'map style');
    for (const c of this.choices) {
      const label = document.createElement('label');
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'style';
      input.value = c.key;
      input.checked = c.key === this.current;
      input.addEventListener('change', () => this.onPick(c));
      label.append(input, ' ' + c.label);
      form.append(label);
    }
    this.form = form;
    return form;
  }

  onRemove() { this.form.remove(); }
}

async function main() {
  let map = null;
  // The map gives room to the panel on wide screens.
  const thumbs = new ThumbPanel({ onLayout: () => map && map.resize() });
  let styles, data = null;
  try {
    styles = await getJSON('/styles.json');
  } catch (e) {
    showError('Could not load the styles: ' + e.message);
    thumbs.start();
    return;
  }
  try { data = await getJSON('/data/osm.json'); } catch { /* no map data: raster styles only */ }

  const choices = [];
  for (const s of styles) choices.push({ key: s.id, label: s.id, style: () => rasterStyle(s), s });
  for (const s of styles) {
    if (s.style) choices.push({ key: s.id + ':vector', label: s.id + ' (vector)', style: () => s.style, s });
  }
  if (choices.length === 0) { showError('This kiln serves no styles.'); thumbs.start(); return; }
  // The style comes from the link (?style=), else from the last visit.
  const asked = new URLSearchParams(location.search).get('style');
  const saved = localStorage.getItem('kiln.style');
  const first = choices.find((c) => c.key === asked) || choices.find((c) => c.key === saved) ||
    choices.find((c) => c.key === 'default') || choices[0];

  const permalink = /^#\d/.test(location.hash); // the map writes a hash of its own at once
  map = new maplibregl.Map({
    container: 'map',
    style: first.style(),
    hash: true,
    center: [0, 20],
    zoom: 1,
    maxZoom: 20,
    attributionControl: { customAttribution: osm, compact: false },
  });
  window.kilnMap = map; // for tests and the console
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
  map.addControl(thumbs.control(), 'top-right');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
  map.addControl(new StyleSwitcher(choices, first.key, (c) => {
    localStorage.setItem('kiln.style', c.key);
    const u = new URL(location.href);
    u.searchParams.set('style', c.key);
    history.replaceState(null, '', u);
    map.setStyle(c.style());
  }), 'top-right');

  // Without a position in the hash, show the imported data.
  const bounds = (data && data.bounds) || (styles.find((s) => s.center) || {}).bounds;
  if (!permalink && bounds) map.fitBounds([[bounds[0], bounds[1]], [bounds[2], bounds[3]]], { animate: false });
  map.on('error', (e) => console.warn('map:', e.error && e.error.message));
  thumbs.start();
}

main();
