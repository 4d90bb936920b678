// Invariant checks shared by the fuzz targets: a violated invariant aborts,
// which libFuzzer and the standalone driver both report as a failure.
#pragma once

#include <cstdio>
#include <cstdlib>

#define TALLY_FUZZ_CHECK(cond)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
