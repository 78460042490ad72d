// Printable roster (避難行動要支援者名簿): a small map of the residences, numbered by priority.
// Settings arrive as JSON in #roster-config; nothing from a row is written as HTML.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("roster-config").textContent);
  var printButton = document.getElementById("roster-print");
  if (printButton) {
    printButton.addEventListener("click", function () { window.print(); });
  }
  var element = document.getElementById("roster-map");
  if (!element || !window.L || !config.points.length) {
    return;
  }
  var map = L.map(element, {zoomControl: true, attributionControl: true}).setView(config.center, 14);
  if (config.tiles) {
    L.tileLayer(config.tiles, {attribution: config.attribution, maxZoom: 18, minZoom: 5}).addTo(map);
  }
  var bounds = [];
  config.points.forEach(function (p) {
    var icon = L.divIcon({className: "roster-marker", html: "", iconSize: [22, 22]});
    var marker = L.marker([p.lat, p.lon], {icon: icon, keyboard: false}).addTo(map);
    marker.getElement().textContent = String(p.priority);
    bounds.push([p.lat, p.lon]);
  });
  map.fitBounds(bounds, {padding: [20, 20], maxZoom: 17});
})();
