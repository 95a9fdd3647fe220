# The ThreadSanitizer stage (FLOWGATE_TSAN, scripts/build.sh tsan): only the tests whose code
# runs threads, in their own executable so that the TSan build compiles a handful of test
# files rather than all of them. Run with `ctest --test-dir build-tsan -L tsan`.
#   spsc_ring_test            the worker -> exporter rings, two threads at once
#   doorbell_test             the exporter's sleep and the workers' rings that end it
#   record_pipeline_sink_test the exporter -> sink-thread hand-off of batches
#   line_sink_test            the exporter -> fg-file-writer hand-off of direct I/O buffers
#   live_collector_test       the binary (built with TSan too) under load, SIGTERM drain,
#                             SIGHUP reopen, HTTP retries: workers, exporter, sinks, metrics
# A race in the flowgate child makes it exit 66 (TSan's exit code), which those tests see.
set(FLOWGATE_TSAN_TEST_SOURCES
  ${CMAKE_SOURCE_DIR}/tests/dataplane/spsc_ring_test.cpp
  ${CMAKE_SOURCE_DIR}/tests/dataplane/doorbell_test.cpp
  ${CMAKE_SOURCE_DIR}/tests/export/record_pipeline_sink_test.cpp
  ${CMAKE_SOURCE_DIR}/tests/export/line_sink_test.cpp
  ${CMAKE_SOURCE_DIR}/tests/app/live_collector_test.cpp)

add_executable(flowgate_tsan_tests ${FLOWGATE_TSAN_TEST_SOURCES})
target_link_libraries(flowgate_tsan_tests PRIVATE flowgate_options flowgate_dataplane flowgate_export
                      flowgate_config flowgate_decode simdjson::simdjson GTest::gtest_main
                      GTest::gmock)
target_compile_options(flowgate_tsan_tests PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-stringop-overflow>)
target_compile_definitions(flowgate_tsan_tests PRIVATE
  FLOWGATE_CORPUS_DIR="${FLOWGATE_CORPUS_DIR}"
  FLOWGATE_TEST_DATA_DIR="${CMAKE_SOURCE_DIR}/tests/data"
  FLOWGATE_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  FLOWGATE_BINARY="$<TARGET_FILE:flowgate>")
add_dependencies(flowgate_tsan_tests flowgate)
gtest_discover_tests(flowgate_tsan_tests TEST_PREFIX "tsan." DISCOVERY_TIMEOUT 60
                     PROPERTIES LABELS tsan TIMEOUT 300
                     ENVIRONMENT "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1")
