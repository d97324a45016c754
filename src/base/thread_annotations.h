// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html),
// as in LevelDB's port/thread_annotations.h: they say which mutex guards which field and
// which lock a function needs, and `scripts/check-thread-safety` (part of `make test`) has
// clang check them with -Wthread-safety -Werror. Under GCC they expand to nothing.
//
// Annotate with the types of base/mutex.h (std::mutex carries no annotations in libstdc++).
#pragma once

#if defined(__clang__)
#define KVS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define KVS_THREAD_ANNOTATION(x)
#endif

// A type that is a lock ("mutex"), or an RAII holder of one.
#define CAPABILITY(x) KVS_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY KVS_THREAD_ANNOTATION(scoped_lockable)

// Data members: readable and writable only with the mutex held (PT_: the pointee).
#define GUARDED_BY(x) KVS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) KVS_THREAD_ANNOTATION(pt_guarded_by(x))

// Lock order: this mutex is taken before / after the ones named.
#define ACQUIRED_BEFORE(...) KVS_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) KVS_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))

// Functions: the caller must hold (or must not hold) the mutex.
#define REQUIRES(...) KVS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) KVS_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) KVS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// Functions that take or release a lock.
#define ACQUIRE(...) KVS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) KVS_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) KVS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) KVS_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) KVS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) KVS_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) KVS_THREAD_ANNOTATION(lock_returned(x))

// Turns the analysis off for one function; say why beside it.
#define NO_THREAD_SAFETY_ANALYSIS KVS_THREAD_ANNOTATION(no_thread_safety_analysis)
