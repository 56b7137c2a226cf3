/* SPDX-License-Identifier: Apache-2.0 */
/* One hex digit's value, for the percent-decoders (p11uri.c, the agent's
 * Assuan lines); header-only so that fuzz targets need nothing else. */
#ifndef TESSERA_HEX_H
#define TESSERA_HEX_H

/* 0 to 15, or -1 for anything but [0-9a-fA-F]. */
static inline int
tessera_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
