#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "tests/support/byte_writer.hpp"

namespace flowgate::testing {

// Builders for NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) datagrams in tests and
// fuzz seeds. They write what the caller says, including wrong lengths and IDs, so that every
// malformed shape can be built; only the IPFIX message length is filled in by build() unless
// set explicitly.

// A template field specifier. `pen` != 0 sets the IPFIX enterprise bit and appends the PEN
// (RFC 7011 §3.2); in v9 a vendor field is just an ID ≥ 32768.
struct WireField {
  uint16_t id = 0;
  uint16_t length = 0;
  uint32_t pen = 0;
};

inline constexpr uint16_t kVariableLength = 0xffff;

// One NetFlow v5 record (Cisco's NetFlow Export Datagram Format, 48 bytes).
struct V5Record {
  uint32_t src = 0, dst = 0, next_hop = 0;
  uint16_t in_if = 0, out_if = 0;
  uint32_t packets = 0, bytes = 0;
  uint32_t first = 0, last = 0;  // sysUptime ms
  uint16_t src_port = 0, dst_port = 0;
  uint8_t tcp_flags = 0, protocol = 0, tos = 0;
  uint16_t src_as = 0, dst_as = 0;
  uint8_t src_mask = 0, dst_mask = 0;
};

struct V5Header {
  uint16_t version = 5;
  int32_t count = -1;  // -1: the number of records
  uint32_t uptime_ms = 0;
  uint32_t unix_secs = 0;
  uint32_t unix_nsecs = 0;
  uint32_t sequence = 0;
  uint8_t engine_type = 0;
  uint8_t engine_id = 0;
  uint16_t sampling = 0;  // mode in the top 2 bits, interval in the low 14
};

inline std::vector<uint8_t> netflow5(const V5Header& h, std::span<const V5Record> records) {
  ByteWriter w;
  w.u16(h.version)
      .u16(static_cast<uint16_t>(h.count < 0 ? records.size() : static_cast<size_t>(h.count)))
      .u32(h.uptime_ms)
      .u32(h.unix_secs)
      .u32(h.unix_nsecs)
      .u32(h.sequence)
      .u8(h.engine_type)
      .u8(h.engine_id)
      .u16(h.sampling);
  for (const V5Record& r : records) {
    w.u32(r.src).u32(r.dst).u32(r.next_hop).u16(r.in_if).u16(r.out_if).u32(r.packets).u32(r.bytes);
    w.u32(r.first).u32(r.last).u16(r.src_port).u16(r.dst_port).u8(0).u8(r.tcp_flags);
    w.u8(r.protocol).u8(r.tos).u16(r.src_as).u16(r.dst_as).u8(r.src_mask).u8(r.dst_mask).u16(0);
  }
  return w.data();
}

inline std::vector<uint8_t> netflow5(const V5Header& h, std::initializer_list<V5Record> records) {
  return netflow5(h, std::span<const V5Record>(records.begin(), records.size()));
}

// A NetFlow v9 or IPFIX datagram: header, then sets appended in order.
class FlowDatagram {
 public:
  static FlowDatagram netflow9(uint32_t uptime_ms, uint32_t unix_secs, uint32_t source_id,
                               uint32_t sequence = 0) {
    FlowDatagram d(false);
    d.w_.u16(9).u16(0).u32(uptime_ms).u32(unix_secs).u32(sequence).u32(source_id);
    return d;
  }
  static FlowDatagram ipfix(uint32_t export_secs, uint32_t domain, uint32_t sequence = 0) {
    FlowDatagram d(true);
    d.w_.u16(10).u16(0).u32(export_secs).u32(sequence).u32(domain);
    return d;
  }

  // A template set (v9 ID 0, IPFIX ID 2) with one template record per call.
  FlowDatagram& template_set(uint16_t template_id, std::initializer_list<WireField> fields) {
    ByteWriter b;
    template_record(b, template_id, fields);
    return set(ipfix_ ? 2 : 0, b);
  }

