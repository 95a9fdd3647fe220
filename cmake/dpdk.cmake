# DPDK as an imported target with the fixes DPDK_NOTES.md records:
# - its pkg-config appends -march=corei7 after ours, which turns AVX2 off: filter it out;
# - CMake de-duplicates "-include rte_config.h" when another -include is present: keep it whole
#   with SHELL:;
# - headers are SYSTEM so -Werror applies to our code only.
# Only dataplane/ .cpp files that need DPDK link this (it defines likely/unlikely/typeof).
pkg_check_modules(DPDK REQUIRED libdpdk)
if(DPDK_FOUND)
  add_library(flowgate_dpdk INTERFACE)
  target_include_directories(flowgate_dpdk SYSTEM INTERFACE ${DPDK_INCLUDE_DIRS})
  set(_dpdk_cflags "")
  foreach(flag IN LISTS DPDK_CFLAGS_OTHER)
    if(flag MATCHES "^-march=" OR flag STREQUAL "-include" OR flag STREQUAL "rte_config.h")
      continue()
    endif()
    list(APPEND _dpdk_cflags ${flag})
  endforeach()
  target_compile_options(flowgate_dpdk INTERFACE ${_dpdk_cflags} "SHELL:-include rte_config.h")
  target_link_libraries(flowgate_dpdk INTERFACE ${DPDK_LINK_LIBRARIES})
  target_link_options(flowgate_dpdk INTERFACE ${DPDK_LDFLAGS_OTHER})
  set(FLOWGATE_HAVE_DPDK ON)
else()
  set(FLOWGATE_HAVE_DPDK OFF)
endif()
