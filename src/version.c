/* SPDX-License-Identifier: MIT */
/*
 * The version of the library that is loaded, from the header generated out of
 * the CMake project version when this file was compiled.
 */
#include "internal.h"

unsigned iotlb_version(void)
{
	return IOTLB_VERSION;
}

const char *iotlb_version_string(void)
{
	return IOTLB_VERSION_STRING;
}
