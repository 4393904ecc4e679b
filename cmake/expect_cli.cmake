# Runs one command line of a benchmark tool and checks how it fails (or
# succeeds): the exit status, a pattern its standard error (or output) must
# match, and at most how many lines of standard error it prints, so that a
# usage error stays a message and one pointer to --help, not the whole usage
# text. cmake -DEXE=... -DARGS="a|b" -DRC=2 -DERR_REGEX=... [-DOUT_REGEX=...]
# [-DMAX_ERR_LINES=2] -P cmake/expect_cli.cmake. Used by the CLI tests of bench/
# and examples/
cmake_minimum_required(VERSION 3.20)

string(REPLACE "|" ";" ARGS "${ARGS}")

execute_process(COMMAND "${EXE}" ${ARGS}
	RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(shown "command: ${EXE} ${ARGS}\nexit status: ${rc}\nstdout:\n${out}\nstderr:\n${err}")
if(NOT rc STREQUAL RC)
	message(FATAL_ERROR "expected exit status ${RC}\n${shown}")
endif()
if(DEFINED ERR_REGEX AND NOT err MATCHES "${ERR_REGEX}")
	message(FATAL_ERROR "stderr does not match '${ERR_REGEX}'\n${shown}")
endif()
if(DEFINED OUT_REGEX AND NOT out MATCHES "${OUT_REGEX}")
	message(FATAL_ERROR "stdout does not match '${OUT_REGEX}'\n${shown}")
endif()
if(DEFINED MAX_ERR_LINES)
	string(REGEX MATCHALL "\n" newlines "${err}")
	list(LENGTH newlines nlines)
	if(nlines GREATER MAX_ERR_LINES)
		message(FATAL_ERROR "stderr has ${nlines} lines, at most ${MAX_ERR_LINES} expected\n${shown}")
	endif()
endif()
message(STATUS "as expected: exit status ${rc}\n${shown}")
