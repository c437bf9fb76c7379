// Head parsing cost for a typical browser request (~500 bytes, 12 fields)
// and a small API request, plus chunked decoding throughput. The parser is
// reused across iterations as a connection would reuse it.
#include <benchmark/benchmark.h>

#include <string>

#include "bench/sample_requests.h"
#include "common/http1/http1_parser.h"

namespace ringlb::http {
namespace {

using bench::kApiRequest;
using bench::kBrowserRequest;

void parseHead(benchmark::State& state, const std::string& raw) {
  Http1Parser parser(MessageKind::Request);
  for (auto _ : state) {
    parser.reset();
    ParseResult r = parser.feed(raw);
    benchmark::DoNotOptimize(r);
    if (r.status != ParseStatus::HeadComplete) state.SkipWithError("parse failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
  state.counters["bytes"] = static_cast<double>(raw.size());
  state.counters["fields"] = static_cast<double>(parser.head().headers.size());
}

void BM_ParseBrowserRequest(benchmark::State& state) { parseHead(state, kBrowserRequest); }
BENCHMARK(BM_ParseBrowserRequest);

void BM_ParseApiRequest(benchmark::State& state) { parseHead(state, kApiRequest); }
BENCHMARK(BM_ParseApiRequest);

// The worst realistic delivery: the head in 64-byte pieces.
void BM_ParseBrowserRequestIn64BytePieces(benchmark::State& state) {
  Http1Parser parser(MessageKind::Request);
  std::string_view raw = kBrowserRequest;
  for (auto _ : state) {
    parser.reset();
    ParseResult r;
    for (size_t off = 0; off < raw.size(); off += 64) r = parser.feed(raw.substr(off, 64));
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
}
BENCHMARK(BM_ParseBrowserRequestIn64BytePieces);

// 16 KiB chunks: payload bytes are passed over without being touched.
void BM_DecodeChunkedBody(benchmark::State& state) {
  std::string body;
  for (int i = 0; i < 64; ++i) body += "4000\r\n" + std::string(0x4000, 'x') + "\r\n";
  body += "0\r\n\r\n";
  ChunkedDecoder decoder;
  for (auto _ : state) {
    decoder.reset();
    std::string_view in = body;
    size_t payload = 0;
    while (!in.empty() && !decoder.done()) {
      BodySegment s = decoder.next(in);
      if (s.kind == BodySegmentKind::Data) payload += s.length;
      in.remove_prefix(s.length);
    }
    benchmark::DoNotOptimize(payload);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DecodeChunkedBody);

// Small chunks: framing dominates.
void BM_DecodeSmallChunks(benchmark::State& state) {
  std::string body;
  for (int i = 0; i < 256; ++i) body += "10\r\n0123456789abcdef\r\n";
  body += "0\r\n\r\n";
  ChunkedDecoder decoder;
  for (auto _ : state) {
    decoder.reset();
    std::string_view in = body;
    while (!in.empty() && !decoder.done()) in.remove_prefix(decoder.next(in).length);
    benchmark::DoNotOptimize(decoder.payloadBytes());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DecodeSmallChunks);

}  // namespace
}  // namespace ringlb::http
