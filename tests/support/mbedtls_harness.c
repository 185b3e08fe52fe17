/*
 * A small command-line harness over real mbedTLS (Debian's libmbedtls-dev 2.28, or a
 * 3.6 build), compiled by the tests. It prints what the library returns so the tests can
 * hold the tool's verdicts to it. Run it under faketime to choose the instant.
 *
 *   parse FILE.der...                 mbedtls_x509_crt_parse_der: one return code a line
 *   parse-file FILE.pem               mbedtls_x509_crt_parse_file: "<rc> <certs kept>"
 *   verify CA.pem NAME CHAIN.der...   the server's certificates parsed as ssl_tls.c does
 *                                     (an unknown signature algorithm is left out, any
 *                                     other refusal ends it: "parse <rc>"), then
 *                                     mbedtls_x509_crt_verify: "<rc> <flags>"
 *   verify-bundle v1|v2 BUNDLE NAME CHAIN.der...
 *                                     the same against an empty CA, with a verify callback
 *                                     written from ESP-IDF's esp_crt_verify_callback
 *                                     (binary search of the bundle as stored, signature
 *                                     with the stored key, no profile on that key)
 *   tls HOST PORT CA.pem NAME         a TLS 1.2 client handshake: "<rc> <flags>"
 *
 * NAME "-" passes no name (NULL); for tls, "@unset" never calls mbedtls_ssl_set_hostname.
 * Written for this project from mbedTLS's and ESP-IDF's public headers and documentation.
 */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/version.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#include <mbedtls/build_info.h>
#include <psa/crypto.h>
#else
#include <mbedtls/config.h>
#endif
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#define UNKNOWN_SIG_ALG (MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG + MBEDTLS_ERR_OID_NOT_FOUND)

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    buf[n] = 0;
    *len = (size_t) n;
    return buf;
}

static int count(const mbedtls_x509_crt *c)
{
    int n = 0;
    for (; c != NULL && c->version != 0; c = c->next) {
        n++;
    }
    return n;
}

/* ssl_parse_certificate_chain: parse each certificate the server sent, in order. */
static int parse_chain(mbedtls_x509_crt *chain, int n, char **files)
{
    for (int i = 0; i < n; i++) {
        size_t len;
        unsigned char *der = read_file(files[i], &len);
        int rc = mbedtls_x509_crt_parse_der(chain, der, len);
        free(der);
        if (rc != 0 && rc != UNKNOWN_SIG_ALG) {
            return rc;
        }
    }
    return 0;
}

static int cmd_parse(int n, char **files)
{
    for (int i = 0; i < n; i++) {
        size_t len;
        unsigned char *der = read_file(files[i], &len);
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        printf("%d\n", mbedtls_x509_crt_parse_der(&crt, der, len));
        mbedtls_x509_crt_free(&crt);
        free(der);
    }
    return 0;
}

static int cmd_parse_file(const char *path)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int rc = mbedtls_x509_crt_parse_file(&crt, path);
    printf("%d %d\n", rc, count(&crt));
    mbedtls_x509_crt_free(&crt);
    return 0;
}

static const char *name_arg(const char *name)
{
    return strcmp(name, "-") == 0 ? NULL : name;
}

/* Parse the chain as sent, verify it against ca (through f_vrfy when not NULL) and print
   "parse RC" when it does not parse, else "RC FLAGS". */
static void verify_chain(mbedtls_x509_crt *ca, const char *name, int n, char **files,
                         int (*f_vrfy)(void *, mbedtls_x509_crt *, int, uint32_t *))
{
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    int rc = parse_chain(&chain, n, files);
    if (rc != 0) {
        printf("parse %d\n", rc);
    } else {
        uint32_t flags = 0;
        rc = mbedtls_x509_crt_verify(&chain, ca, NULL, name_arg(name), &flags, f_vrfy, NULL);
        printf("%d %u\n", rc, (unsigned) flags);
    }
    mbedtls_x509_crt_free(&chain);
}

static int cmd_verify(const char *ca_path, const char *name, int n, char **files)
{
    mbedtls_x509_crt ca;
    mbedtls_x509_crt_init(&ca);
    int rc = mbedtls_x509_crt_parse_file(&ca, ca_path);
    if (rc < 0) {
        printf("ca %d\n", rc);
        return 0;
    }
    verify_chain(&ca, name, n, files, NULL);
    mbedtls_x509_crt_free(&ca);
    return 0;
}

/* The bundle as ESP-IDF stores it: entries in stored order. */
static const unsigned char **entry_name, **entry_key;
static size_t *entry_name_len, *entry_key_len;
static int entries;

