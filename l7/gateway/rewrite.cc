#include "l7/gateway/rewrite.h"

namespace ringlb::l7 {

std::string rewriteTarget(std::string_view target, std::string_view prefix,
                          std::string_view replacement) {
  std::string_view rest = target.substr(std::min(prefix.size(), target.size()));
  std::string out(replacement);
  if (!out.empty() && out.back() == '/' && rest.starts_with('/')) rest.remove_prefix(1);
  out.append(rest);
  if (out.empty() || out.front() == '?') out.insert(out.begin(), '/');
  return out;
}

}  // namespace ringlb::l7
