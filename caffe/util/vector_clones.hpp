// CAFFE_VECTOR_CLONES marks a host function that GCC compiles for AVX-512 and AVX2 as well as the
// baseline, the loader picking the best the CPU has (function multi-versioning): the build
// targets baseline x86-64, where a vectorised loop is 4 floats wide.  Functions it calls are
// inlined into each clone (small inline functions are; force the others with
// CAFFE_ALWAYS_INLINE), so they are compiled for the same instruction set.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CAFFE_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CAFFE_VECTOR_CLONES
#endif
#define CAFFE_ALWAYS_INLINE inline __attribute__((always_inline))
