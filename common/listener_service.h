// ListenerService: one configured listener as served by one worker (a tcp,
// udp, http or forward front end). The modes live in l4/ and l7/ and register
// a factory; the worker only starts, updates and stops them.
//
// Worker thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/model.h"

namespace ringlb {

class Worker;

class ListenerService {
 public:
  virtual ~ListenerService() = default;
  virtual void start() = 0;
  // Close the listening socket at once; live sessions go on.
  virtual void stopAccepting() = 0;
  // A connection ended somewhere on this worker: re-arm if paused at a limit.
  virtual void resumeAccepting() {}
  // Stopped, with no session and no op left: the worker may destroy it.
  virtual bool finished() const = 0;
  virtual size_t activeSessions() const = 0;
  virtual const std::string& name() const = 0;
};

// Builds the service for `listener` on `worker`, owning `fd` (a listening TCP
// socket or a bound UDP socket made by the main thread).
using ServiceFactory = std::function<std::unique_ptr<ListenerService>(
    Worker& worker, const config::ListenerConfig& listener, int fd)>;

}  // namespace ringlb
