/*  credentials.yaml and FinalizeCredential/RemoveSecrets: Juju's shapes and
    Juju's exact error wording (cloud/credentials_test.go, §8.1–8.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/cloudfile.h"
#include "unit/cloudfile_fixtures.h"

//  §8.2 credentials.yaml example (Juju's TestMarshalAccessKey output).
static const char *AWS_CREDS = "credentials:\n"
                               "  aws:\n"
                               "    default-credential: default-cred\n"
                               "    default-region: us-west-2\n"
                               "    peter:\n"
                               "      auth-type: access-key\n"
                               "      access-key: key\n"
                               "      secret-key: secret\n";

//  Juju's TestParseCredentials input.
static const char *MULTI_CREDS = "credentials:\n"
                                 "  aws:\n"
                                 "    default-credential: peter\n"
                                 "    default-region: us-east-2\n"
                                 "    peter:\n"
                                 "      auth-type: access-key\n"
                                 "      access-key: key\n"
                                 "      secret-key: secret\n"
                                 "  aws-china:\n"
                                 "    default-credential: zhu8jie\n"
                                 "    zhu8jie:\n"
                                 "      auth-type: access-key\n"
                                 "      access-key: key\n"
                                 "      secret-key: secret\n"
                                 "    sun5kong:\n"
                                 "      auth-type: access-key\n"
                                 "      access-key: quay\n"
                                 "      secret-key: sekrit\n"
                                 "  aws-gov:\n"
                                 "    default-region: us-gov-west-1\n"
                                 "    supersekrit:\n"
                                 "      auth-type: access-key\n"
                                 "      access-key: super\n"
                                 "      secret-key: sekrit\n";

static en_credentials_t *
s_parse(const char *yaml)
{
    en_err_t err = {0};
    en_credentials_t *creds = en_credentials_parse(yaml, strlen(yaml), &err);
    if (!creds)
        fail_msg("parse failed: %s", err.message);
    return creds;
}

static void
s_parse_fails(const char *yaml, const char *message)
{
    en_err_t err = {0};
    assert_null(en_credentials_parse(yaml, strlen(yaml), &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, message);
}

//  --------------------------------------------------------------------------
//  Parsing and writing

static void
credentials_example_parses_with_defaults(void **state)
{
    (void)state;
    en_credentials_t *creds = s_parse(AWS_CREDS);
    assert_int_equal(creds->count, 1);
    en_cloud_credentials_t *aws = en_credentials_find(creds, "aws");
    assert_non_null(aws);
    assert_string_equal(aws->default_credential, "default-cred");
    assert_string_equal(aws->default_region, "us-west-2");
    assert_int_equal(aws->count, 1);
    en_credential_t *peter = en_cloud_credentials_find(aws, "peter");
    assert_non_null(peter);
    assert_string_equal(peter->auth_type, "access-key");
    assert_int_equal(peter->attrs.count, 2);
    assert_string_equal(en_credential_attr(peter, "access-key"), "key");
    assert_string_equal(en_credential_attr(peter, "secret-key"), "secret");
    assert_null(en_credential_attr(peter, "auth-type"));
    en_credentials_destroy(&creds);
    en_credentials_destroy(&creds);
}

static void
credentials_write_matches_juju_marshal_output(void **state)
{
    (void)state;
    en_credentials_t *creds = en_credentials_new();
    en_cloud_credentials_t *aws = en_cloud_credentials_new("aws");
    en_cloudfile_set_string(&aws->default_credential, "default-cred");
    en_cloudfile_set_string(&aws->default_region, "us-west-2");
    en_credential_t *peter = en_credential_new("peter", "access-key");
    en_credential_set_attr(peter, "access-key", "key");
    en_credential_set_attr(peter, "secret-key", "secret");
    assert_int_equal(en_cloud_credentials_add(aws, &peter, NULL), 0);
    assert_int_equal(en_credentials_add(creds, &aws, NULL), 0);
    en_err_t err = {0};
    char *text = en_credentials_format(creds, &err);
    assert_string_equal(text, AWS_CREDS);
    free(text);
    en_credentials_destroy(&creds);
}

static void
credentials_juju_fixture_keeps_clouds_and_order(void **state)
{
    (void)state;
    en_credentials_t *creds = s_parse(MULTI_CREDS);
    assert_int_equal(creds->count, 3);
    en_cloud_credentials_t *china = en_credentials_find(creds, "aws-china");
    assert_string_equal(china->default_credential, "zhu8jie");
    assert_string_equal(china->default_region, "");
    assert_int_equal(china->count, 2);
    assert_string_equal(china->credentials[0]->name, "zhu8jie");
    assert_string_equal(china->credentials[1]->name, "sun5kong");
    assert_string_equal(en_credential_attr(china->credentials[1], "access-key"), "quay");
    en_cloud_credentials_t *gov = en_credentials_find(creds, "aws-gov");
    assert_string_equal(gov->default_credential, "");
    assert_string_equal(gov->default_region, "us-gov-west-1");
    char *text = en_credentials_format(creds, NULL);
    assert_string_equal(text, MULTI_CREDS);
    free(text);
    en_credentials_destroy(&creds);
}

static void
credentials_unknown_auth_type_is_kept_for_finalize(void **state)
{
    (void)state;
    en_credentials_t *creds = s_parse("credentials:\n  cloud-name:\n    credential-name:\n"
                                      "      auth-type: woop\n");
    en_credential_t *c =
        en_cloud_credentials_find(en_credentials_find(creds, "cloud-name"), "credential-name");
    assert_non_null(c);
    assert_string_equal(c->auth_type, "woop");
    assert_int_equal(c->attrs.count, 0);
    en_credentials_destroy(&creds);
}

static void
credentials_missing_auth_type_names_path(void **state)
{
    (void)state;
    s_parse_fails("credentials:\n  cloud-name:\n    credential-name:\n"
                  "      doesnt: really-matter\n",
                  "credentials.cloud-name.credential-name: missing auth-type");
    s_parse_fails("credentials:\n  c:\n    cred:\n      auth-type: \"\"\n",
                  "credentials.c.cred: missing auth-type");
}

static void
credentials_non_string_values_are_named_like_go(void **state)
{
    (void)state;
    struct {
        const char *value, *got;
    } cases[] = {
        {"123", "int(123)"},
        {"0x1F", "int(31)"},
        {"-7", "int(-7)"},
        {"18446744073709551615", "uint64(0xffffffffffffffff)"},
        {"true", "bool(true)"},
        {"yes", "bool(true)"},
        {"off", "bool(false)"},
        {"1.5", "float64(1.5)"},
        {"2.0", "float64(2)"},
        {"1e6", "float64(1e+06)"},
        {"0.0001", "float64(0.0001)"},
        {".inf", "float64(+Inf)"},
        {"[a, 1]", "[]interface {}([]interface {}{\"a\", 1})"},
        {"{a: b}", "map[interface {}]interface {}(map[interface {}]interface {}{\"a\":\"b\"})"},
        {"[~]", "[]interface {}([]interface {}{interface {}(nil)})"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[256], want[256];
        snprintf(yaml, sizeof yaml,
                 "credentials:\n  cloud-name:\n    credential-name:\n"
                 "      auth-type: userpass\n      non-string-value: %s\n",
                 cases[i].value);
        snprintf(want, sizeof want,
                 "credentials.cloud-name.credential-name.non-string-value: expected string, got %s",
                 cases[i].got);
        s_parse_fails(yaml, want);
    }
    s_parse_fails("credentials:\n  c:\n    cred:\n      auth-type: userpass\n      k: ~\n",
                  "credentials.c.cred.k: expected string, got nothing");
    //  A non-string value wins over a missing auth-type, as in Go.
    s_parse_fails("credentials:\n  c:\n    cred:\n      k: 5\n",
                  "credentials.c.cred.k: expected string, got int(5)");
}

static void
credentials_quoted_and_tagged_numbers_are_strings(void **state)
{
    (void)state;
    en_credentials_t *creds = s_parse("credentials:\n  c:\n    cred:\n      auth-type: userpass\n"
                                      "      a: \"123\"\n      b: !!str 456\n      c: 'yes'\n"
                                      "      d: 2001-12-14\n");
    en_credential_t *c = creds->items[0]->credentials[0];
    assert_string_equal(en_credential_attr(c, "a"), "123");
    assert_string_equal(en_credential_attr(c, "b"), "456");
    assert_string_equal(en_credential_attr(c, "c"), "yes");
    assert_string_equal(en_credential_attr(c, "d"), "2001-12-14");
    //  ...and are written back quoted so they stay strings.
    char *text = en_credentials_format(creds, NULL);
    assert_non_null(strstr(text, "      a: \"123\"\n      b: \"456\"\n      c: \"yes\"\n"));
    en_credentials_t *again = s_parse(text);
    assert_true(en_credentials_equal(creds, again));
    free(text);
    en_credentials_destroy(&again);
    en_credentials_destroy(&creds);
}

static void
credentials_wrong_node_types_name_the_path(void **state)
{
    (void)state;
    struct {
        const char *yaml, *message;
    } cases[] = {
        {"credentials:\n  aws: hello\n", "credentials.aws: expected map, got string(\"hello\")"},
        {"credentials:\n  aws:\n", "credentials.aws: expected map, got nothing"},
        {"credentials:\n  aws: [a]\n",
         "credentials.aws: expected map, got []interface {}([]interface {}{\"a\"})"},
        {"credentials:\n  aws:\n    default-region: 5\n",
         "credentials.aws.default-region: expected string, got int(5)"},
        {"credentials:\n  aws:\n    default-credential: [x]\n",
         "credentials.aws.default-credential: expected string, got []interface {}([]interface "
         "{}{\"x\"})"},
        {"credentials:\n  aws:\n    peter: 7\n", "credentials.aws.peter: expected map, got int(7)"},
        //  YAML 1.1: a key `n` is the bool false, and keys must be strings.
        {"credentials:\n  aws:\n    n:\n      auth-type: empty\n",
         "credentials.aws: expected string, got bool(false)"},
        {"credentials:\n  aws:\n    peter:\n      1: x\n",
         "credentials.aws.peter: expected string, got int(1)"},
        {"credentials: [a]\n", "cannot unmarshal yaml credentials: line 1: credentials: expected "
                               "a mapping, got a sequence"},
        {"fail me now", "cannot unmarshal yaml credentials: line 1: expected a mapping, got a "
                        "string \"fail me now\""},
        {"credentials:\n  aws:\n    peter:\n      auth-type: x\n      auth-type: y\n",
         "cannot unmarshal yaml credentials: line 5: credentials.aws.peter: mapping key "
         "\"auth-type\" already defined at line 4"},
        {"credentials:\n  aws: {peter: {auth-type: x}\n",
         "cannot unmarshal yaml credentials: yaml: line 3: did not find expected ',' or '}'"},
        {"credentials:\n  aws:\n    p:\n      auth-type: \"a\\0b\"\n",
         "cannot unmarshal yaml credentials: yaml: line 4: NUL character in a scalar is not "
         "supported"},
        {"credentials:\n\taws: {}\n",
         "cannot unmarshal yaml credentials: yaml: line 2: found character that cannot start any "
         "token"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_parse_fails(cases[i].yaml, cases[i].message);
}

static void
credentials_reserved_keys_are_not_credential_names(void **state)
{
    (void)state;
    en_cloud_credentials_t *cc = en_cloud_credentials_new("aws");
    en_credential_t *c = en_credential_new("default-region", "empty");
    en_err_t err = {0};
    assert_int_equal(en_cloud_credentials_add(cc, &c, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "credential name \"default-region\" not valid");
    assert_non_null(c); //  ownership stays with the caller on failure
    en_credential_destroy(&c);
    en_cloud_credentials_destroy(&cc);
}

static void
credentials_containers_replace_find_remove_dup(void **state)
{
    (void)state;
    en_credentials_t *creds = s_parse(MULTI_CREDS);
    en_credentials_t *copy = en_credentials_dup(creds);
    assert_true(en_credentials_equal(creds, copy));
    en_cloud_credentials_t *china = en_credentials_find(copy, "aws-china");
    en_credential_t *c = en_credential_new("zhu8jie", "userpass");
    assert_int_equal(en_cloud_credentials_add(china, &c, NULL), 0);
    assert_int_equal(china->count, 2);
    assert_string_equal(china->credentials[0]->auth_type, "userpass");
    assert_false(en_credentials_equal(creds, copy));
    assert_true(en_cloud_credentials_remove(china, "sun5kong"));
    assert_false(en_cloud_credentials_remove(china, "sun5kong"));
    assert_true(en_credentials_remove(copy, "aws"));
    assert_null(en_credentials_find(copy, "aws"));
    assert_int_equal(copy->count, 2);
    en_credentials_destroy(&copy);
    en_credentials_destroy(&creds);
}

static void
credentials_save_is_0600_and_round_trips(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "credentials.yaml");
    en_credentials_t *creds = s_parse(MULTI_CREDS);
    en_err_t err = {0};
    assert_int_equal(en_credentials_save(creds, path, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(fx_entries(dir), 1);
    en_credentials_t *loaded = en_credentials_load(path, &err);
    assert_non_null(loaded);
    assert_true(en_credentials_equal(creds, loaded));
    en_credentials_destroy(&loaded);
    en_credentials_destroy(&creds);
    char *absent = fx_path(dir, "absent.yaml");
    loaded = en_credentials_load(absent, &err);
    assert_non_null(loaded);
    assert_int_equal(loaded->count, 0);
    en_credentials_destroy(&loaded);
    free(absent);
    free(path);
    fx_rmtree(dir);
}

//  --------------------------------------------------------------------------
//  FinalizeCredential (cloud/credentials_test.go cases)

static const en_cred_attr_t USERPASS_ATTRS[] = {
    {.name = "username"},
    {.name = "password", .hidden = true},
    {.name = "domain"},
};
static const char *const ALGORITHMS[] = {"bar", "foobar"};
static const en_cred_attr_t CHOICE_ATTRS[] = {
    {.name = "username"},
    {.name = "password", .hidden = true},
    {.name = "algorithm", .options = ALGORITHMS, .option_count = 2},
};
static const en_cred_attr_t KEY_FILE_ATTRS[] = {
    {.name = "key", .description = "key credential", .hidden = true, .file_attr = "key-file"},
    {.name = "quay", .file_attr = "quay-file"},
};
static const en_cred_attr_t FILE_PATH_ATTRS[] = {{.name = "file", .file_path = true}};

static en_credential_t *
s_cred(const char *auth_type, const char *const *kv)
{
    en_credential_t *c = en_credential_new("test", auth_type);
    for (; kv && *kv; kv += 2)
        assert_int_equal(en_credential_set_attr(c, kv[0], kv[1]), 0);
    return c;
}

//  Finalizing a credential of auth_type against the one schema {schema_type,
//  attrs} must fail with kind and message.
static void
s_finalize_fails(const char *auth_type, const char *schema_type, const en_cred_attr_t *attrs,
                 size_t n, const char *const *kv, en_kind_t kind, const char *message)
{
    en_cred_schema_t schema = {schema_type, attrs, n};
    en_credential_t *c = s_cred(auth_type, kv), *out = (en_credential_t *)1;
    en_err_t err = {0};
    assert_int_equal(en_credential_finalize(c, &schema, 1, &out, &err), -1);
    assert_null(out);
    assert_int_equal(err.kind, kind);
    assert_string_equal(err.message, message);
    en_credential_destroy(&c);
}

static void
finalize_auth_type_without_schema_not_supported(void **state)
{
    (void)state;
    s_finalize_fails("oauth2", "userpass", USERPASS_ATTRS, 3, NULL, EN_NOT_SUPPORTED,
                     "auth-type \"oauth2\" not supported");
}

static void
finalize_rejects_unknown_key(void **state)
{
    (void)state;
    const char *const kv[] = {"username", "user",       "password",   "secret", "domain",
                              "domain",   "access-key", "access-key", NULL};
    s_finalize_fails("userpass", "userpass", USERPASS_ATTRS, 3, kv, EN_NOT_VALID,
                     "unknown key \"access-key\" (value \"access-key\")");
}

static void
finalize_requires_mandatory_field(void **state)
{
    (void)state;
    const char *const kv[] = {"password", "secret", "domain", "domain", NULL};
    s_finalize_fails("userpass", "userpass", USERPASS_ATTRS, 3, kv, EN_NOT_VALID,
                     "username: expected string, got nothing");
}

static void
finalize_enforces_options(void **state)
{
    (void)state;
    const char *const kv[] = {"username", "user", "password", "secret", "algorithm", "foo", NULL};
    s_finalize_fails("userpass", "userpass", CHOICE_ATTRS, 3, kv, EN_NOT_VALID,
                     "algorithm: expected one of [bar foobar], got \"foo\"");
    const char *const ok[] = {"username",  "user",   "password", "secret",
                              "algorithm", "foobar", NULL};
    en_cred_schema_t schema = {"userpass", CHOICE_ATTRS, 3};
    en_credential_t *c = s_cred("userpass", ok), *out = NULL;
    assert_int_equal(en_credential_finalize(c, &schema, 1, &out, NULL), 0);
    assert_string_equal(en_credential_attr(out, "algorithm"), "foobar");
    en_credential_destroy(&out);
    en_credential_destroy(&c);
}

static void
finalize_keeps_schema_fields_in_schema_order(void **state)
{
    (void)state;
    const char *const kv[] = {"domain", "d", "password", "secret", "username", "user", NULL};
    en_cred_schema_t schemas[] = {{"access-key", FILE_PATH_ATTRS, 1},
                                  {"userpass", USERPASS_ATTRS, 3}};
    en_credential_t *c = s_cred("userpass", kv), *out = NULL;
    en_cloudfile_set_string(&c->label, "my label");
    en_err_t err = {0};
    assert_int_equal(en_credential_finalize(c, schemas, 2, &out, &err), 0);
    assert_string_equal(out->name, "test");
    assert_string_equal(out->label, "my label");
    assert_string_equal(out->auth_type, "userpass");
    assert_int_equal(out->attrs.count, 3);
    assert_string_equal(out->attrs.items[0].key, "username");
    assert_string_equal(out->attrs.items[1].key, "password");
    assert_string_equal(out->attrs.items[2].key, "domain");
    en_credential_destroy(&out);
    en_credential_destroy(&c);
}

static void
finalize_file_attr_reads_file_and_drops_file_key(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "key.pem");
    fx_write(path, "file-value", 0600);
    const char *const kv[] = {"key-file", path, "quay", "value", NULL};
    en_cred_schema_t schema = {"userpass", KEY_FILE_ATTRS, 2};
    en_credential_t *c = s_cred("userpass", kv), *out = NULL;
    en_err_t err = {0};
    assert_int_equal(en_credential_finalize(c, &schema, 1, &out, &err), 0);
    assert_int_equal(out->attrs.count, 2);
    assert_string_equal(en_credential_attr(out, "key"), "file-value");
    assert_string_equal(en_credential_attr(out, "quay"), "value");
    assert_null(en_credential_attr(out, "key-file"));
    en_credential_destroy(&out);
    en_credential_destroy(&c);
    free(path);
    fx_rmtree(dir);
}

static void
finalize_file_attr_errors(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *empty = fx_path(dir, "empty");
    fx_write(empty, "", 0600);
    char *absent = fx_path(dir, "absent");
    const en_cred_attr_t *attrs = KEY_FILE_ATTRS;
    const char *const both[] = {"key", "value", "key-file", empty, NULL};
    s_finalize_fails("userpass", "userpass", attrs, 1, both, EN_NOT_VALID,
                     "specifying both \"key\" and \"key-file\" not valid");
    s_finalize_fails("userpass", "userpass", attrs, 1, NULL, EN_NOT_VALID,
                     "either \"key\" or \"key-file\" must be specified");
    const char *const emptyfile[] = {"key-file", empty, NULL};
    s_finalize_fails("userpass", "userpass", attrs, 1, emptyfile, EN_NOT_VALID,
                     "empty file for \"key\" not valid");
    const char *const missing[] = {"key-file", absent, NULL};
    char want[512];
    snprintf(want, sizeof want, "reading file for \"key\": open %s: no such file or directory",
             absent);
    s_finalize_fails("userpass", "userpass", attrs, 1, missing, EN_NOT_VALID, want);
    //  A FileAttr that collides with another field is a schema bug.
    const en_cred_attr_t clash[] = {{.name = "key", .file_attr = "other"}, {.name = "other"}};
    s_finalize_fails("userpass", "userpass", clash, 2, NULL, EN_NOT_VALID,
                     "duplicate field \"other\"");
    free(empty);
    free(absent);
    fx_rmtree(dir);
}

static void
finalize_mandatory_field_may_come_from_file(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "k");
    fx_write(path, "file-value", 0600);
    const en_cred_attr_t attrs[] = {{.name = "key", .file_attr = "key-file"}};
    en_cred_schema_t schema = {"userpass", attrs, 1};
    const char *const kv[] = {"key-file", path, NULL};
    en_credential_t *c = s_cred("userpass", kv), *out = NULL;
    assert_int_equal(en_credential_finalize(c, &schema, 1, &out, NULL), 0);
    assert_int_equal(out->attrs.count, 1);
    assert_string_equal(en_credential_attr(out, "key"), "file-value");
    en_credential_destroy(&out);
    en_credential_destroy(&c);
    free(path);
    fx_rmtree(dir);
}

static void
finalize_file_path_must_be_absolute_existing_file(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *file = fx_path(dir, "filename");
    fx_write(file, "", 0600);
    en_cred_schema_t schema = {"jsonfile", FILE_PATH_ATTRS, 1};

    //  An existing file: the value stays the (cleaned) absolute path.
    char *messy = NULL;
    assert_true(asprintf(&messy, "%s/./sub/../filename", dir) > 0);
    char *sub = fx_path(dir, "sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    const char *const kv[] = {"file", messy, NULL};
    en_credential_t *c = s_cred("jsonfile", kv), *out = NULL;
    en_err_t err = {0};
    assert_int_equal(en_credential_finalize(c, &schema, 1, &out, &err), 0);
    assert_string_equal(en_credential_attr(out, "file"), file);
    en_credential_destroy(&out);
    en_credential_destroy(&c);

    const char *const rel[] = {"file", "file", NULL};
    s_finalize_fails("jsonfile", "jsonfile", FILE_PATH_ATTRS, 1, rel, EN_NOT_VALID,
                     "file path must be an absolute path: file");
    char *absent = fx_path(dir, "somefile");
    const char *const missing[] = {"file", absent, NULL};
    char want[512];
    snprintf(want, sizeof want, "invalid file path: %s", absent);
    s_finalize_fails("jsonfile", "jsonfile", FILE_PATH_ATTRS, 1, missing, EN_NOT_VALID, want);
    const char *const isdir[] = {"file", sub, NULL};
    snprintf(want, sizeof want, "file path must be a file: %s", sub);
    s_finalize_fails("jsonfile", "jsonfile", FILE_PATH_ATTRS, 1, isdir, EN_NOT_VALID, want);
    free(absent);
    free(messy);
    free(sub);
    free(file);
    fx_rmtree(dir);
}

static void
finalize_file_path_expands_tilde_with_home(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *file = fx_path(dir, "creds.json");
    fx_write(file, "{}", 0600);
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    assert_int_equal(setenv("HOME", dir, 1), 0);
    en_cred_schema_t schema = {"jsonfile", FILE_PATH_ATTRS, 1};
    const char *const kv[] = {"file", "~/creds.json", NULL};
    en_credential_t *c = s_cred("jsonfile", kv), *out = NULL;
    en_err_t err = {0};
    int rc = en_credential_finalize(c, &schema, 1, &out, &err);
    if (old_home)
        setenv("HOME", old_home, 1);
    else
        unsetenv("HOME");
    assert_int_equal(rc, 0);
    assert_string_equal(en_credential_attr(out, "file"), file);
    en_credential_destroy(&out);
    en_credential_destroy(&c);
    free(old_home);
    free(file);
    fx_rmtree(dir);
}

static void
remove_secrets_drops_hidden_attributes(void **state)
{
    (void)state;
    const char *const kv[] = {"username", "user", "password", "secret", NULL};
    en_cred_schema_t schema = {"userpass", USERPASS_ATTRS, 3};
    en_credential_t *c = s_cred("userpass", kv);
    en_err_t err = {0};
    en_credential_t *safe = en_credential_remove_secrets(c, &schema, 1, &err);
    assert_non_null(safe);
    assert_int_equal(safe->attrs.count, 1);
    assert_string_equal(en_credential_attr(safe, "username"), "user");
    assert_null(en_credential_attr(safe, "password"));
    assert_string_equal(en_credential_attr(c, "password"), "secret"); //  original untouched
    en_credential_destroy(&safe);
    en_credential_t *other = s_cred("oauth2", NULL);
    assert_null(en_credential_remove_secrets(other, &schema, 1, &err));
    assert_int_equal(err.kind, EN_NOT_SUPPORTED);
    assert_string_equal(err.message, "auth-type \"oauth2\" not supported");
    en_credential_destroy(&other);
    en_credential_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(credentials_example_parses_with_defaults),
        cmocka_unit_test(credentials_write_matches_juju_marshal_output),
        cmocka_unit_test(credentials_juju_fixture_keeps_clouds_and_order),
        cmocka_unit_test(credentials_unknown_auth_type_is_kept_for_finalize),
        cmocka_unit_test(credentials_missing_auth_type_names_path),
        cmocka_unit_test(credentials_non_string_values_are_named_like_go),
        cmocka_unit_test(credentials_quoted_and_tagged_numbers_are_strings),
        cmocka_unit_test(credentials_wrong_node_types_name_the_path),
        cmocka_unit_test(credentials_reserved_keys_are_not_credential_names),
        cmocka_unit_test(credentials_containers_replace_find_remove_dup),
        cmocka_unit_test(credentials_save_is_0600_and_round_trips),
        cmocka_unit_test(finalize_auth_type_without_schema_not_supported),
        cmocka_unit_test(finalize_rejects_unknown_key),
        cmocka_unit_test(finalize_requires_mandatory_field),
        cmocka_unit_test(finalize_enforces_options),
        cmocka_unit_test(finalize_keeps_schema_fields_in_schema_order),
        cmocka_unit_test(finalize_file_attr_reads_file_and_drops_file_key),
        cmocka_unit_test(finalize_file_attr_errors),
        cmocka_unit_test(finalize_mandatory_field_may_come_from_file),
        cmocka_unit_test(finalize_file_path_must_be_absolute_existing_file),
        cmocka_unit_test(finalize_file_path_expands_tilde_with_home),
        cmocka_unit_test(remove_secrets_drops_hidden_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
