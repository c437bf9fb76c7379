// Request heads shared by the parsing and rewriting benchmarks, so that
// their figures are for the same input: a typical browser request (552
// bytes, 12 fields) and a small API request.
#pragma once

#include <string>

namespace ringlb::bench {

inline const std::string kBrowserRequest =
    "GET /articles/2024/io-uring-load-balancing.html?ref=home&utm_source=feed HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Referer: https://www.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=4f2a9c1e7b; theme=dark; consent=yes\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Priority: u=0, i\r\n"
    "\r\n";

inline const std::string kApiRequest =
    "POST /v1/items HTTP/1.1\r\n"
    "Host: api.internal\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 27\r\n"
    "\r\n";

}  // namespace ringlb::bench
