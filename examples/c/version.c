/* version.c — the smallest client: prints the library's version and checks
 * that the header and the loaded library agree on the ABI.
 *   cc version.c $(pkg-config --cflags --libs influencer_profiler) */
#include <influencer_profiler.h>

#include <stdio.h>

int main(void) {
    printf("header %d.%d.%d, library %s (ABI %u)\n", IPF_VERSION_MAJOR, IPF_VERSION_MINOR, IPF_VERSION_PATCH,
           ipf_version_string(), ipf_abi_version());
    return ipf_abi_version() == IPF_ABI_VERSION ? 0 : 1;
}
