/* The bridge between Python and the emulator's C core: all that
 * emulator._native.lib offers, as the headers of the units that define it.
 *
 * build.py hands cffi this header and the headers it includes ("..."), read as the
 * preprocessor reads them with HIL_PUBLIC_ONLY defined: without the units'
 * internal parts (#ifndef HIL_PUBLIC_ONLY ... #endif) and without preprocessor
 * lines other than integer #defines (cffi takes those). The C units include the
 * same headers, so Python and C cannot drift apart: a changed signature fails the
 * build rather than corrupting memory at run time. A new unit with functions for
 * Python adds its header here.
 */
#ifndef HIL_CORE_H
#define HIL_CORE_H

#include "arrays.h"
#include "isa.h"
#include "rng.h"
#include "thread_pool.h"
#include "bss2/mac.h"
#include "bss2/lif.h"
#include "dynapse2/dpi.h"
#include "crossbar/tile.h"

#endif