static void load_bundle(const char *fmt, const unsigned char *b, size_t len)
{
    int v2 = strcmp(fmt, "v2") == 0;
    entries = v2 ? (int) ((b[0] | b[1] << 8 | b[2] << 16 | (uint32_t) b[3] << 24) / 4)
                 : (b[0] << 8 | b[1]);
    entry_name = calloc((size_t) entries, sizeof(*entry_name));
    entry_key = calloc((size_t) entries, sizeof(*entry_key));
    entry_name_len = calloc((size_t) entries, sizeof(size_t));
    entry_key_len = calloc((size_t) entries, sizeof(size_t));
    size_t pos = 2;
    for (int i = 0; i < entries; i++) {
        if (v2) {
            const unsigned char *o = b + 4 * i;
            pos = o[0] | o[1] << 8 | o[2] << 16 | (size_t) o[3] << 24;
        }
        size_t nl = v2 ? (size_t) (b[pos] | b[pos + 1] << 8) : (size_t) (b[pos] << 8 | b[pos + 1]);
        size_t kl = v2 ? (size_t) (b[pos + 2] | b[pos + 3] << 8)
                       : (size_t) (b[pos + 2] << 8 | b[pos + 3]);
        if (pos + 4 + nl + kl > len) {
            fprintf(stderr, "malformed bundle\n");
            exit(2);
        }
        entry_name[i] = b + pos + 4;
        entry_name_len[i] = nl;
        entry_key[i] = b + pos + 4 + nl;
        entry_key_len[i] = kl;
        pos += 4 + nl + kl;
    }
}

static int find_entry(const unsigned char *issuer, size_t issuer_len)
{
    int start = 0, end = entries - 1;
    while (start <= end) {
        int middle = (start + end) / 2;
        size_t n = issuer_len < entry_name_len[middle] ? issuer_len : entry_name_len[middle];
        int cmp = memcmp(issuer, entry_name[middle], n);
        if (cmp == 0) {
            return middle;
        }
        if (cmp < 0) {
            end = middle - 1;
        } else {
            start = middle + 1;
        }
    }
    return -1;
}

static int bundle_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    (void) ctx;
    (void) depth;
    if ((*flags & ~MBEDTLS_X509_BADCERT_BAD_MD) != MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
        return 0;
    }
    int i = find_entry(crt->issuer_raw.p, crt->issuer_raw.len);
    if (i < 0) {
        return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
    }
    mbedtls_pk_context key;
    mbedtls_pk_init(&key);
    int ok = mbedtls_pk_parse_public_key(&key, entry_key[i], entry_key_len[i]) == 0 &&
             mbedtls_pk_can_do(&key, crt->sig_pk);
    if (ok) {
        const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crt->sig_md);
        unsigned char hash[MBEDTLS_MD_MAX_SIZE];
        ok = md != NULL && mbedtls_md(md, crt->tbs.p, crt->tbs.len, hash) == 0 &&
             mbedtls_pk_verify_ext(crt->sig_pk, crt->sig_opts, &key, crt->sig_md, hash,
                                   mbedtls_md_get_size(md), crt->sig.p, crt->sig.len) == 0;
    }
    mbedtls_pk_free(&key);
    if (!ok) {
        return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
    }
    *flags = 0;
    return 0;
}

static int cmd_verify_bundle(const char *fmt, const char *path, const char *name, int n,
                             char **files)
{
    size_t len;
    unsigned char *bundle = read_file(path, &len);
    load_bundle(fmt, bundle, len);
    mbedtls_x509_crt dummy;
    mbedtls_x509_crt_init(&dummy); /* ESP-IDF's zeroed s_dummy_crt */
    verify_chain(&dummy, name, n, files, bundle_cb);
    free(bundle);
    return 0;
}

static int cmd_tls(const char *host, const char *port, const char *ca_path, const char *name)
{
    mbedtls_net_context fd;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
#if MBEDTLS_VERSION_MAJOR >= 3
    psa_crypto_init();
#endif
    mbedtls_net_init(&fd);
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0) {
        return 2;
    }
    int rc = mbedtls_x509_crt_parse_file(&ca, ca_path);
    if (rc < 0) {
        printf("ca %d\n", rc);
        return 0;
    }
    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                MBEDTLS_SSL_PRESET_DEFAULT);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_ssl_conf_max_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    mbedtls_ssl_setup(&ssl, &conf);
    if (strcmp(name, "@unset") != 0) {
        mbedtls_ssl_set_hostname(&ssl, name_arg(name));
    }
    if ((rc = mbedtls_net_connect(&fd, host, port, MBEDTLS_NET_PROTO_TCP)) != 0) {
        printf("connect %d\n", rc);
        return 0;
    }
    mbedtls_ssl_set_bio(&ssl, &fd, mbedtls_net_send, mbedtls_net_recv, NULL);
    do {
        rc = mbedtls_ssl_handshake(&ssl);
    } while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
    printf("%d %u\n", rc, (unsigned) mbedtls_ssl_get_verify_result(&ssl));
    mbedtls_ssl_close_notify(&ssl);
    mbedtls_net_free(&fd);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "version") == 0) {
        printf("%s\n", MBEDTLS_VERSION_STRING);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "parse") == 0) {
        return cmd_parse(argc - 2, argv + 2);
    }
    if (argc == 3 && strcmp(argv[1], "parse-file") == 0) {
        return cmd_parse_file(argv[2]);
    }
    if (argc >= 5 && strcmp(argv[1], "verify") == 0) {
        return cmd_verify(argv[2], argv[3], argc - 4, argv + 4);
    }
    if (argc >= 6 && strcmp(argv[1], "verify-bundle") == 0) {
        return cmd_verify_bundle(argv[2], argv[3], argv[4], argc - 5, argv + 5);
    }
    if (argc == 6 && strcmp(argv[1], "tls") == 0) {
        return cmd_tls(argv[2], argv[3], argv[4], argv[5]);
    }
    fprintf(stderr, "usage: see the comment at the top of mbedtls_harness.c\n");
    return 2;
}
