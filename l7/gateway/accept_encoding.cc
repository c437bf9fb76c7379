#include "l7/gateway/accept_encoding.h"

#include "common/ascii.h"
#include "l7/gateway/compress_fields.h"

namespace ringlb::l7 {
namespace {

// One element split into its coding and its q (kQMax without a weight);
// nullopt when malformed.
struct Element {
  std::string_view coding;
  QValue q = kQMax;
};

std::optional<Element> parseElement(std::string_view element) {
  size_t semi = element.find(';');
  Element out{trimOws(element.substr(0, semi)), kQMax};
  if (!isToken(out.coding)) return std::nullopt;
  if (semi == std::string_view::npos) return out;
  // weight = OWS ";" OWS "q=" qvalue: nothing else, and only once.
  std::string_view weight = trimOws(element.substr(semi + 1));
  if (weight.size() < 2 || asciiLower(weight[0]) != 'q' || weight[1] != '=') return std::nullopt;
  std::optional<QValue> q = parseQValue(weight.substr(2));
  if (!q) return std::nullopt;
  out.q = *q;
  return out;
}

}  // namespace

std::optional<QValue> parseQValue(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return std::nullopt;
  QValue whole = static_cast<QValue>(text[0] - '0');
  if (text.size() == 1) return static_cast<QValue>(whole * kQMax);
  if (text[1] != '.' || text.size() > 5) return std::nullopt;
  QValue fraction = 0;
  QValue scale = 100;
  for (char c : text.substr(2)) {
    if (!isDigit(c)) return std::nullopt;
    fraction = static_cast<QValue>(fraction + (c - '0') * scale);
    scale /= 10;
  }
  if (whole == 1 && fraction != 0) return std::nullopt;  // above 1
  return static_cast<QValue>(whole * kQMax + fraction);
}

void AcceptEncoding::set(Slot slot, QValue q) {
  if (!q_[slot] || q < *q_[slot]) q_[slot] = q;
}

void AcceptEncoding::add(std::string_view fieldValue) {
  present_ = true;
  forEachElement(fieldValue, [this](std::string_view text) {
    std::optional<Element> e = parseElement(text);
    if (!e) return true;  // ignored: as if the client had not sent it
    if (equalsIgnoreCase(e->coding, "gzip") || equalsIgnoreCase(e->coding, "x-gzip")) {
      set(kGzip, e->q);
    } else if (equalsIgnoreCase(e->coding, "br")) {
      set(kBrotli, e->q);
    } else if (equalsIgnoreCase(e->coding, "zstd")) {
      set(kZstd, e->q);
    } else if (equalsIgnoreCase(e->coding, "identity")) {
      set(kIdentity, e->q);
    } else if (e->coding == "*") {
      set(kAny, e->q);
    }
    return true;
  });
}

std::optional<QValue> AcceptEncoding::qvalue(config::ContentCoding coding) const {
  Slot slot = kGzip;
  switch (coding) {
    case config::ContentCoding::Gzip: slot = kGzip; break;
    case config::ContentCoding::Brotli: slot = kBrotli; break;
    case config::ContentCoding::Zstd: slot = kZstd; break;
  }
  return q_[slot] ? q_[slot] : q_[kAny];
}

AcceptEncoding parseAcceptEncoding(std::span<const http::HeaderView> requestFields) {
  AcceptEncoding accept;
  for (const http::HeaderView& f : requestFields) {
    if (equalsIgnoreCase(f.name, "accept-encoding")) accept.add(f.value);
  }
  return accept;
}

std::optional<config::ContentCoding> chooseCoding(
    const AcceptEncoding& accept, std::span<const config::ContentCoding> preference) {
  if (!accept.present()) return std::nullopt;
  std::optional<config::ContentCoding> best;
  QValue bestQ = 0;  // q=0 is "not acceptable": never chosen
  for (config::ContentCoding coding : preference) {
    std::optional<QValue> q = accept.qvalue(coding);
    if (q && *q > bestQ) {  // strictly higher: ties stay with the route's earlier choice
      best = coding;
      bestQ = *q;
    }
  }
  if (best && accept.identity() && *accept.identity() > bestQ) return std::nullopt;
  return best;
}

std::string_view codingToken(config::ContentCoding coding) {
  switch (coding) {
    case config::ContentCoding::Zstd: return "zstd";
    case config::ContentCoding::Brotli: return "br";
    case config::ContentCoding::Gzip: return "gzip";
  }
  return {};
}

}  // namespace ringlb::l7
