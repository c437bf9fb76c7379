// libFuzzer target: response heads and bodies, as an upstream would send
// them. Input: [request method byte][cut byte][bytes...].
#include "tests/fuzz/http1_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringlb::http::fuzz::fuzzMessages(data, size, ringlb::http::MessageKind::Response);
  return 0;
}
