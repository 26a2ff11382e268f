// kiln's web page: a Leaflet map of every raster style the server has, with
// a style switcher and the position in the URL hash as #zoom/lat/lon.
(function () {
  'use strict';

  function parseHash() {
    var m = /^#(\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)/.exec(location.hash);
    if (!m) return null;
    return { zoom: parseFloat(m[1]), center: [parseFloat(m[2]), parseFloat(m[3])] };
  }

  function showError(text) {
    var div = document.createElement('div');
    div.className = 'kiln-error';
    div.textContent = text;
    document.body.appendChild(div);
  }

  var map = L.map('map', { worldCopyJump: true });
  var view = parseHash();
  map.setView(view ? view.center : [20, 0], view ? view.zoom : 2);

  // Keep the hash in step with the map, as Leaflet-hash does.
  var writing = false;
  map.on('moveend', function () {
    var c = map.getCenter(), z = map.getZoom();
    var p = Math.max(0, Math.ceil(Math.log(z + 1) / Math.LN2));
    writing = true;
    history.replaceState(null, '', '#' + z + '/' + c.lat.toFixed(p + 1) + '/' + c.lng.toFixed(p + 1));
    writing = false;
  });
  window.addEventListener('hashchange', function () {
    var v = parseHash();
    if (v && !writing) map.setView(v.center, v.zoom);
  });

  fetch('/styles.json').then(function (r) {
    if (!r.ok) throw new Error('styles.json: HTTP ' + r.status);
    return r.json();
  }).then(function (styles) {
    var layers = {}, first = null;
    var saved = localStorage.getItem('kiln.style');
    styles.forEach(function (s) {
      // {r} becomes "@2x" on high-density screens: tiles drawn at double resolution.
      var url = s.tiles[0].replace(/\{y\}\.(\w+)$/, '{y}{r}.$1');
      var layer = L.tileLayer(url, {
        minZoom: s.minzoom, maxZoom: s.maxzoom, tileSize: 256,
        attribution: s.attribution || ''
      });
      layer.kilnID = s.id;
      layers[s.name] = layer;
      if (!first || s.id === saved) first = layer;
    });
    if (!first) { showError('This kiln serves no styles.'); return; }
    // Without a position in the hash, show the imported data.
    var data = styles.filter(function (s) { return s.center; })[0];
    if (!view && data) map.setView([data.center[1], data.center[0]], data.center[2]);
    first.addTo(map);
    L.control.layers(layers, null, { collapsed: false }).addTo(map);
    map.on('baselayerchange', function (e) { localStorage.setItem('kiln.style', e.layer.kilnID); });
  }).catch(function (e) { showError('Could not load the styles: ' + e.message); });
})();
