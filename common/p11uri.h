/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 7512 pkcs11: URIs, parsed for matching against tokens and identities.
 * One parser for both ends, so the provider and the agent agree on what a
 * URI names.
 */
#ifndef TESSERA_P11URI_H
#define TESSERA_P11URI_H

#include "messages.h"

enum tessera_p11uri_type {
    TESSERA_P11URI_ANY = 0,
    TESSERA_P11URI_PRIVATE,
    TESSERA_P11URI_PUBLIC,
    TESSERA_P11URI_CERT,
    TESSERA_P11URI_OTHER, /* secret-key, data: never an identity */
};

struct tessera_p11uri {
    char *token;
    char *manufacturer;
    char *serial;
    char *model;
    char *object;
    bool has_id;
    struct tessera_blob id;
    enum tessera_p11uri_type type;
};

/*
 * Parses a pkcs11: URI. Library and slot attributes and the query part are
 * accepted and not used for matching: Tessera names tokens, not modules.
 * Returns false with a sentence in err for anything malformed, an unknown
 * path attribute or one given twice.
 */
bool tessera_p11uri_parse(const char *uri, struct tessera_p11uri *out,
                          char *err, size_t errlen);
void tessera_p11uri_clear(struct tessera_p11uri *u);

bool tessera_p11uri_match_token(const struct tessera_p11uri *u,
                                const char *label, const char *manufacturer,
                                const char *model, const char *serial);
/*
 * The URI naming exactly this token (label, manufacturer, model, serial),
 * percent-encoded as RFC 7512 asks; NULL when out of memory. The caller
 * frees it.
 */
char *tessera_p11uri_format_token(const char *label, const char *manufacturer,
                                  const char *model, const char *serial);
/* Token attributes, then object (key label or identity name), id and type. */
bool tessera_p11uri_match_identity(const struct tessera_p11uri *u,
                                   const struct tessera_identity_summary *s);

#endif
