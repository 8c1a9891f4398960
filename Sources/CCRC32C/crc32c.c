// CRC32C (Castagnoli). Hardware path: SSE4.2 `crc32` on x86-64, the ARMv8 CRC extension on
// aarch64, chosen once at run time; portable path: slicing-by-8 tables.
// Every record and block checksum in OrderLog goes through here, so it must be fast: a
// full scan checks every record's CRC.
#include "crc32c.h"
#include <string.h>

static uint32_t table[8][256];
static int table_ready = 0;

static void build_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc_portable(uint32_t crc, const uint8_t *p, size_t n) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_tables();
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc; // little-endian only; the hardware paths cover every platform we ship on
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
static int hw_available(void) { return __builtin_cpu_supports("sse4.2"); }
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n) {
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        crc = __crc32cd(crc, w);
        p += 8;
        n -= 8;
    }
    while (n--) crc = __crc32cb(crc, *p++);
    return crc;
}
static int hw_available(void) { return 1; }
#else
static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n) { return crc_portable(crc, p, n); }
static int hw_available(void) { return 0; }
#endif

// -1 unknown, 0 portable, 1 hardware. Races on first use are benign: every thread computes
// the same answer.
static int mode = -1;

int orderlog_crc32c_is_hardware(void) {
    int m = __atomic_load_n(&mode, __ATOMIC_RELAXED);
    if (m < 0) {
        m = hw_available() ? 1 : 0;
        __atomic_store_n(&mode, m, __ATOMIC_RELAXED);
    }
    return m;
}

uint32_t orderlog_crc32c_extend(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = (const uint8_t *)bytes;
    crc = ~crc;
    crc = orderlog_crc32c_is_hardware() ? crc_hw(crc, p, length) : crc_portable(crc, p, length);
    return ~crc;
}
