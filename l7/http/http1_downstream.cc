#include "l7/http/http1_downstream.h"

#include <string>

namespace ringlb::l7 {
namespace {

// Response bytes queued for a client whose backend is a stream of a
// multiplexed connection (no socket to pause): the rest waits in the
// backend's window.
constexpr size_t kUnpairedResponseQueue = 256 * 1024;

}  // namespace

void Http1Downstream::sendResponseHead(const http::MessageHead& response,
                                       const config::RouteConfig* route,
                                       const ResponseHeadOptions& options) {
  std::string head;
  head.reserve(512);
  writeClientResponseHead(response, route, options, head);
  client_.out().append(head);
}

size_t Http1Downstream::responseRoom() const {
  if (backend_ != nullptr) return SIZE_MAX;
  size_t queued = client_.out().size();
  return queued < kUnpairedResponseQueue ? kUnpairedResponseQueue - queued : 0;
}

void Http1Downstream::pair(Stream* backend) {
  if (backend_ != nullptr && backend_ != backend) backend_->limitBy(nullptr);
  backend_ = backend;
  client_.limitBy(backend);                            // a slow backend slows the client's upload
  if (backend != nullptr) backend->limitBy(&client_);  // a slow client slows the response
}

}  // namespace ringlb::l7
