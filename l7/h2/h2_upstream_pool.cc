#include "l7/h2/h2_upstream_pool.h"

#include <algorithm>

#include "common/worker.h"
#include "l7/h2/h2_client_session.h"
#include "l7/http/connection_pool.h"

namespace ringlb::l7 {

H2UpstreamPool::H2UpstreamPool(Worker& worker, ConnectionPool& connections)
    : worker_(worker), connections_(connections) {}

H2UpstreamPool::~H2UpstreamPool() {
  for (auto& [key, sessions] : sessions_) {
    for (H2ClientSession* s : sessions) delete s;
  }
}

H2UpstreamStream* H2UpstreamPool::take(const std::string& key, BackendUser& user) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return nullptr;
  // The newest session first: older ones drain as their streams end.
  for (auto s = it->second.rbegin(); s != it->second.rend(); ++s) {
    if (H2UpstreamStream* stream = (*s)->open(user)) return stream;
  }
  return nullptr;
}

H2UpstreamStream* H2UpstreamPool::connect(const std::string& key, H2ConnectSpec spec,
                                          BackendUser& user) {
  H2ConnectSpec& kept = specs_[key];
  kept = std::move(spec);
  return open(key, kept)->open(user);
}

H2ClientSession* H2UpstreamPool::open(const std::string& key, const H2ConnectSpec& spec) {
  BackendConnection* conn = connections_.open("h2/" + key);
  auto* session = new H2ClientSession(*this, *conn, key);
  sessions_[key].push_back(session);
  session->connect(spec);
  return session;
}

H2ClientSession* H2UpstreamPool::rehome(H2UpstreamStream& stream, H2ClientSession& from) {
  if (stopped_) return nullptr;
  const std::string& key = from.key();
  for (H2ClientSession* s : sessions_[key]) {
    if (s != &from && s->hasRoom()) {
      s->adopt(stream);
      return s;
    }
  }
  auto spec = specs_.find(key);
  if (spec == specs_.end()) return nullptr;
  H2ClientSession* fresh = open(key, spec->second);
  fresh->adopt(stream);
  return fresh;
}

void H2UpstreamPool::stop() {
  stopped_ = true;
  std::vector<H2ClientSession*> all;
  for (auto& [key, sessions] : sessions_) all.insert(all.end(), sessions.begin(), sessions.end());
  for (H2ClientSession* s : all) s->stop();  // may retire itself
}

config::Duration H2UpstreamPool::idleTimeout() const {
  return std::chrono::duration_cast<config::Duration>(connections_.options().idleTimeout);
}

void H2UpstreamPool::retire(H2ClientSession& session) {
  auto it = sessions_.find(session.key());
  if (it != sessions_.end()) {
    std::erase(it->second, &session);
    if (it->second.empty()) sessions_.erase(it);
  }
  worker_.deferDelete(&session);
}

}  // namespace ringlb::l7