  // An options template set (v9 ID 1, IPFIX ID 3) with one record. v9: scope fields are
  // (scope type, length) pairs and the set is padded to 4 bytes; IPFIX: scope fields are
  // information elements, counted in the scope field count.
  FlowDatagram& options_template_set(uint16_t template_id, std::initializer_list<WireField> scopes,
                                     std::initializer_list<WireField> options) {
    ByteWriter b;
    if (ipfix_) {
      b.u16(template_id)
          .u16(static_cast<uint16_t>(scopes.size() + options.size()))
          .u16(static_cast<uint16_t>(scopes.size()));
      for (const WireField& f : scopes) field(b, f);
      for (const WireField& f : options) field(b, f);
      return set(3, b);
    }
    b.u16(template_id)
        .u16(static_cast<uint16_t>(scopes.size() * 4))
        .u16(static_cast<uint16_t>(options.size() * 4));
    for (const WireField& f : scopes) field(b, f);
    for (const WireField& f : options) field(b, f);
    while (b.size() % 4 != 0) b.u8(0);
    return set(1, b);
  }

  // A data set whose body is `records` (padding included if the caller wants it).
  FlowDatagram& data_set(uint16_t template_id, const ByteWriter& records) {
    return set(template_id, records);
  }

  // Any set: ID, length = 4 + body, body.
  FlowDatagram& set(uint16_t set_id, const ByteWriter& body) {
    return set(set_id, std::span<const uint8_t>(body.data()));
  }
  FlowDatagram& set(uint16_t set_id, std::span<const uint8_t> body) {
    w_.u16(set_id).u16(static_cast<uint16_t>(body.size() + 4)).bytes(body);
    ++sets_;
    return *this;
  }
  // Bytes after the last set (padding, garbage, a hand-made set header).
  FlowDatagram& raw(std::initializer_list<uint8_t> b) {
    w_.bytes(b);
    return *this;
  }
  FlowDatagram& zeros(size_t n) {
    w_.zeros(n);
    return *this;
  }
  // v9 header count (records, per RFC 3954 §5.1; decoders must not trust it).
  FlowDatagram& count(uint16_t c) {
    count_ = c;
    return *this;
  }
  // IPFIX message length; by default the built size.
  FlowDatagram& length(uint16_t l) {
    length_ = l;
    return *this;
  }

  std::vector<uint8_t> build() const {
    ByteWriter out = w_;
    if (ipfix_) {
      out.patch_u16(2, length_ >= 0 ? static_cast<uint16_t>(length_)
                                    : static_cast<uint16_t>(out.size()));
    } else {
      out.patch_u16(2, count_ >= 0 ? static_cast<uint16_t>(count_) : static_cast<uint16_t>(sets_));
    }
    return out.data();
  }

  // A template record: ID, field count, fields (no set header), for hand-made sets.
  static void template_record(ByteWriter& b, uint16_t template_id,
                              std::initializer_list<WireField> fields) {
    b.u16(template_id).u16(static_cast<uint16_t>(fields.size()));
    for (const WireField& f : fields) field(b, f);
  }
  static void field(ByteWriter& b, const WireField& f) {
    b.u16(static_cast<uint16_t>(f.pen != 0 ? (f.id | 0x8000) : f.id)).u16(f.length);
    if (f.pen != 0) b.u32(f.pen);
  }

 private:
  explicit FlowDatagram(bool ipfix) : ipfix_(ipfix) {}

  bool ipfix_;
  ByteWriter w_;
  int sets_ = 0;
  int count_ = -1;
  int length_ = -1;
};

// The NetFlow v9 header the decoder tests share: sysUptime, export time and source ID, and a
// datagram that carries them.
namespace v9 {
inline constexpr uint32_t kUptime = 100'000;
inline constexpr uint32_t kUnixSecs = 1'692'077'976;
inline constexpr uint64_t kExportMs = uint64_t{kUnixSecs} * 1000;
inline constexpr uint32_t kSourceId = 42;

inline FlowDatagram datagram(uint32_t source_id = kSourceId, uint32_t sequence = 9) {
  return FlowDatagram::netflow9(kUptime, kUnixSecs, source_id, sequence);
}
}  // namespace v9

}  // namespace flowgate::testing
