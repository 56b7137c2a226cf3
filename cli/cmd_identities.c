/* SPDX-License-Identifier: Apache-2.0 */
/* tessera list, keygen, import and export. */
#include "cli.h"
#include "files.h"
#include "output.h"
#include "../common/keyspec.h"

#include <getopt.h>

int
cmd_list(struct tessera_client *agent, int argc, char **argv)
{
    bool json;
    struct tessera_identity_list ids;
    struct tessera_status st = {0};
    int rc = cli_json_option(argc, argv, &json);
    if (rc != EXIT_OK)
        return rc;
    if (tessera_client_list(agent, &ids, &st) < 0)
        return cli_fail(&st);
    output_identities(&ids, json);
    tessera_identity_list_clear(&ids);
    return EXIT_OK;
}

int
cmd_keygen(struct tessera_client *agent, int argc, char **argv)
{
    struct tessera_keygen_request req = {.key_spec = "ec-p256"};
    const char *out = NULL;
    static const struct option opts[] = {
        {"token", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},
        {"subject", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "t:k:s:o:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            req.token = optarg;
            break;
        case 'k':
            req.key_spec = optarg;
            break;
        case 's':
            req.subject = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("keygen needs exactly one NAME%s", "");
    if (req.token == NULL || req.subject == NULL)
        return cli_usage_error("keygen needs --token and --subject%s", "");
    struct tessera_keyspec spec;
    if (!tessera_keyspec_parse(req.key_spec, &spec))
        return cli_usage_error("unknown key type %s: use ec-p256, ec-p384, "
                               "rsa2048, rsa3072, rsa4096 or ed25519",
                               req.key_spec);
    req.name = argv[optind];
    struct tessera_status st = {0};
    struct tessera_blob csr;
    if (tessera_client_keygen(agent, &req, &csr, &st) < 0)
        return cli_fail(&st);
    bool written = files_write_csr(out, &csr);
    tessera_blob_clear(&csr);
    return written ? EXIT_OK : EXIT_FAILED;
}

int
cmd_import(struct tessera_client *agent, int argc, char **argv)
{
    const char *cert = NULL, *chain = NULL;
    static const struct option opts[] = {
        {"cert", required_argument, NULL, 'c'},
        {"chain", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            cert = optarg;
        else if (c == 'C')
            chain = optarg;
        else
            return EXIT_USAGE;
    }
    if (argc - optind != 1 || cert == NULL)
        return cli_usage_error("import needs one NAME and --cert FILE%s", "");
    struct tessera_import_request req = {.name = argv[optind]};
    struct tessera_status st = {0};
    int rc = EXIT_FAILED;
    if (files_read_certificates(cert, &req) &&
        (chain == NULL || files_read_certificates(chain, &req)))
        rc = tessera_client_import(agent, &req, &st) == 0 ? EXIT_OK
                                                          : cli_fail(&st);
    req.name = NULL; /* argv's */
    tessera_import_request_clear(&req);
    return rc;
}

static int
export_files(const struct tessera_identity *id, const char *key_ref,
             const char *cert, const char *chain)
{
    const char *name = id->summary.name;
    if ((cert != NULL || chain != NULL) && id->n_certs == 0) {
        fprintf(stderr,
                "tessera: identity %s has no certificate yet; "
                "import one first\n",
                name);
        return EXIT_FAILED;
    }
    if ((key_ref != NULL && !files_write_key_reference(key_ref, id)) ||
        (cert != NULL && !files_write_certificates(cert, id->certs, 1)) ||
        (chain != NULL &&
         !files_write_certificates(chain, id->certs + 1, id->n_certs - 1)))
        return EXIT_FAILED;
    return EXIT_OK;
}

int
cmd_export(struct tessera_client *agent, int argc, char **argv)
{
    const char *key_ref = NULL, *cert = NULL, *chain = NULL;
    static const struct option opts[] = {
        {"key-ref", required_argument, NULL, 'k'},
        {"cert", required_argument, NULL, 'c'},
        {"chain", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "k:c:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_ref = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'C':
            chain = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1 || (!key_ref && !cert && !chain))
        return cli_usage_error("export needs one NAME and at least one of "
                               "--key-ref, --cert, --chain%s",
                               "");
    struct tessera_status st = {0};
    struct tessera_identity id;
    if (tessera_client_get_identity(agent, argv[optind], &id, &st) < 0)
        return cli_fail(&st);
    int rc = export_files(&id, key_ref, cert, chain);
    tessera_identity_clear(&id);
    return rc;
}
