// nvcuda::wmma for kernel sources: the toolkit's <mma.h> under nvcc, the emulator's version
// (kernels/emu/wmma.h) in the emulated build.
#pragma once

#if defined(DEEPER_EMU)
#include "kernels/emu/wmma.h"
#else
#include <mma.h>
#endif
