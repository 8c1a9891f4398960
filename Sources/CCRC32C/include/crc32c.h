#ifndef ORDERLOG_CRC32C_H
#define ORDERLOG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Extends a CRC32C (Castagnoli, reflected polynomial 0x82F63B78) over `length` bytes.
/// Start with crc = 0; the value returned is the finished checksum (pre- and post-inverted
/// internally), so crc32c_extend(crc32c_extend(0, a), b) == crc32c_extend(0, a ++ b).
uint32_t orderlog_crc32c_extend(uint32_t crc, const void *bytes, size_t length);

/// 1 when the hardware instruction path is in use, 0 for the portable table path.
int orderlog_crc32c_is_hardware(void);

#endif
