#pragma once

#include "decode/prefetch.hpp"

namespace flowgate::exporter {

// The exporter's tables prefetch as the decoder's blocks do: one definition.
using decode::prefetch;
using decode::prefetch_for_write;

}  // namespace flowgate::exporter
