#include "common/upstream/hash_key.h"

#include <cstring>

#include "common/ascii.h"

namespace ringlb::upstream {
namespace {

constexpr uint64_t kP0 = 0xa0761d6478bd642fULL;
constexpr uint64_t kP1 = 0xe7037ed1a0b428dbULL;
constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ULL;

uint64_t mix(uint64_t a, uint64_t b) {
  const __uint128_t m = __uint128_t{a} * b;
  return uint64_t(m) ^ uint64_t(m >> 64);
}

uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::string_view trimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::string_view> findHeader(std::span<const HeaderField> headers,
                                           std::string_view name) {
  for (const HeaderField& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return h.value;
  }
  return std::nullopt;
}

std::optional<std::string_view> findCookieInHeaders(std::span<const HeaderField> headers,
                                                    std::string_view name) {
  for (const HeaderField& h : headers) {
    if (!equalsIgnoreCase(h.name, "cookie")) continue;
    if (auto value = findCookie(h.value, name)) return value;
  }
  return std::nullopt;
}

}  // namespace

uint64_t hashBytes(std::string_view bytes, uint64_t seed) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t h = seed ^ mix(n ^ kP0, kP1);
  for (; n >= 8; n -= 8, p += 8) h = mix(h ^ load64(p), kP1);
  uint64_t tail = 0;
  if (n > 0) std::memcpy(&tail, p, n);  // an empty view may have a null data()
  h = mix(h ^ tail ^ (uint64_t{n} << 56), kP2);
  return mix(h, kP0);
}

std::optional<std::string_view> findCookie(std::string_view cookieHeader, std::string_view name) {
  while (!cookieHeader.empty()) {
    const size_t semi = cookieHeader.find(';');
    std::string_view pair = trimSpaces(cookieHeader.substr(0, semi));
    cookieHeader =
        semi == std::string_view::npos ? std::string_view{} : cookieHeader.substr(semi + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (trimSpaces(pair.substr(0, eq)) == name) return trimSpaces(pair.substr(eq + 1));
  }
  return std::nullopt;
}

std::optional<std::string_view> extractHashKey(const config::HashKey& key,
                                               const RequestKeyView& request) {
  switch (key.kind) {
    case config::HashKeyKind::SourceIp: return request.sourceIp;
    case config::HashKeyKind::Uri: return request.uri;
    case config::HashKeyKind::Header: return findHeader(request.headers, key.name);
    case config::HashKeyKind::Cookie: return findCookieInHeaders(request.headers, key.name);
  }
  return std::nullopt;
}

}  // namespace ringlb::upstream
