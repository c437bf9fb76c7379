// libFuzzer target: request heads and the chunked bodies after them, as a
// client would send them. Input: [method byte][cut byte][bytes...].
#include "tests/fuzz/http1_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringlb::http::fuzz::fuzzMessages(data, size, ringlb::http::MessageKind::Request);
  return 0;
}
