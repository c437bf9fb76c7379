// Helpers shared by the config loader tests: a resolver that never leaves the
// machine, temp directories, and errors as "LINE:COL: message" strings.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "config/address.h"
#include "config/load.h"

namespace ringlb::config::testing {

// Numeric addresses as usual; "db.internal:PORT" resolves to 10.0.0.7 and
// "localhost:PORT" to 127.0.0.1; any other host name fails the way
// getaddrinfo would.
// A real certificate and matching key (EC P-256, self-signed, valid until
// 2126): the loader parses and matches the pair when it checks files.
inline constexpr std::string_view kTestCertPem = R"(-----BEGIN CERTIFICATE-----
MIIBgzCCASmgAwIBAgIUNHXbEg4wfes+10L3gdcNYm5ER/gwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLY29uZmlnLXRlc3QwIBcNMjYxMTI3MDIyNzUyWhgPMjEyNjEx
MDMwMjI3NTJaMBYxFDASBgNVBAMMC2NvbmZpZy10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEU9hkDdclFV4MZx9C8QzQDZX4Cjr79b12fm5EBlI9UjGkJ4iD
3ZNGvZqaEiqTaDcom2ghEj3jPmefxWA2evvnfaNTMFEwHQYDVR0OBBYEFLqQqJXu
pePc/jVoeua1mfFlTBjcMB8GA1UdIwQYMBaAFLqQqJXupePc/jVoeua1mfFlTBjc
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgZyAiqmiKISuQ5Clg
X5OTVO1SO3vXNcF9ZrV7Vr6suMcCIQDsce62Od2v2a+ciKW+5Wy/YLhK27FVRh6N
VstQfyB1dg==
-----END CERTIFICATE-----
)";
inline constexpr std::string_view kTestKeyPem = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzfw2v4h/k0DbSj40
kFlWftZ39pKhFhskb3YrEpA7LtShRANCAART2GQN1yUVXgxnH0LxDNANlfgKOvv1
vXZ+bkQGUj1SMaQniIPdk0a9mpoSKpNoNyibaCESPeM+Z5/FYDZ6++d9
-----END PRIVATE KEY-----
)";

inline LoadOptions fakeOptions() {
  LoadOptions options;
  options.resolve = [](std::string_view text, std::string* error) -> std::optional<SocketAddress> {
    if (auto addr = parseNumericAddress(text, error)) return addr;
    if (error->find("is not a numeric IP address") == std::string::npos) return std::nullopt;
    auto colon = text.rfind(':');
    std::string_view host = text.substr(0, colon);
    if (colon != std::string_view::npos && (host == "db.internal" || host == "localhost")) {
      std::string ip = host == "localhost" ? "127.0.0.1" : "10.0.0.7";
      auto addr = parseNumericAddress(ip + std::string(text.substr(colon)), error);
      if (addr) addr->text = std::string(text);
      return addr;
    }
    *error = "cannot resolve \"" + std::string(host) + "\": Name or service not known";
    return std::nullopt;
  };
  return options;
}

// Every problem as "LINE:COL: message", in report order.
inline std::vector<std::string> problems(std::string_view text,
                                         const std::string& path = "/etc/ringlb/test.toml") {
  LoadResult result = loadConfigText(text, path, fakeOptions());
  std::vector<std::string> out;
  for (const ConfigError& error : result.errors) {
    out.push_back(std::to_string(error.pos.line) + ":" + std::to_string(error.pos.column) + ": " +
                  error.message);
  }
  return out;
}

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("ringlb-config-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  std::string write(const std::string& relative, std::string_view content) const {
    std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

// The repository root, found from this file's location (CMake compiles with
// absolute source paths).
inline std::filesystem::path repoRoot() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace ringlb::config::testing
