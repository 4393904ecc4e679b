# README quick start test (cmake -P): does the program and the commands of
# README.md's "Quick start" work as written, for a newcomer who has only the
# README? Steps:
#   1. install the build tree into HOME/iotlb, HOME being a fresh directory:
#      the equivalent of the README's `make install PREFIX=$HOME/iotlb`
#      (the test must not rebuild the tree it is part of);
#   2. write the README's C block to quick.c;
#   3. run the README's shell block verbatim with sh -e, with HOME set (the
#      README uses it) and LD_LIBRARY_PATH, PKG_CONFIG_PATH, LIBRARY_PATH,
#      C_INCLUDE_PATH and CPATH removed, so nothing the README does not say
#      helps the program build or find libiotlb.so.0;
#   4. check the program's output.
cmake_minimum_required(VERSION 3.20)

foreach(var IOTLB_BUILD_DIR README WORK_DIR)
	if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
		message(FATAL_ERROR "run_quickstart.cmake: -D${var}= is required")
	endif()
endforeach()

file(READ "${README}" readme)
string(FIND "${readme}" "\n## Quick start\n" at)
if(at LESS 0)
	message(FATAL_ERROR "quickstart: no '## Quick start' section in ${README}")
endif()
string(SUBSTRING "${readme}" ${at} -1 section)
string(FIND "${section}" "\n## " end)
string(SUBSTRING "${section}" 1 -1 rest)
string(FIND "${rest}" "\n## " end)
if(end GREATER 0)
	string(SUBSTRING "${rest}" 0 ${end} section)
endif()

# The fenced blocks of the section, in order: ```c (the program), then two
# ```sh blocks: the install line, then the build-and-run commands. (CMake
# regular expressions are greedy, so the fences are found with FIND.)
set(blocks "")
set(kinds "")
while(TRUE)
	string(REGEX MATCH "\n```([a-z]+)\n" open "${section}")
	if(NOT open)
		break()
	endif()
	set(kind "${CMAKE_MATCH_1}")
	string(FIND "${section}" "${open}" at)
	string(LENGTH "${open}" len)
	math(EXPR body_at "${at} + ${len}")
	string(SUBSTRING "${section}" ${body_at} -1 section)
	string(FIND "${section}" "\n```\n" close)
	if(close LESS 0)
		message(FATAL_ERROR "quickstart: an unclosed ```${kind} block in the Quick start")
	endif()
	string(SUBSTRING "${section}" 0 ${close} body)
	math(EXPR after "${close} + 4")
	string(SUBSTRING "${section}" ${after} -1 section)
	string(REPLACE ";" "\\;" body "${body}")
	list(APPEND blocks "${body}")
	list(APPEND kinds "${kind}")
endwhile()
if(NOT kinds STREQUAL "c;sh;sh")
	message(FATAL_ERROR "quickstart: expected a ```c block and two ```sh blocks in the "
		"Quick start section, found: ${kinds}")
endif()
list(GET blocks 0 program)
list(GET blocks 1 install_block)
list(GET blocks 2 commands)

# Step 1 does what the install block says; make sure that is still it.
if(NOT install_block MATCHES "make install PREFIX=\\$HOME/iotlb")
	message(FATAL_ERROR "quickstart: the README's install line changed; update this test:\n"
		"${install_block}")
endif()

set(home "${WORK_DIR}/home")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${home}" "${WORK_DIR}/src")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${IOTLB_BUILD_DIR}"
	--prefix "${home}/iotlb" RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "quickstart: cmake --install failed (${rc})")
endif()

file(WRITE "${WORK_DIR}/src/quick.c" "${program}\n")
file(WRITE "${WORK_DIR}/src/commands.sh" "${commands}\n")
message(STATUS "quickstart: running, in ${WORK_DIR}/src with HOME=${home}:\n${commands}")
execute_process(
	COMMAND "${CMAKE_COMMAND}" -E env --unset=LD_LIBRARY_PATH --unset=PKG_CONFIG_PATH
		--unset=LIBRARY_PATH --unset=C_INCLUDE_PATH --unset=CPATH "HOME=${home}"
		sh -e commands.sh
	WORKING_DIRECTORY "${WORK_DIR}/src"
	RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "quickstart: exit status ${rc}\nstdout:\n${out}\nstderr:\n${err}")
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "quickstart: FAILED: the README's commands exit with ${rc}")
endif()
if(NOT out MATCHES "bounced to 0x[0-9a-f]+: hello, device")
	message(FATAL_ERROR "quickstart: FAILED: the program did not print its bounce line")
endif()
message(STATUS "quickstart: the README's quick start works as written")
