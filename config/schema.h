// The one table of every config key: its section, type, default and meaning.
// The parser rejects keys that are not in it, and docs/config.md embeds its
// rendering (checked by a unit test), so parser and docs cannot drift apart.
// Pure data; any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlb::config {

// Where a key may appear. NAME stands for a pool or listener name.
enum class Section {
  Root,         // the top level of the file
  Global,       // [global]
  Admin,        // [admin]
  Pool,         // [pools.NAME]
  Health,       // [pools.NAME.health]
  PoolTls,      // [pools.NAME.tls]
  Backend,      // { address = ..., ... } inside pools.NAME.backends
  Listener,     // [listeners.NAME]
  Tls,          // [listeners.NAME.tls]
  Certificate,  // { cert = ..., key = ... } inside listeners.NAME.tls.certificates
  Route,        // [[listeners.NAME.routes]]
  RateLimit,    // rate_limit = { ... } in a route
  Auth,         // auth = { ... } in a route
  Cors,         // cors = { ... } in a route
  Compress,     // compress = { ... } in a route
  Cache,        // cache = { ... } in a route
};

// The TOML shape a key's value must have (Duration and Address are strings).
enum class ValueType {
  Integer,
  Boolean,
  String,
  DurationString,
  Size,  // an integer number of bytes or a string with a unit ("100MiB")
  Address,
  StringArray,
  IntegerArray,
  StringTable,   // a table of string values (header name -> value)
  Table,         // a sub-section
  NamedTables,   // a table of sub-sections keyed by name (pools, listeners)
  TableArray,    // an array of tables (routes, certificates)
  BackendArray,  // an array of "ADDR" strings or backend tables
};

struct KeyInfo {
  Section section;
  std::string_view key;
  ValueType type;
  std::string_view defaultValue;  // as it would be written in TOML, or "required" / "none"
  std::string_view meaning;
  bool extension;  // beyond the keys fixed by CONFIG.md
};

std::span<const KeyInfo> schemaKeys();
const KeyInfo* findKey(Section section, std::string_view key);
std::vector<std::string_view> keysOf(Section section);

// "[pools.NAME.health]" and the like, for docs.
std::string_view sectionTitle(Section section);
// "an integer", "a duration string", ... for messages and docs.
std::string_view typeName(ValueType type);

// The Markdown key reference embedded in docs/config.md between the markers below.
std::string renderKeyReference();
inline constexpr std::string_view kDocsBeginMarker = "<!-- BEGIN KEY REFERENCE (generated) -->";
inline constexpr std::string_view kDocsEndMarker = "<!-- END KEY REFERENCE -->";

}  // namespace ringlb::config
