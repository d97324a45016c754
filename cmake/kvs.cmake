# Helpers shared by every folder's CMakeLists.txt.

# Warnings for project code only (not for third-party headers, which come in as SYSTEM).
function(kvs_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wimplicit-fallthrough)
  if(KVS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# kvs_library(NAME SOURCES a.cc ... DEPS lib ...): one static library per src/ folder.
# Headers are included as "layer/file.h" from src/.
function(kvs_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  kvs_warnings(${name})
endfunction()

# kvs_test(NAME SOURCES a_test.cc ... DEPS lib ... [LABELS l ...]): a GoogleTest binary whose
# cases are registered with CTest one by one. Label "tsan" marks tests the TSan build runs.
include(GoogleTest)
# `cmake --build DIR --target kvs_tests` builds every test of this configuration and only
# what they need (the TSan build thus skips the executables no TSan test runs).
add_custom_target(kvs_tests)
function(kvs_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  # The TSan build runs only the concurrency tests; the fuzz build only the fuzzers.
  if(KVS_FUZZ OR (KVS_SANITIZE STREQUAL "thread" AND NOT "tsan" IN_LIST ARG_LABELS))
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  add_dependencies(kvs_tests ${name})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  kvs_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  # An empty LABELS value would be dropped on the way through gtest_discover_tests and shift
  # TIMEOUT into the label list: pass LABELS only when there are some.
  set(props TIMEOUT ${ARG_TIMEOUT})
  if(KVS_SANITIZE STREQUAL "thread")
    list(APPEND props ENVIRONMENT "TSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/tsan.supp")
  endif()
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()

# kvs_bench(NAME SOURCES a_bench.cc ... DEPS lib ...): a Google Benchmark binary in bin/.
function(kvs_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  kvs_warnings(${name})
endfunction()
