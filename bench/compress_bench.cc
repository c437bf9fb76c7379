// Response compression (l7/gateway/compress_encoder.h): CPU per MB of body
// for each coding at its default level, over a deterministic ~100 KiB HTML
// page and a ~100 KiB JSON API answer, fed in 16 KiB pieces as a backend's
// body arrives. One encoder per iteration, as per response: its setup and
// its tables are part of the cost. Counters: ratio (input / output),
// cpu_per_MB (seconds of CPU per MB of input), memory_KiB (the stream's
// memory at its largest).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/model.h"
#include "l7/gateway/compress_encoder.h"

namespace ringlb::l7 {
namespace {

constexpr size_t kCorpusBytes = 100 * 1024;
constexpr size_t kPiece = 16 * 1024;

// splitmix64: the same corpus on every machine and library version.
class Rng {
 public:
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  template <size_t N>
  std::string_view pick(const std::string_view (&words)[N]) {
    return words[below(N)];
  }

 private:
  uint64_t state_ = 42;
};

constexpr std::string_view kWords[] = {
    "product",  "shipping", "available", "customer", "account", "checkout", "delivery",
    "warranty", "review",   "discount",  "order",    "return",  "payment",  "support",
    "the",      "and",      "with",      "for",      "your",    "free",     "new",
    "best",     "price",    "today",     "more",     "details", "color",    "size"};
constexpr std::string_view kClasses[] = {"card",     "card-body", "btn btn-primary", "price-tag",
                                         "nav-item", "col-md-4",  "text-muted",      "badge"};

std::string sentence(Rng& rng) {
  std::string s;
  for (size_t n = 4 + rng.below(12); n > 0; --n) {
    if (!s.empty()) s += ' ';
    s += rng.pick(kWords);
  }
  return s;
}

// A product listing page: nested markup, repeated class names, prices, ids.
std::string htmlCorpus() {
  Rng rng;
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title>"
      "<link rel=\"stylesheet\" href=\"/static/css/main.3f2a9c.css\"></head>\n<body>\n";
  while (s.size() < kCorpusBytes) {
    uint64_t id = 10000 + rng.below(90000);
    s += "<div class=\"" + std::string(rng.pick(kClasses)) + "\" data-id=\"" + std::to_string(id) +
         "\">\n  <a href=\"/products/" + std::to_string(id) + "\">" + sentence(rng) +
         "</a>\n  <span class=\"price-tag\">$" + std::to_string(rng.below(500)) + "." +
         std::to_string(10 + rng.below(90)) + "</span>\n  <p class=\"text-muted\">" +
         sentence(rng) + ". " + sentence(rng) + ".</p>\n</div>\n";
  }
  s.resize(kCorpusBytes);
  return s;
}

// An API answer: an array of records with the same keys, varied values.
std::string jsonCorpus() {
  Rng rng;
  std::string s = "{\"items\":[";
  while (s.size() < kCorpusBytes) {
    uint64_t id = rng.next() % 1000000;
    s += "{\"id\":" + std::to_string(id) + ",\"name\":\"" + sentence(rng) + "\",\"email\":\"user" +
         std::to_string(id % 5000) + "@example.com\",\"created\":\"2024-05-" +
         std::to_string(10 + rng.below(19)) + "T" + std::to_string(10 + rng.below(13)) + ":" +
         std::to_string(10 + rng.below(50)) +
         ":00Z\",\"active\":" + (rng.below(2) ? "true" : "false") +
         ",\"score\":" + std::to_string(rng.below(1000)) + ".5,\"tags\":[\"" +
         std::string(rng.pick(kWords)) + "\",\"" + std::string(rng.pick(kWords)) + "\"]},";
  }
  s.resize(kCorpusBytes);
  return s;
}

void compress(benchmark::State& state, config::ContentCoding coding, const std::string& corpus) {
  std::string out;
  out.reserve(corpus.size() + 1024);
  size_t memory = 0;
  for (auto _ : state) {
    out.clear();
    auto encoder = makeEncoder(coding);
    if (encoder == nullptr) {
      state.SkipWithError("no encoder");
      return;
    }
    bool ok = true;
    for (size_t offset = 0; offset < corpus.size(); offset += kPiece) {
      ok = ok && encoder->write(std::string_view(corpus).substr(offset, kPiece), out);
    }
    memory = std::max(memory, encoder->memoryBytes());
    if (!ok || !encoder->finish(out)) {
      state.SkipWithError("compression failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus.size()));
  state.counters["ratio"] = static_cast<double>(corpus.size()) / static_cast<double>(out.size());
  state.counters["cpu_per_MB"] = benchmark::Counter(
      static_cast<double>(corpus.size()) / 1e6,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["memory_KiB"] = static_cast<double>(memory) / 1024;
}

const std::string& html() {
  static const std::string corpus = htmlCorpus();
  return corpus;
}
const std::string& json() {
  static const std::string corpus = jsonCorpus();
  return corpus;
}

void BM_CompressHtml_Gzip(benchmark::State& s) { compress(s, config::ContentCoding::Gzip, html()); }
void BM_CompressHtml_Zstd(benchmark::State& s) { compress(s, config::ContentCoding::Zstd, html()); }
void BM_CompressHtml_Brotli(benchmark::State& s) {
  compress(s, config::ContentCoding::Brotli, html());
}
void BM_CompressJson_Gzip(benchmark::State& s) { compress(s, config::ContentCoding::Gzip, json()); }
void BM_CompressJson_Zstd(benchmark::State& s) { compress(s, config::ContentCoding::Zstd, json()); }
void BM_CompressJson_Brotli(benchmark::State& s) {
  compress(s, config::ContentCoding::Brotli, json());
}

BENCHMARK(BM_CompressHtml_Gzip);
BENCHMARK(BM_CompressHtml_Zstd);
BENCHMARK(BM_CompressHtml_Brotli);
BENCHMARK(BM_CompressJson_Gzip);
BENCHMARK(BM_CompressJson_Zstd);
BENCHMARK(BM_CompressJson_Brotli);

}  // namespace
}  // namespace ringlb::l7
