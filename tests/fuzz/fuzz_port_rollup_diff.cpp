// Differential libFuzzer target for exporter::PortRollup: the input is a sequence of flows and
// rotations applied both to PortRollup and to the reference model
// (tests/support/model_rollup.hpp: maps of sets per generation). After every flow both must
// name the same ephemeral port (none, source or destination). The tables are small, so pairs
// crowd them and sit away from their home slots, pairs spill to key slots, and rotations move
// what is kept along its probe run. Once PortRollup reports a flow it could not track (a full
// table, which the model does not have), the input stops being compared. Any disagreement
// traps.
//
// Byte 0 sets the threshold (1 + byte % 11), byte 1 the capacity (16 << byte % 7: 16 to 1,024
// tracked keys, half as many pairs). Then one operation is 4 bytes:
//   [op][a][b][c]
//   op % 16 == 15: a rotation of both; otherwise a flow of source address a & 15, destination
//   a >> 4, source port 1000 + (b & 31), destination port 80 + (c & 15).

#include <cstddef>
#include <cstdint>

#include "decode/ip_address.hpp"
#include "export/port_rollup.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/support/model_rollup.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using flowgate::decode::IpAddress;
  if (size < 2) return 0;
  const uint32_t threshold = 1 + data[0] % flowgate::exporter::PortRollup::kMaxThreshold;
  const uint32_t capacity = 16u << (data[1] % 7);
  flowgate::exporter::PortRollup rollup(threshold, capacity);
  flowgate::testing::ModelRollup model(threshold);
  for (size_t at = 2; at + 4 <= size; at += 4) {
    const uint8_t op = data[at], a = data[at + 1], b = data[at + 2], c = data[at + 3];
    if (op % 16 == 15) {
      rollup.rotate();
      model.rotate();
      continue;
    }
    const uint32_t src = a & 15u, dst = a >> 4;
    const auto src_port = static_cast<uint16_t>(1000 + (b & 31));
    const auto dst_port = static_cast<uint16_t>(80 + (c & 15));
    const auto got =
        rollup.add(IpAddress::from_v4(src), IpAddress::from_v4(dst), src_port, dst_port);
    const auto want = model.add(src, dst, src_port, dst_port);
    if (rollup.untracked() != 0) return 0;  // a full table: the model has no such bound
    FLOWGATE_FUZZ_CHECK(got == want);
    FLOWGATE_FUZZ_CHECK(rollup.tracked_pairs() <= capacity / 2);
  }
  return 0;
}
