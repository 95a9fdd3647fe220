#pragma once

#include <string_view>

namespace flowgate::exporter {

// The dashboard (HTML, CSS and script in one page, no external resources), embedded at build
// time from export/dashboard/index.html.
std::string_view dashboard_page();

}  // namespace flowgate::exporter
