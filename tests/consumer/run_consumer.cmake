# Driver of the install consumer test (cmake -P). Every step must succeed:
#   1. cmake --install the build tree into WORK_DIR/prefix
#   2. configure, build and run tests/consumer/project (find_package(iotlb))
#   3. compile, link and run project/main.c with `pkg-config --cflags --libs iotlb`
#   4. the same with `pkg-config --static --libs iotlb` against libiotlb.a
cmake_minimum_required(VERSION 3.20)

foreach(var IOTLB_BUILD_DIR IOTLB_VERSION WORK_DIR CONSUMER_SRC LIBDIR C_COMPILER GENERATOR)
	if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
		message(FATAL_ERROR "run_consumer.cmake: -D${var}= is required")
	endif()
endforeach()

separate_arguments(extra_flags UNIX_COMMAND "${EXTRA_FLAGS}")
set(prefix "${WORK_DIR}/prefix")
set(libdir "${prefix}/${LIBDIR}")

# Run one command; stop the test with its name if it fails.
function(step what)
	message(STATUS "consumer: ${what}")
	execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc COMMAND_ECHO STDOUT)
	if(NOT rc EQUAL 0)
		message(FATAL_ERROR "consumer: FAILED: ${what} (exit status: ${rc})")
	endif()
endfunction()

# Run one command and return its standard output.
function(capture out what)
	execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE text
		OUTPUT_STRIP_TRAILING_WHITESPACE)
	if(NOT rc EQUAL 0)
		message(FATAL_ERROR "consumer: FAILED: ${what} (exit status: ${rc})")
	endif()
	set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Dynamic dependencies of an ELF file, or "" when readelf is not available.
find_program(READELF readelf)
function(needed out file)
	set(${out} "" PARENT_SCOPE)
	if(READELF)
		capture(text "readelf -d ${file}" "${READELF}" -d "${file}")
		set(${out} "${text}" PARENT_SCOPE)
	endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# ------------------------------------------------------------------ 1. install

set(config_args "")
if(CONFIG)
	set(config_args --config "${CONFIG}")
endif()
step("install to ${prefix}"
	"${CMAKE_COMMAND}" --install "${IOTLB_BUILD_DIR}" --prefix "${prefix}" ${config_args})

foreach(f include/iotlb/iotlb.h include/iotlb/stats.h
		${LIBDIR}/libiotlb.so ${LIBDIR}/libiotlb.so.0 ${LIBDIR}/libiotlb.a
		${LIBDIR}/cmake/iotlb/iotlbConfig.cmake
		${LIBDIR}/cmake/iotlb/iotlbConfigVersion.cmake
		${LIBDIR}/cmake/iotlb/iotlbTargets.cmake
		${LIBDIR}/pkgconfig/iotlb.pc)
	if(NOT EXISTS "${prefix}/${f}")
		message(FATAL_ERROR "consumer: FAILED: ${f} was not installed")
	endif()
endforeach()

needed(dyn "${libdir}/libiotlb.so")
if(READELF AND NOT dyn MATCHES "Library soname: \\[libiotlb\\.so\\.0\\]")
	message(FATAL_ERROR "consumer: FAILED: libiotlb.so has no SONAME libiotlb.so.0:\n${dyn}")
endif()

# Only the IOTLB_API symbols may leave the shared object.
find_program(NM nm)
if(NM)
	capture(syms "nm -D --defined-only libiotlb.so"
		"${NM}" -D --defined-only "${libdir}/libiotlb.so")
	if(NOT syms MATCHES " T iotlb_mem_create(\n|$)")
		message(FATAL_ERROR "consumer: FAILED: iotlb_mem_create is not exported")
	endif()
	if(syms MATCHES " iotlb__")
		message(FATAL_ERROR "consumer: FAILED: internal iotlb__ symbols are exported:\n${syms}")
	endif()
endif()

set(ENV{LD_LIBRARY_PATH} "${libdir}")
set(ENV{PKG_CONFIG_PATH} "${libdir}/pkgconfig")

# --------------------------------------------------------- 2. CMake package

list(JOIN extra_flags " " cflags_string)
step("configure the consumer project"
	"${CMAKE_COMMAND}" -S "${CONSUMER_SRC}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
	"-DCMAKE_C_COMPILER=${C_COMPILER}"
	"-DCMAKE_C_FLAGS=${cflags_string}"
	"-DCMAKE_BUILD_TYPE=Debug"
	"-DCMAKE_PREFIX_PATH=${prefix}"
	"-DEXPECTED_PREFIX=${prefix}")
step("build the consumer project" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")

needed(dyn "${WORK_DIR}/build/consumer")
if(READELF AND NOT dyn MATCHES "libiotlb\\.so\\.0")
	message(FATAL_ERROR "consumer: FAILED: consumer does not load libiotlb.so.0:\n${dyn}")
endif()
step("run consumer (iotlb::iotlb)" "${WORK_DIR}/build/consumer")
step("run consumer_static (iotlb::iotlb_static)" "${WORK_DIR}/build/consumer_static")

# ----------------------------------------------------------------- 3. pkg-config

if(NOT PKG_CONFIG)
	find_program(PKG_CONFIG pkg-config)
endif()
if(NOT PKG_CONFIG)
	message(FATAL_ERROR "consumer: FAILED: pkg-config not found")
endif()

capture(version "pkg-config --modversion iotlb" "${PKG_CONFIG}" --modversion iotlb)
if(NOT version STREQUAL IOTLB_VERSION)
	message(FATAL_ERROR "consumer: FAILED: iotlb.pc says version ${version}, "
		"expected ${IOTLB_VERSION}")
endif()

capture(pc_cflags "pkg-config --cflags iotlb" "${PKG_CONFIG}" --cflags iotlb)
capture(pc_libs "pkg-config --libs iotlb" "${PKG_CONFIG}" --libs iotlb)
separate_arguments(pc_cflags UNIX_COMMAND "${pc_cflags}")
separate_arguments(pc_libs UNIX_COMMAND "${pc_libs}")
message(STATUS "consumer: pkg-config: ${pc_cflags} ${pc_libs}")

set(main_c "${CONSUMER_SRC}/main.c")
set(exe "${WORK_DIR}/consumer_pc")
step("compile and link with pkg-config"
	"${C_COMPILER}" ${extra_flags} ${pc_cflags} "${main_c}" -o "${exe}" ${pc_libs})
step("run consumer_pc" "${exe}")

# ------------------------------------------------------ 4. pkg-config --static

capture(pc_static "pkg-config --static --libs iotlb" "${PKG_CONFIG}" --static --libs iotlb)
separate_arguments(pc_static UNIX_COMMAND "${pc_static}")
if(NOT "-liotlb" IN_LIST pc_static)
	message(FATAL_ERROR "consumer: FAILED: no -liotlb in pkg-config --static --libs: ${pc_static}")
endif()
# -liotlb would pick the shared object; ask the linker for the archive itself.
list(TRANSFORM pc_static REPLACE "^-liotlb$" "-l:libiotlb.a")
message(STATUS "consumer: pkg-config --static: ${pc_static}")

set(exe "${WORK_DIR}/consumer_pc_static")
step("compile and link with pkg-config --static"
	"${C_COMPILER}" ${extra_flags} ${pc_cflags} "${main_c}" -o "${exe}" ${pc_static})
needed(dyn "${exe}")
if(dyn MATCHES "libiotlb")
	message(FATAL_ERROR "consumer: FAILED: static consumer still loads libiotlb:\n${dyn}")
endif()
step("run consumer_pc_static" "${exe}")

message(STATUS "consumer: all steps passed")
