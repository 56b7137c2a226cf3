/* SPDX-License-Identifier: Apache-2.0 */
/* tessera list, keygen, import and export. */
#include "cli.h"
#include "files.h"
#include "help.h"
#include "json.h"
#include "output.h"
#include "progress.h"
#include "../common/keyspec.h"

#include <stdlib.h>

int
cmd_list(struct tessera_client *agent, const struct cli_args *args)
{
    struct tessera_identity_list ids;
    struct tessera_status st = {0};
    if (tessera_client_list(agent, &ids, &st) < 0)
        return cli_fail(args, &st);
    output_identities(&ids, args->json);
    tessera_identity_list_clear(&ids);
    return EXIT_OK;
}

/* {"name": ..., "key": ..., "token": ..., "csr": PEM, "out": FILE}. */
static void
print_keygen_json(const struct tessera_keygen_request *req, const char *out,
                  const struct tessera_blob *csr)
{
    struct json j = {.out = stdout};
    char *pem = files_csr_pem(csr);
    json_begin_object(&j, NULL);
    json_string(&j, "name", req->name);
    json_string(&j, "key", req->key_spec);
    json_string(&j, "token", req->token);
    json_string(&j, "csr", pem);
    json_string(&j, "out", out);
    json_end(&j);
    free(pem);
}

int
cmd_keygen(struct tessera_client *agent, const struct cli_args *args)
{
    const char *out = cli_value(args, "out");
    const char *key = cli_value(args, "key");
    /* The request's strings are argv's, never freed through it. */
    struct tessera_keygen_request req = {
        .name = (char *)args->operand,
        .token = (char *)cli_value(args, "token"),
        .subject = (char *)cli_value(args, "subject"),
        .key_spec = (char *)(key ? key : tessera_keyspec_name(0)),
    };
    struct tessera_keyspec spec;
    char specs[128];
    cli_key_specs(specs, sizeof(specs));
    if (!tessera_keyspec_parse(req.key_spec, &spec))
        return cli_usage_error(args->command, "unknown key type %s: use %s",
                               req.key_spec, specs);
    struct tessera_status st = {0};
    struct tessera_blob csr;
    struct progress progress;
    progress_begin(&progress, args->json);
    int rc = tessera_client_keygen(agent, &req, &progress.sink, &csr, &st);
    progress_end(&progress);
    if (rc < 0)
        return cli_fail(args, &st);
    /* Written where asked, or on stdout unless the JSON carries it. */
    bool written = (out == NULL && args->json) || files_write_csr(out, &csr);
    if (written && args->json)
        print_keygen_json(&req, out, &csr);
    else if (written && out != NULL)
        printf("generated %s key %s on token %s; its CSR is in %s\n",
               req.key_spec, req.name, req.token, out);
    tessera_blob_clear(&csr);
    return written ? EXIT_OK : EXIT_FAILED;
}

int
cmd_import(struct tessera_client *agent, const struct cli_args *args)
{
    const char *chain = cli_value(args, "chain");
    struct tessera_import_request req = {.name = (char *)args->operand};
    struct tessera_status st = {0};
    int rc = EXIT_FAILED;
    if (files_read_certificates(cli_value(args, "cert"), &req) &&
        (chain == NULL || files_read_certificates(chain, &req))) {
        if (tessera_client_import(agent, &req, &st) == 0) {
            output_certified("imported", req.name, &req.certs[0], args->json);
            rc = EXIT_OK;
        } else {
            rc = cli_fail(args, &st);
        }
    }
    req.name = NULL; /* argv's */
    tessera_import_request_clear(&req);
    return rc;
}

/* "wrote NAME's certificate to FILE", or {"name", "key_ref", "cert",
 * "chain", "chain_certificates"} with null for what was not asked for. */
static void
print_exported(const struct cli_args *args, const struct tessera_identity *id)
{
    const char *name = id->summary.name;
    const char *key_ref = cli_value(args, "key-ref");
    const char *cert = cli_value(args, "cert");
    const char *chain = cli_value(args, "chain");
    size_t n_chain = id->n_certs > 0 ? id->n_certs - 1 : 0;
    if (args->json) {
        struct json j = {.out = stdout};
        json_begin_object(&j, NULL);
        json_string(&j, "name", name);
        json_string(&j, "key_ref", key_ref);
        json_string(&j, "cert", cert);
        json_string(&j, "chain", chain);
        json_uint(&j, "chain_certificates", chain ? n_chain : 0);
        json_end(&j);
        return;
    }
    if (key_ref != NULL)
        printf("wrote %s's key reference to %s\n", name, key_ref);
    if (cert != NULL)
        printf("wrote %s's certificate to %s\n", name, cert);
    if (chain != NULL)
        printf("wrote %s's chain (%zu CA certificate%s) to %s\n", name, n_chain,
               n_chain == 1 ? "" : "s", chain);
}

static int
export_files(const struct cli_args *args, const struct tessera_identity *id)
{
    const char *key_ref = cli_value(args, "key-ref");
    const char *cert = cli_value(args, "cert");
    const char *chain = cli_value(args, "chain");
    if ((cert != NULL || chain != NULL) && id->n_certs == 0) {
        fprintf(stderr,
                "tessera: identity %s has no certificate yet; "
                "import one first\n",
                id->summary.name);
        return EXIT_FAILED;
    }
    if ((key_ref != NULL && !files_write_key_reference(key_ref, id)) ||
        (cert != NULL && !files_write_certificates(cert, id->certs, 1)) ||
        (chain != NULL &&
         !files_write_certificates(chain, id->certs + 1, id->n_certs - 1)))
        return EXIT_FAILED;
    print_exported(args, id);
    return EXIT_OK;
}

int
cmd_export(struct tessera_client *agent, const struct cli_args *args)
{
    if (!cli_value(args, "key-ref") && !cli_value(args, "cert") &&
        !cli_value(args, "chain"))
        return cli_usage_error(args->command, "needs at least one of "
                                              "--key-ref, --cert, --chain");
    struct tessera_status st = {0};
    struct tessera_identity id;
    if (tessera_client_get_identity(agent, args->operand, &id, &st) < 0)
        return cli_fail(args, &st);
    int rc = export_files(args, &id);
    tessera_identity_clear(&id);
    return rc;
}
