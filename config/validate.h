// Cross-field rules of a parsed config (pool references, listener modes,
// duplicate binds, ...) and the environment checks (backend names resolve,
// certificate files are readable). Fills BackendConfig::resolved, makes
// certificate, auth-file and access-log paths absolute, and reads each
// route's auth file into AuthConfig::credentials. Main thread only (may block
// on DNS).
#pragma once

#include "config/diagnostics.h"
#include "config/load.h"
#include "config/parse.h"

namespace ringlb::config {

void validateConfig(Config& config, const SourceMap& sources, const LoadOptions& options,
                    Diagnostics& diag);

}  // namespace ringlb::config
