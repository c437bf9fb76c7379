#include "common/admin/status_page.h"

#include <fmt/format.h>

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
)";

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
                 "<th>connect failures</th><th>checks ok/failed</th><th>changes</th>"
                 "<th>last change</th><th>reason</th></tr>\n",
                 htmlEscape(p.name), htmlEscape(p.balance),
                 p.healthChecked ? ", health checked" : "", htmlEscape(p.name));
  for (const auto& b : p.backends) {
    const char* state = b.up ? "up" : "down";
    fmt::format_to(it,
                   "<tr data-pool=\"{0}\" data-backend=\"{1}\"><td class=\"name\">{1}</td>"
                   "<td class=\"state {2}\">{2}</td><td>{3}</td><td>{4}</td><td>{5}</td>"
                   "<td>{6}</td><td>{7:.1f}</td><td>{8}</td><td>{9}/{10}</td><td>{11}</td>"
                   "<td>{12}</td><td class=\"name\">{13}</td></tr>\n",
                   htmlEscape(p.name), htmlEscape(b.address), state, b.weight,
                   b.backup ? "yes" : "no", b.active, b.requests, b.rate, b.connectFailures,
                   b.probesOk, b.probesFailed, b.healthChanges, lastChange(b),
                   htmlEscape(b.lastReason));
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

std::string renderStatusPage(const AdminSnapshot& snap) {
  std::string out;
  out.reserve(8 * 1024);
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(snap.now - snap.startTime);
  fmt::format_to(std::back_inserter(out),
                 "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                 "<meta http-equiv=\"refresh\" content=\"{}\">\n<title>ringlb status</title>\n"
                 "<style>{}</style></head>\n<body>\n<h1>ringlb {}</h1>\n"
                 "<p class=\"meta\">{} &middot; up {} s &middot; {} workers &middot; "
                 "reloads {} ok, {} failed &middot; <a href=\"/status\">JSON</a> &middot; "
                 "<a href=\"/metrics\">metrics</a></p>\n",
                 kStatusPageRefreshSeconds, kStyle, RINGLB_VERSION_STRING, formatIso8601(snap.now),
                 uptime.count(), snap.workers.size(), snap.reloadsOk, snap.reloadsFailed);
  writeListeners(out, snap);
  for (const auto& p : snap.pools) writePool(out, p);
  out += "</body></html>\n";
  return out;
}

}  // namespace ringlb::admin
