# iotlb_add_test(): one cmocka test executable and its ctest entry.
#
#   iotlb_add_test(NAME <name> SOURCES <files...>
#                  [LABELS <labels...>]  default: unit
#                  [TIMEOUT <seconds>]   default: 120
#                  [ARGS <args...>]      command-line arguments of the test
#                  [ENV <k=v...>]        environment of the test
#                  [LIBS <targets...>])  extra libraries to link
#
# The executable links cmocka, iotlb_internal (the static library and the
# private headers of src/), iotlb_test_common (tests/common/: PRNG, scale
# knob, aligned mmap) and Threads. Sanitizer scale hints reach tests
# through the environment (IOTLB_TEST_SCALE, set by `make test`).

include_guard(GLOBAL)

find_package(PkgConfig REQUIRED)
pkg_check_modules(CMOCKA IMPORTED_TARGET GLOBAL cmocka)
if(NOT CMOCKA_FOUND)
	message(FATAL_ERROR "The tests need cmocka (Debian: libcmocka-dev); "
		"install it or configure with -DIOTLB_BUILD_TESTS=OFF")
endif()

# Tests are held to the usual warnings, but a warning in a test never breaks
# the build: -Werror (IOTLB_WERROR) applies to the library only.
set(IOTLB_TEST_WARNINGS -Wall -Wextra -Wshadow)

function(iotlb_add_test)
	cmake_parse_arguments(PARSE_ARGV 0 T "" "NAME;TIMEOUT" "SOURCES;LABELS;ARGS;ENV;LIBS")
	if(T_UNPARSED_ARGUMENTS)
		message(FATAL_ERROR "iotlb_add_test: unknown arguments: ${T_UNPARSED_ARGUMENTS}")
	endif()
	if(NOT T_NAME)
		message(FATAL_ERROR "iotlb_add_test: NAME is required")
	endif()
	if(NOT T_SOURCES)
		message(FATAL_ERROR "iotlb_add_test(${T_NAME}): SOURCES is required")
	endif()
	if(NOT T_LABELS)
		set(T_LABELS unit)
	endif()
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 120)
	endif()

	add_executable(${T_NAME} ${T_SOURCES})
	target_link_libraries(${T_NAME} PRIVATE PkgConfig::CMOCKA iotlb_internal iotlb_test_common
		Threads::Threads ${T_LIBS})
	target_compile_options(${T_NAME} PRIVATE ${IOTLB_TEST_WARNINGS})

	add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
	set_tests_properties(${T_NAME} PROPERTIES
		LABELS "${T_LABELS}"
		TIMEOUT ${T_TIMEOUT})
	if(T_ENV)
		set_tests_properties(${T_NAME} PROPERTIES ENVIRONMENT "${T_ENV}")
	endif()
endfunction()
