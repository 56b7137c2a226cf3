/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test hooks at the steps of renewals and enrolments, off unless the
 * environment names them: TESSERA_TEST_CRASH_AT=NAME:STEP kills the agent
 * with SIGKILL there, as a power cut would; TESSERA_TEST_STOP_AT=NAME:STEP
 * sends it SIGTERM there and lets the step go on, as a user stopping the
 * agent at that moment would.
 */
#ifndef TESSERA_AGENT_TESTPOINT_H
#define TESSERA_AGENT_TESTPOINT_H

void agent_test_point(const char *name, const char *step);

#endif
