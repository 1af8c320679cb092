// Whether the tests run under a sanitizer that replaces glibc malloc: ASan's allocator keeps
// freed memory in quarantine and ignores malloc_trim, so tests of what glibc returns to the
// OS do not apply there.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define MEMVISOR_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMVISOR_TEST_ASAN 1
#endif
#endif

#ifdef MEMVISOR_TEST_ASAN
#define MEMVISOR_SKIP_WITHOUT_GLIBC_MALLOC() \
  GTEST_SKIP() << "AddressSanitizer replaces glibc malloc (quarantine, no malloc_trim): RSS effects of free/trim do not apply"
#else
#define MEMVISOR_SKIP_WITHOUT_GLIBC_MALLOC() (void)0
#endif
