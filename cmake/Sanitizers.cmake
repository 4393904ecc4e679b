# Sanitizer builds (IOTLB_SANITIZE). The flags are added directory-wide, so
# every target created afterwards (library, tests, examples, benchmarks) is
# compiled and linked with them; IOTLB_SANITIZE_FLAGS is left for scripts that
# build outside this project (the install consumer test).

function(iotlb_setup_sanitizers)
	set(flags "")
	set(value "${IOTLB_SANITIZE}")
	string(STRIP "${value}" value)
	if(NOT value STREQUAL "")
		string(REPLACE "," ";" kinds "${value}")
		foreach(kind IN LISTS kinds)
			if(NOT kind MATCHES "^(address|undefined|thread|leak)$")
				message(FATAL_ERROR "IOTLB_SANITIZE: unknown sanitizer '${kind}' "
					"(use \"address,undefined\" or \"thread\")")
			endif()
		endforeach()
		if("thread" IN_LIST kinds AND ("address" IN_LIST kinds OR "leak" IN_LIST kinds))
			message(FATAL_ERROR "IOTLB_SANITIZE: thread cannot be combined with address/leak")
		endif()

		list(APPEND flags "-fsanitize=${value}" -fno-omit-frame-pointer)
		if("undefined" IN_LIST kinds)
			# A UB report must fail the test that caused it.
			list(APPEND flags -fno-sanitize-recover=undefined)
		endif()
		if("thread" IN_LIST kinds)
			# TSan is documented to need some optimisation and debug info
			# for usable reports; appended last so they win over -O2/-O3.
			list(APPEND flags -O1 -g)
		endif()
		add_compile_options(${flags})
		add_link_options(-fsanitize=${value})
	endif()
	set(IOTLB_SANITIZE_FLAGS "${flags}" PARENT_SCOPE)
endfunction()
