# streamreg-bench: streamreg against the floor and against Redis, LMDB, TDB and
# the seed design, in one run.  A comparator whose library pkg-config cannot
# find is compiled out and reported as skipped at run time.
file(GLOB SR_BENCH_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
pkg_check_modules(SR_BENCH_HIREDIS IMPORTED_TARGET hiredis)
pkg_check_modules(SR_BENCH_LMDB IMPORTED_TARGET lmdb)
pkg_check_modules(SR_BENCH_TDB IMPORTED_TARGET tdb)

set(_bench_sources)
foreach(src ${SR_BENCH_SOURCES})
  get_filename_component(name ${src} NAME)
  if(name MATCHES "^(backend_redis|redis_server)\\.c$" AND NOT SR_BENCH_HIREDIS_FOUND)
    continue()
  endif()
  if(name STREQUAL "backend_lmdb.c" AND NOT SR_BENCH_LMDB_FOUND)
    continue()
  endif()
  if(name STREQUAL "backend_tdb.c" AND NOT SR_BENCH_TDB_FOUND)
    continue()
  endif()
  list(APPEND _bench_sources ${src})
endforeach()

add_executable(streamreg-bench ${_bench_sources})
target_link_libraries(streamreg-bench PRIVATE streamreg Threads::Threads m)
foreach(dep HIREDIS LMDB TDB)
  if(SR_BENCH_${dep}_FOUND)
    target_link_libraries(streamreg-bench PRIVATE PkgConfig::SR_BENCH_${dep})
    target_compile_definitions(streamreg-bench PRIVATE SR_BENCH_HAVE_${dep})
  else()
    message(STATUS "streamreg-bench: ${dep} not found, that comparator is compiled out")
  endif()
endforeach()
install(TARGETS streamreg-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

if(BUILD_TESTING)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    add_test(NAME bench_quick_json
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/check_bench_json.py
                     $<TARGET_FILE:streamreg-bench>)
    set_tests_properties(bench_quick_json PROPERTIES LABELS "bench" TIMEOUT 120 RUN_SERIAL TRUE)
    # Ctrl-C and SIGTERM mid-run: the harness dies of them, leaving no file,
    # directory, mount or process behind.
    add_test(NAME bench_interrupt
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/check_bench_interrupt.py
                     $<TARGET_FILE:streamreg-bench>)
    set_tests_properties(bench_interrupt PROPERTIES LABELS "bench" TIMEOUT 600 RUN_SERIAL TRUE)
  endif()
endif()
