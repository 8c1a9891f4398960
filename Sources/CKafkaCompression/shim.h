#ifndef ORDERLOG_CKAFKACOMPRESSION_SHIM_H
#define ORDERLOG_CKAFKACOMPRESSION_SHIM_H
// The compression codecs of Kafka's record batches, from Debian's C libraries:
// zlib1g-dev (gzip), libsnappy-dev (snappy), liblz4-dev (lz4 frame), libzstd-dev (zstd).
#include <zlib.h>
#include <snappy-c.h>
#include <lz4frame.h>
#include <zstd.h>
#endif
