#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace flowgate::testing {

// Splits a file of concatenated NetFlow v5 / v9 / IPFIX datagrams (`nc -k` captures in the
// corpus) at the boundaries each header implies. A split is made only where the next bytes
// start with the same version; anything else stays with the current datagram.
inline std::vector<std::span<const uint8_t>> split_datagrams(std::span<const uint8_t> buf) {
  auto be16 = [](const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); };
  std::vector<std::span<const uint8_t>> out;
  size_t off = 0;
  while (off < buf.size()) {
    std::span<const uint8_t> rest = buf.subspan(off);
    const uint16_t ver = rest.size() >= 2 ? be16(rest.data()) : 0;
    size_t header = ver == 5 ? 24 : ver == 9 ? 20 : ver == 10 ? 16 : 0;
    size_t length = rest.size();
    if (header != 0 && rest.size() >= header) {
      if (ver == 5) {
        length = 24 + 48 * size_t{be16(rest.data() + 2)};
      } else if (ver == 10) {
        length = be16(rest.data() + 2);
      } else {
        // v9 has no total length: walk the flowsets; ID 9 cannot start a flowset.
        size_t p = 20;
        while (p + 4 <= rest.size()) {
          const uint16_t id = be16(rest.data() + p);
          const uint16_t len = be16(rest.data() + p + 2);
          if (id == 9 || len < 4) break;
          p += len;
        }
        length = p;
      }
    }
    if (header == 0 || length < header || length >= rest.size() ||
        rest.size() - length < header || be16(rest.data() + length) != ver) {
      out.push_back(rest);
      break;
    }
    out.push_back(rest.first(length));
    off += length;
  }
  return out;
}

}  // namespace flowgate::testing
