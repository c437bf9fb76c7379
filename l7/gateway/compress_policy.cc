#include "l7/gateway/compress_policy.h"

#include "common/ascii.h"
#include "l7/gateway/accept_encoding.h"
#include "l7/gateway/compress_fields.h"

namespace ringlb::l7 {
namespace {

using http::HeaderView;
using Fields = std::span<const HeaderView>;

bool statusAllowed(uint16_t status) {
  // 206 is a part of a representation; 204 and 304 have no body.
  return status >= 200 && status <= 599 && status != 204 && status != 206 && status != 304;
}

// Some element of every field `name` is not `allowed` (case-insensitive).
bool listsOtherThan(Fields fields, std::string_view name, std::string_view allowed) {
  bool other = false;
  for (const HeaderView& f : fields) {
    if (!equalsIgnoreCase(f.name, name)) continue;
    forEachElement(f.value, [&](std::string_view element) {
      other = !equalsIgnoreCase(element, allowed);
      return !other;
    });
    if (other) return true;
  }
  return false;
}

CompressSkip typeRule(const config::CompressConfig& config, Fields fields) {
  const HeaderView* contentType = findField(fields, "content-type");
  if (contentType == nullptr) return CompressSkip::NoContentType;
  std::string type = mediaType(contentType->value);
  if (type.empty()) return CompressSkip::NoContentType;
  for (const std::string& pattern : config.types) {
    if (mediaTypeMatches(type, pattern)) return CompressSkip::None;
  }
  return CompressSkip::Type;
}

// The first rule about the response itself (not about this client) that
// keeps it uncompressed; None when it is eligible.
CompressSkip eligibility(const config::CompressConfig& config, const CompressInput& in) {
  if (!statusAllowed(in.status)) return CompressSkip::Status;
  if (!in.hasBody && in.method != http::Method::Head) return CompressSkip::NoBody;
  if (findField(in.responseFields, "content-range") != nullptr) return CompressSkip::Range;
  if (listsOtherThan(in.responseFields, "content-encoding", "identity")) {
    return CompressSkip::Encoded;
  }
  if (listsOtherThan(in.responseFields, "transfer-encoding", "chunked")) {
    return CompressSkip::TransferCoded;
  }
  if (listHasToken(in.responseFields, "cache-control", "no-transform") ||
      listHasToken(in.requestFields, "cache-control", "no-transform")) {
    return CompressSkip::NoTransform;
  }
  if (CompressSkip type = typeRule(config, in.responseFields); type != CompressSkip::None) {
    return type;
  }
  if (in.contentLength && (*in.contentLength == 0 || *in.contentLength < config.minSize)) {
    return CompressSkip::TooSmall;
  }
  return CompressSkip::None;
}

// The Vary to send: the received elements plus Accept-Encoding, merged into
// one field; nullopt when it already names Accept-Encoding or is "*".
std::optional<std::string> mergedVary(Fields fields) {
  std::string merged;
  bool covered = false;
  for (const HeaderView& f : fields) {
    if (!equalsIgnoreCase(f.name, "vary")) continue;
    forEachElement(f.value, [&](std::string_view element) {
      covered = element == "*" || equalsIgnoreCase(element, "accept-encoding");
      if (!merged.empty()) merged.append(", ");
      merged.append(element);
      return !covered;
    });
    if (covered) return std::nullopt;
  }
  if (!merged.empty()) merged.append(", ");
  merged.append("Accept-Encoding");
  return merged;
}

// A strong ETag gets "W/"; a weak one stays (nullopt); a malformed one is
// removed (empty), as NGINX does.
std::optional<std::string> weakenedEtag(Fields fields) {
  const HeaderView* etag = findField(fields, "etag");
  if (etag == nullptr || etag->value.starts_with("W/")) return std::nullopt;
  if (!etag->value.starts_with('"')) return std::string();
  std::string weak = "W/";
  weak.append(etag->value);
  return weak;
}

}  // namespace

std::string_view skipName(CompressSkip skip) {
  switch (skip) {
    case CompressSkip::None: return "none";
    case CompressSkip::Status: return "status";
    case CompressSkip::NoBody: return "no_body";
    case CompressSkip::Range: return "range";
    case CompressSkip::Encoded: return "encoded";
    case CompressSkip::TransferCoded: return "transfer_coded";
    case CompressSkip::NoTransform: return "no_transform";
    case CompressSkip::NoContentType: return "no_content_type";
    case CompressSkip::Type: return "type";
    case CompressSkip::TooSmall: return "too_small";
    case CompressSkip::Head: return "head";
    case CompressSkip::NotAccepted: return "not_accepted";
  }
  return "unknown";
}

CompressDecision decideCompression(const config::CompressConfig& config, const CompressInput& in) {
  CompressDecision d;
  d.skip = eligibility(config, in);
  if (d.skip != CompressSkip::None) return d;
  // From here the answer depends on the request's Accept-Encoding.
  d.vary = mergedVary(in.responseFields);
  if (in.method == http::Method::Head) {
    d.skip = CompressSkip::Head;
    return d;
  }
  d.coding = chooseCoding(parseAcceptEncoding(in.requestFields), config.algorithms);
  if (!d.coding) {
    d.skip = CompressSkip::NotAccepted;
    return d;
  }
  d.removeContentLength = true;
  d.contentEncoding = codingToken(*d.coding);
  d.etag = weakenedEtag(in.responseFields);
  return d;
}

CompressDecision decideCompression(const config::CompressConfig& config,
                                   const http::MessageHead& request,
                                   const http::MessageHead& response) {
  CompressInput in;
  in.method = request.method;
  in.requestFields = request.headers;
  in.status = response.status;
  in.responseFields = response.headers;
  using http::BodyFraming;
  in.hasBody = response.framing != BodyFraming::None && response.framing != BodyFraming::Tunnel;
  // A HEAD response has framing None; its Content-Length is the GET's.
  bool lengthKnown = response.framing == BodyFraming::ContentLength ||
                     (request.method == http::Method::Head && response.count("content-length") > 0);
  if (lengthKnown) in.contentLength = response.contentLength;
  return decideCompression(config, in);
}

void applyCompressEdits(std::span<const http::HeaderView> fields, const CompressDecision& decision,
                        std::vector<http::HeaderView>& out) {
  out.clear();
  bool encodingDone = false;
  bool varyDone = false;
  bool etagDone = false;
  // Writes `value` in place of the first field of a kind, drops the others.
  auto replace = [&out](const HeaderView& f, std::string_view value, bool& done) {
    if (!done && !value.empty()) out.push_back({f.name, value});
    done = true;
  };
  for (const HeaderView& f : fields) {
    if (decision.removeContentLength && equalsIgnoreCase(f.name, "content-length")) continue;
    if (!decision.contentEncoding.empty() && equalsIgnoreCase(f.name, "content-encoding")) {
      replace(f, decision.contentEncoding, encodingDone);
    } else if (decision.vary && equalsIgnoreCase(f.name, "vary")) {
      replace(f, *decision.vary, varyDone);
    } else if (decision.etag && equalsIgnoreCase(f.name, "etag")) {
      replace(f, *decision.etag, etagDone);
    } else {
      out.push_back(f);
    }
  }
  if (!decision.contentEncoding.empty() && !encodingDone) {
    out.push_back({"Content-Encoding", decision.contentEncoding});
  }
  if (decision.vary && !varyDone) out.push_back({"Vary", *decision.vary});
}

}  // namespace ringlb::l7
