#include "common/admin/status_page.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <iterator>

namespace ringlb::admin {
namespace {

constexpr std::string_view kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #eee; } td.name { text-align: left; font-family: monospace; }
td.state { font-weight: bold; text-align: center; }
td.up { background: #c8f0c8; } td.down { background: #f4b4b4; }
.meta { color: #666; }
#charts .group { margin: 0.6em 0 1em; }
#charts h3 { font-size: 1em; margin: 0.3em 0; font-family: monospace; }
#charts .row { display: flex; flex-wrap: wrap; gap: 10px; }
svg.chart { border: 1px solid #ddd; background: #fff; }
svg.chart text { font: 10px system-ui, sans-serif; fill: #444; }
svg.chart text.title { font-size: 12px; font-weight: bold; fill: #222; }
svg.chart text.note { font-size: 11px; fill: #888; }
svg.chart .grid { stroke: #e4e4e4; }
svg.chart .axis { stroke: #888; }
svg.chart path.line { fill: none; stroke-width: 1.6; stroke-linejoin: round; stroke-linecap: round; }
)";

// The charts: every 2 s fetch status/history and redraw them as inline SVG,
// and fetch this page again to swap in its fresh summary and tables (with
// JavaScript the <noscript> refresh is off). Builds markup text, escaped, so
// no attribute is a style (the CSP allows this script and the style block by
// their hashes and nothing else). After each draw #charts carries
// data-draws (how many so far) and data-points (values plotted); each line
// data-series, data-points, data-max and data-last, for tests.
constexpr std::string_view kScript = R"JS(
(function () {
  'use strict';
  var W = 360, H = 190, L = 48, R = 12, T = 44, B = 24, SPAN = 300000;
  var COLORS = {rate: '#1f77b4', errors: '#d62728', p50: '#2ca02c', p95: '#ff7f0e',
                p99: '#9467bd'};
  var section = document.getElementById('charts');
  var grid = document.getElementById('chart-grid');
  var status = document.getElementById('charts-status');
  var draws = 0;

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; });
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var e = Math.pow(10, Math.floor(Math.log10(v))), f = v / e;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
  }
  function num(v) {
    if (v === null || v === undefined) return '-';
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
    if (a >= 1e3) return (v / 1e3).toFixed(a >= 1e4 ? 0 : 1) + 'k';
    if (a >= 10 || a === 0) return v.toFixed(0);
    if (a >= 1) return v.toFixed(1);
    return v.toFixed(2);
  }
  function lastValue(values) {
    for (var i = values.length - 1; i >= 0; i--) {
      if (values[i] !== null && values[i] !== undefined) return values[i];
    }
    return null;
  }

  // One chart: series [{key, label, unit, values}] over times t (ms), the last
  // five minutes up to the newest time; `note` is written across the plot.
  function chart(kind, name, what, title, unit, t, series, note) {
    var end = t.length ? t[t.length - 1] : Date.now(), start = end - SPAN;
    var max = 0;
    series.forEach(function (s) {
      s.values.forEach(function (v, i) { if (v !== null && t[i] >= start && v > max) max = v; });
    });
    var top = niceMax(max), pw = W - L - R, ph = H - T - B;
    var x = function (ms) { return L + (ms - start) / SPAN * pw; };
    var y = function (v) { return T + ph - Math.min(v, top) / top * ph; };
    var out = ['<svg class="chart" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W +
               ' ' + H + '" role="img" aria-label="' + esc(title) + '" data-kind="' + kind +
               '" data-name="' + esc(name) + '" data-chart="' + what + '">',
               '<text class="title" x="' + L + '" y="15">' + esc(title) + '</text>'];
    var lx = L;
    series.forEach(function (s) {
      var text = (s.label ? s.label + ' ' : '') + num(lastValue(s.values)) + ' ' + s.unit;
      out.push('<rect x="' + lx + '" y="24" width="10" height="10" fill="' + COLORS[s.key] +
               '"/><text x="' + (lx + 14) + '" y="33">' + esc(text) + '</text>');
      lx += 22 + text.length * 5.6;
    });
    for (var i = 0; i <= 4; i++) {
      var gy = y(top * i / 4).toFixed(1);
      out.push('<line class="' + (i ? 'grid' : 'axis') + '" x1="' + L + '" x2="' + (W - R) +
               '" y1="' + gy + '" y2="' + gy + '"/>');
      if (i % 2 === 0) {
        out.push('<text x="' + (L - 4) + '" y="' + (+gy + 3) + '" text-anchor="end">' +
                 num(top * i / 4) + '</text>');
      }
    }
    out.push('<line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (T + ph) +
             '"/>', '<text transform="translate(11,' + (T + ph / 2) + ') rotate(-90)" ' +
             'text-anchor="middle">' + esc(unit) + '</text>');
    for (var m = 5; m >= 0; m--) {
      var tx = x(end - m * 60000).toFixed(1);
      out.push('<line class="axis" x1="' + tx + '" x2="' + tx + '" y1="' + (T + ph) + '" y2="' +
               (T + ph + 3) + '"/><text x="' + tx + '" y="' + (H - 8) + '" text-anchor="' +
               (m === 5 ? 'start' : m === 0 ? 'end' : 'middle') + '">' +
               (m ? '-' + m + ' min' : 'now') + '</text>');
    }
    var plotted = 0;
    series.forEach(function (s) {
      var d = '', n = 0, smax = 0;
      for (var i = 0; i < t.length; i++) {
        var v = s.values[i];
        if (v === null || v === undefined || t[i] < start) continue;
        var prev = i > 0 ? s.values[i - 1] : null;
        var next = i + 1 < t.length ? s.values[i + 1] : null;
        var joined = prev !== null && prev !== undefined && t[i - 1] >= start;
        d += (joined ? 'L' : 'M') + x(t[i]).toFixed(1) + ' ' + y(v).toFixed(1);
        if (!joined && (next === null || next === undefined)) d += 'h0.1';  // a lone point: a dot
        n++;
        if (v > smax) smax = v;
      }
      plotted += n;
      out.push('<path class="line" stroke="' + COLORS[s.key] + '" d="' + (d || 'M0 0') +
               '" data-series="' + s.key + '" data-points="' + n + '" data-max="' + smax +
               '" data-last="' + (lastValue(s.values) || 0) + '"/>');
    });
    if (note) {
      out.push('<text class="note" x="' + (L + pw / 2) + '" y="' + (T + ph / 2) +
               '" text-anchor="middle">' + esc(note) + '</text>');
    }
    out.push('</svg>');
    return {svg: out.join(''), points: plotted};
  }

  var RATE_TITLES = {tcp: 'connection rate', udp: 'datagram rate'};

  function draw(h) {
    var t = h.t || [], html = [], points = 0;
    function add(c) { html.push(c.svg); points += c.points; }
    h.listeners.forEach(function (l) {
      html.push('<div class="group"><h3>listener ' + esc(l.name) + ' (' + esc(l.mode) +
                ')</h3><div class="row">');
      add(chart('listener', l.name, 'rate', RATE_TITLES[l.mode] || 'request rate', l.rate_unit,
                t, [{key: 'rate', label: '', unit: l.rate_unit, values: l.rate}]));
      add(chart('listener', l.name, 'errors', 'error rate', l.errors_unit, t,
                [{key: 'errors', label: '', unit: l.errors_unit, values: l.errors}]));
      if (l.latency) {
        var capped = [l.p99_ms, l.p95_ms, l.p50_ms].some(function (vs) {
          return vs.some(function (v) { return v !== null && v >= h.latency_max_ms; });
        });
        add(chart('listener', l.name, 'latency', 'request duration percentiles', 'ms', t,
                  [{key: 'p50', label: 'p50', unit: 'ms', values: l.p50_ms},
                   {key: 'p95', label: 'p95', unit: 'ms', values: l.p95_ms},
                   {key: 'p99', label: 'p99', unit: 'ms', values: l.p99_ms}],
                  capped ? 'values over ' + h.latency_max_ms / 1000 + ' s show as ' +
                           h.latency_max_ms / 1000 + ' s' : ''));
      } else {
        add(chart('listener', l.name, 'latency', 'latency', 'ms', t, [],
                  'no latency histogram for ' + l.mode + ' listeners'));
      }
      html.push('</div></div>');
    });
    h.backends.forEach(function (b) {
      var name = b.pool + '/' + b.address;
      html.push('<div class="group"><h3>backend ' + esc(name) + '</h3><div class="row">');
      add(chart('backend', name, 'rate', 'request rate', b.rate_unit, t,
                [{key: 'rate', label: '', unit: b.rate_unit, values: b.rate}]));
      add(chart('backend', name, 'errors', 'error rate', b.errors_unit, t,
                [{key: 'errors', label: '', unit: b.errors_unit, values: b.errors}]));
      html.push('</div></div>');
    });
    grid.innerHTML = html.join('');
    draws++;
    section.setAttribute('data-draws', String(draws));
    section.setAttribute('data-points', String(points));
    status.textContent = 'One point a second over the last ' + SPAN / 60000 +
        ' minutes; updated ' + new Date(t.length ? t[t.length - 1] : Date.now())
        .toLocaleTimeString() + ', every 2 s.';
  }

  function get(url) {
    return fetch(url, {cache: 'no-store'}).then(function (r) {
      if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
      return r;
    });
  }
  function refreshTables() {
    return get('./').then(function (r) { return r.text(); }).then(function (text) {
      var doc = new DOMParser().parseFromString(text, 'text/html');
      ['summary', 'tables'].forEach(function (id) {
        var fresh = doc.getElementById(id), here = document.getElementById(id);
        if (fresh && here) here.innerHTML = fresh.innerHTML;
      });
    });
  }
  function tick() {
    var charts = get('status/history').then(function (r) { return r.json(); }).then(draw);
    Promise.all([charts, refreshTables()]).catch(function (e) {
      status.textContent = 'Update failed (' + e.message + '); trying again every 2 s.';
    }).finally(function () { setTimeout(tick, 2000); });
  }
  tick();
})();
)JS";

static_assert(kStatusPageRefreshSeconds == 2, "the script's setTimeout(tick, 2000) says 2 s too");

// "sha256-BASE64" of `text`, for a CSP source.
std::string cspHash(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(size));
  return "sha256-" + std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
}

std::string bytes(uint64_t n) {
  if (n < 10 * 1024) return fmt::format("{} B", n);
  if (n < 10 * 1024 * 1024) return fmt::format("{:.1f} KiB", static_cast<double>(n) / 1024);
  if (n < 10ull * 1024 * 1024 * 1024) {
    return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1024 * 1024));
  }
  return fmt::format("{:.1f} GiB", static_cast<double>(n) / (1024.0 * 1024 * 1024));
}

void writeListeners(std::string& out, const AdminSnapshot& snap) {
  auto it = std::back_inserter(out);
  out +=
      "<h2>Listeners</h2>\n<table id=\"listeners\">\n<tr><th>name</th><th>mode</th><th>bind</th>"
      "<th>pool</th><th>active</th><th>accepted</th><th>requests</th><th>rate/s</th>"
      "<th>in</th><th>out</th></tr>\n";
  for (const auto& l : snap.listeners) {
    fmt::format_to(it,
                   "<tr data-listener=\"{0}\"><td class=\"name\">{0}</td><td>{1}</td>"
                   "<td class=\"name\">{2}</td><td class=\"name\">{3}</td><td>{4}</td><td>{5}</td>"
                   "<td>{6}</td><td>{7:.1f}</td><td>{8}</td><td>{9}</td></tr>\n",
                   htmlEscape(l.name), htmlEscape(l.mode), htmlEscape(l.bind), htmlEscape(l.pool),
                   l.connectionsActive, l.connectionsAccepted, l.requestsTotal(), l.rate,
                   bytes(l.bytesIn), bytes(l.bytesOut));
  }
  out += "</table>\n";
}

std::string lastChange(const BackendView& b) {
  if (!b.lastChange) return "never";
  return formatIso8601(*b.lastChange);
}

void writePool(std::string& out, const PoolView& p) {
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "<h2>Pool {} <span class=\"meta\">({}{})</span></h2>\n"
                 "<table class=\"pool\" data-pool=\"{}\">\n<tr><th>backend</th><th>state</th>"
                 "<th>weight</th><th>backup</th><th>active</th><th>requests</th><th>rate/s</th>"
                 "<th>connect failures</th><th>checks ok/failed/skipped</th><th>changes</th>"
                 "<th>last change</th><th>reason</th></tr>\n",
                 htmlEscape(p.name), htmlEscape(p.balance),
                 p.healthChecked ? ", health checked" : "", htmlEscape(p.name));
  for (const auto& b : p.backends) {
    const char* state = b.up ? "up" : "down";
    fmt::format_to(it,
                   "<tr data-pool=\"{0}\" data-backend=\"{1}\"><td class=\"name\">{1}</td>"
                   "<td class=\"state {2}\">{2}</td><td>{3}</td><td>{4}</td><td>{5}</td>"
                   "<td>{6}</td><td>{7:.1f}</td><td>{8}</td><td>{9}/{10}/{11}</td><td>{12}</td>"
                   "<td>{13}</td><td class=\"name\">{14}</td></tr>\n",
                   htmlEscape(p.name), htmlEscape(b.address), state, b.weight,
                   b.backup ? "yes" : "no", b.active, b.requests, b.rate, b.connectFailures,
                   b.probesOk, b.probesFailed, b.probesSkipped, b.healthChanges, lastChange(b),
                   htmlEscape(b.lastReason));
  }
  out += "</table>\n";
}

void writeDiscovery(std::string& out, const AdminSnapshot& snap) {
  if (snap.discovery.empty()) return;
  auto it = std::back_inserter(out);
  out +=
      "<h2>DNS discovery</h2>\n<table id=\"discovery\">\n<tr><th>pool</th><th>discover</th>"
      "<th>backends</th><th>lookups ok/failed</th><th>changes</th><th>last change</th>"
      "<th>last error</th></tr>\n";
  for (const auto& d : snap.discovery) {
    fmt::format_to(it,
                   "<tr data-discovery=\"{0}\"><td class=\"name\">{0}</td>"
                   "<td class=\"name\">{1}</td><td>{2}</td><td>{3}/{4}</td><td>{5}</td>"
                   "<td>{6}</td><td class=\"name\">{7}</td></tr>\n",
                   htmlEscape(d.pool), htmlEscape(d.target), d.backends, d.lookupsOk,
                   d.lookupsFailed, d.changes, d.changes != 0 ? formatIso8601(d.lastChange) : "-",
                   htmlEscape(d.lastError));
  }
  out += "</table>\n";
}

}  // namespace

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string_view statusPageContentSecurityPolicy() {
  // Only this page's own script and style block run; it connects to its own
  // origin only; no image, font, frame, form or base elsewhere.
  static const std::string policy = fmt::format(
      "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; "
      "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      cspHash(kScript), cspHash(kStyle));
  return policy;
}

std::string renderStatusPage(const AdminSnapshot& snap) {
  std::string out;
  out.reserve(16 * 1024);
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(snap.now - snap.startTime);
  // Without JavaScript the page reloads itself; with it the script refreshes
  // the summary and tables in place and the <noscript> meta is inert.
  fmt::format_to(std::back_inserter(out),
                 "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                 "<noscript><meta http-equiv=\"refresh\" content=\"{}\"></noscript>\n"
                 "<title>ringlb status</title>\n"
                 "<style>{}</style></head>\n<body>\n<h1>ringlb {}</h1>\n"
                 "<p class=\"meta\" id=\"summary\">{} &middot; up {} s &middot; {} workers "
                 "&middot; reloads {} ok, {} failed &middot; <a href=\"/status\">JSON</a> "
                 "&middot; <a href=\"/status/history\">history</a> &middot; "
                 "<a href=\"/metrics\">metrics</a></p>\n",
                 kStatusPageRefreshSeconds, kStyle, RINGLB_VERSION_STRING, formatIso8601(snap.now),
                 uptime.count(), snap.workers.size(), snap.reloadsOk, snap.reloadsFailed);
  out +=
      "<section id=\"charts\" data-draws=\"0\" data-points=\"0\">\n<h2>Last 5 minutes</h2>\n"
      "<p class=\"meta\" id=\"charts-status\">Loading the charts&hellip;</p>\n"
      "<noscript><p class=\"meta\">The charts need JavaScript; without it this page reloads "
      "itself every 2 s.</p></noscript>\n<div id=\"chart-grid\"></div>\n</section>\n"
      "<div id=\"tables\">\n";
  writeListeners(out, snap);
  for (const auto& p : snap.pools) writePool(out, p);
  writeDiscovery(out, snap);
  out += "</div>\n<script id=\"charts-js\">";
  out += kScript;
  out += "</script>\n</body></html>\n";
  return out;
}

}  // namespace ringlb::admin
