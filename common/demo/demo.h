// `ringlb demo`: three built-in HTTP backends on loopback and a load balancer
// in front of them, with the URLs to try printed at start.
#pragma once

#include <cstdint>
#include <functional>

#include "common/server.h"

namespace ringlb::demo {

// Runs until SIGINT/SIGTERM; returns the exit code.
int runDemo(uint16_t firstPort, uint16_t adminPort, const ServiceFactories& factories,
            const std::function<void(Server&)>& addExtensions);

}  // namespace ringlb::demo
