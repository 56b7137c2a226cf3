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
#include <string.h>

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
    struct tessera_keygen_sans_request ask = {
        .key = {.name = (char *)args->operand,
                .token = (char *)cli_value(args, "token"),
                .subject = (char *)cli_value(args, "subject"),
                .key_spec = (char *)(key ? key : tessera_keyspec_name(0))},
        .n_sans = (uint32_t)args->n_repeated,
    };
    const struct tessera_keygen_request req = ask.key;
    for (size_t i = 0; i < args->n_repeated; i++)
        ask.sans[i] = (char *)args->repeated[i];
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
    int rc = tessera_client_keygen(agent, &ask, &progress.sink, &csr, &st);
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
    struct tessera_import_request req = {
        .name = (char *)args->operand,
        .replace = cli_value(args, "replace") != NULL,
        .ca = (char *)cli_value(args, "ca"),
    };
    struct tessera_status st = {0};
    int rc = EXIT_FAILED;
    if (files_read_certificates(cli_value(args, "cert"), &req) &&
        (chain == NULL || files_read_certificates(chain, &req))) {
        if (tessera_client_import(agent, &req, &st) == 0) {
            output_certified("imported", req.name, &req.certs[0], args->json);
            if (req.ca != NULL && !args->json)
                printf("  renews through CA %s\n", req.ca);
            rc = EXIT_OK;
        } else {
            rc = cli_fail(args, &st);
        }
    }
    req.name = req.ca = NULL; /* argv's */
    tessera_import_request_clear(&req);
    return rc;
}

int
cmd_forget(struct tessera_client *agent, const struct cli_args *args)
{
    struct tessera_forget_request req = {
        .name = (char *)args->operand,
        .delete_keys = cli_value(args, "delete-keys") != NULL,
    };
    struct tessera_status st = {0};
    if (tessera_client_forget(agent, &req, &st) < 0)
        return cli_fail(args, &st);
    if (args->json) {
        struct json j = {.out = stdout};
        json_begin_object(&j, NULL);
        json_string(&j, "name", req.name);
        json_bool(&j, "deleted_key", req.delete_keys);
        json_end(&j);
    } else if (req.delete_keys) {
        printf("forgot %s and deleted its key and certificate\n", req.name);
    } else {
        printf("forgot %s and deleted its certificate; its key stays on the "
               "token (--delete-keys deletes it too)\n",
               req.name);
    }
    return EXIT_OK;
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
    bool cert_chain =
        cert != NULL && tessera_export_cert_with_chain(cert, chain);
    if (key_ref != NULL)
        printf("wrote %s's key reference to %s\n", name, key_ref);
    if (cert != NULL)
        printf("wrote %s's certificate%s to %s\n", name,
               cert_chain && n_chain > 0 ? " and its chain" : "", cert);
    if (chain != NULL && (cert == NULL || strcmp(cert, chain) != 0))
        printf("wrote %s's chain (%zu CA certificate%s) to %s\n", name, n_chain,
               n_chain == 1 ? "" : "s", chain);
    if (!files_is_stream(key_ref ? key_ref : cert ? cert : chain))
        printf("the agent rewrites them when the certificate changes\n");
}

/* A stream (/dev/stdout) is written here, once. */
static bool
write_streams(const struct cli_args *args, const struct tessera_identity *id)
{
    const char *key_ref = cli_value(args, "key-ref");
    const char *cert = cli_value(args, "cert");
    const char *chain = cli_value(args, "chain");
    size_t n_cert = cert != NULL && tessera_export_cert_with_chain(cert, chain)
                        ? id->n_certs
                        : 1;
    return (key_ref == NULL || !files_is_stream(key_ref) ||
            files_write_key_reference(key_ref, id)) &&
           (cert == NULL || !files_is_stream(cert) ||
            files_write_certificates(cert, id->certs, n_cert)) &&
           (chain == NULL || !files_is_stream(chain) ||
            (cert != NULL && strcmp(cert, chain) == 0) ||
            files_write_certificates(chain, id->certs + 1, id->n_certs - 1));
}

/* A file is the agent's to write, now and at each renewal. */
static bool
agent_file(const struct cli_args *args, const char *option, char **path)
{
    const char *value = cli_value(args, option);
    *path = NULL;
    if (value == NULL || files_is_stream(value))
        return true;
    *path = files_absolute(value);
    return *path != NULL;
}

static int
export_files(struct tessera_client *agent, const struct cli_args *args,
             const struct tessera_identity *id)
{
    struct tessera_export_request req = {.name = id->summary.name};
    struct tessera_status st = {0};
    int rc = EXIT_FAILED;
    if ((cli_value(args, "cert") != NULL || cli_value(args, "chain") != NULL) &&
        id->n_certs == 0) {
        fprintf(stderr,
                "tessera: identity %s has no certificate yet; "
                "import one first\n",
                id->summary.name);
    } else if (agent_file(args, "key-ref", &req.key_ref) &&
               agent_file(args, "cert", &req.cert) &&
               agent_file(args, "chain", &req.chain) &&
               write_streams(args, id)) {
        rc = EXIT_OK;
        if ((req.key_ref != NULL || req.cert != NULL || req.chain != NULL) &&
            tessera_client_export(agent, &req, &st) < 0)
            rc = cli_fail(args, &st);
    }
    if (rc == EXIT_OK)
        print_exported(args, id);
    req.name = NULL; /* id's */
    tessera_export_request_clear(&req);
    return rc;
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
    int rc = export_files(agent, args, &id);
    tessera_identity_clear(&id);
    return rc;
}
