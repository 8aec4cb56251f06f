# SPDX-License-Identifier: Apache-2.0
# Fuzzing (tests/fuzz, issue 3). One target per parser of outside input, tests/fuzz/fuzz_<t>.c,
# linking the core that holds that parser (SC_FUZZ_LIBS_<t>). Each is built once per build:
#  - fuzz_replay_<t>: the target plus a small driver (replay.c) that replays the committed corpus
#    (tests/fuzz/corpus/<t>). ctest runs it as fuzz/replay_<t>: under ASan+UBSan in the asan
#    preset, plainly in the others, and in unsanitized builds once more under valgrind memcheck
#    (fuzz/memcheck_<t>): OpenSSL is not built with ASan, so a memory error inside libcrypto
#    (the unwrap finding in tests/fuzz/README.md) shows only there.
#  - fuzz_<t>: the libFuzzer binary, in the `fuzz` preset (clang, SC_FUZZ=ON, which instruments
#    the whole build, CMakeLists.txt): `build/fuzz/fuzz_profile tests/fuzz/corpus/profile`.
set(SC_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
file(GLOB SC_FUZZ_SOURCES CONFIGURE_DEPENDS ${SC_FUZZ_DIR}/fuzz_*.c)
set(SC_FUZZ_LIBS_profile libselfcert)
set(SC_FUZZ_LIBS_batch libselfcert)
set(SC_FUZZ_LIBS_verify libselfcert)
set(SC_FUZZ_LIBS_unwrap libselfcert)
set(SC_FUZZ_LIBS_dispatch spd_core)
set(SC_FUZZ_LIBS_store spd_core)
set(SC_FUZZ_LIBS_p11config p11_config)
set(SC_FUZZ_LIBS_provd_body provd_core)
set(SC_FUZZ_LIBS_csv selfcert_registry)
set(SC_FUZZ_LIBS_opfile libselfcert)
set(SC_FUZZ_LIBS_agent_state agent_core)
set(SC_FUZZ_LIBS_agent_answer agent_core)
set(SC_FUZZ_LIBS_key_uri libselfcert)

# The shared fixture (a world of keys and certificates made at start-up) and the replay driver.
add_library(sc_fuzz_fixture STATIC ${SC_FUZZ_DIR}/fixture.c)
target_include_directories(sc_fuzz_fixture PUBLIC ${SC_FUZZ_DIR})
target_link_libraries(sc_fuzz_fixture PUBLIC libselfcert selfcert_internal)
add_library(sc_fuzz_replay STATIC ${SC_FUZZ_DIR}/replay.c)
target_link_libraries(sc_fuzz_replay PUBLIC sc_fuzz_fixture)

find_program(SC_VALGRIND_EXE valgrind)
add_custom_target(sc_fuzz_all)
foreach(src ${SC_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" t ${name})
  if(NOT SC_FUZZ_LIBS_${t})
    message(FATAL_ERROR "tests/fuzz/${name}.c: set SC_FUZZ_LIBS_${t} in cmake/fuzz.cmake")
  endif()
  add_library(sc_fuzz_obj_${t} OBJECT ${src})
  target_link_libraries(sc_fuzz_obj_${t} PUBLIC sc_fuzz_fixture ${SC_FUZZ_LIBS_${t}})

  add_executable(fuzz_replay_${t} $<TARGET_OBJECTS:sc_fuzz_obj_${t}>)
  target_link_libraries(fuzz_replay_${t} PRIVATE sc_fuzz_replay ${SC_FUZZ_LIBS_${t}})
  add_dependencies(sc_fuzz_all fuzz_replay_${t})
  add_test(NAME fuzz/replay_${t} COMMAND fuzz_replay_${t} ${SC_FUZZ_DIR}/corpus/${t})
  set_tests_properties(fuzz/replay_${t} PROPERTIES TIMEOUT 300
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  if(NOT SC_SANITIZE AND NOT SC_FUZZ AND SC_VALGRIND_EXE)
    add_test(NAME fuzz/memcheck_${t} COMMAND ${SC_VALGRIND_EXE} -q --error-exitcode=99
      --leak-check=full --errors-for-leak-kinds=definite $<TARGET_FILE:fuzz_replay_${t}>
      ${SC_FUZZ_DIR}/corpus/${t})
    set_tests_properties(fuzz/memcheck_${t} PROPERTIES TIMEOUT 600)
  endif()
  if(SC_FUZZ)
    add_executable(fuzz_${t} $<TARGET_OBJECTS:sc_fuzz_obj_${t}>)
    target_link_libraries(fuzz_${t} PRIVATE sc_fuzz_fixture ${SC_FUZZ_LIBS_${t}})
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    add_dependencies(sc_fuzz_all fuzz_${t})
  endif()
endforeach()

# Writes the seed corpus (tests/fuzz/make-corpus.sh); built only when asked for.
add_executable(fuzz_make_corpus EXCLUDE_FROM_ALL ${SC_FUZZ_DIR}/make_corpus.c)
target_link_libraries(fuzz_make_corpus PRIVATE sc_fuzz_fixture spd_core)
