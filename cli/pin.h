/* SPDX-License-Identifier: Apache-2.0 */
/* Getting a PIN from the person at the terminal, or from --pin-file. */
#ifndef TESSERA_CLI_PIN_H
#define TESSERA_CLI_PIN_H

#include <stddef.h>

/* Asks on /dev/tty without echo for token's PIN ("" is the only token);
 * reads one line into buf. Its length, or -1. The caller wipes buf. */
int pin_prompt(const char *token, char *buf, size_t size);

/* --pin-file PATH: a file by common/pinfile.h's rules, or standard input
 * for "-" (not a terminal). Its length, or -1 having said why. */
int pin_from_option(const char *path, char *buf, size_t size);

#endif
