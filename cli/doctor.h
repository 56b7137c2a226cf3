/* SPDX-License-Identifier: Apache-2.0 */
/* tessera doctor: what stands between OpenSSL programs and an identity. */
#ifndef TESSERA_CLI_DOCTOR_H
#define TESSERA_CLI_DOCTOR_H

/* tessera doctor [NAME] [--cert FILE --key FILE]; 0 only when all is well. */
int cmd_doctor(int argc, char **argv);

#endif
