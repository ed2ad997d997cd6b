/*  cli.h — the `environs` command line, shared by its files.

    Shape. argv is parsed once into a cli_args_t against one table of
    options (args.c). Commands are data: each commands_<topic>.c exports a
    table of cli_command_t rows naming the command, its handler, which
    options and how many words it takes, its default output format and its
    help text; cli.c finds the row, checks the words against it (usage
    errors exit 2 before anything touches the network) and runs the
    handler. A handler makes calls through the session (session.c), builds
    a JSON view plus, for the default format, a table, and hands both to
    cli_print.

    Exit status: 0 success, 1 failure (the wire error's message printed as
    `ERROR <message>`), 2 usage error.

    Everything but main.c is linked into the unit test, so parsing and
    formatting are tested without a gateway. */
#ifndef EN_CLI_H
#define EN_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bus/client.h"
#include "common/constraints.h"
#include "common/err.h"
#include "common/portrange.h"
#include "environ.pb-c.h"
#include "format.h"
#include "simplestreams/ss.h"
#include "simplestreams/ssverify.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

#define CLI_DEFAULT_TIMEOUT_MS 30000
//  Calls that make or remove machines wait this long unless --timeout says
//  otherwise (Juju's bootstrap-timeout is 1200 s).
#define CLI_BOOTSTRAP_TIMEOUT_MS 1200000
#define CLI_MACHINES_TIMEOUT_MS 600000
//  The user every model is added for (Juju's local admin).
#define CLI_USER "admin"

typedef struct cli cli_t;

//  --------------------------------------------------------------------------
//  Arguments (args.c)

typedef enum {
    CLI_OPT_HELP = 0,              // -h, --help       (every command)
    CLI_OPT_TIMEOUT,               // --timeout MS     (every command)
    CLI_OPT_FORMAT,                // --format F
    CLI_OPT_MODEL,                 // -m, --model M
    CLI_OPT_FILE,                  // -f, --file FILE
    CLI_OPT_REPLACE,               // --replace
    CLI_OPT_NAME,                  // --name N
    CLI_OPT_AUTH_TYPE,             // --auth-type T
    CLI_OPT_ATTR,                  // --attr K=V       (repeatable)
    CLI_OPT_CREDENTIAL,            // --credential C
    CLI_OPT_CONFIG,                // --config K=V     (repeatable)
    CLI_OPT_CLOUD,                 // --cloud C
    CLI_OPT_CONSTRAINTS,           // --constraints C      (repeatable)
    CLI_OPT_BOOTSTRAP_CONSTRAINTS, // --bootstrap-constraints C (repeatable)
    CLI_OPT_KEEP_BROKEN,           // --keep-broken
    CLI_OPT_NUM_MACHINES,          // -n N
    CLI_OPT_TO,                    // --to PLACEMENT
    CLI_OPT_DESTROY_ALL_MODELS,    // --destroy-all-models
    CLI_OPT_CIDR,                  // --cidr CIDR      (repeatable)
    CLI_OPT_SPACE,                 // --space S
    CLI_OPT_ZONE,                  // --zone Z
    CLI_OPT_DIR,                   // -d, --dir DIR          (metadata generate-image)
    CLI_OPT_IMAGE_ID,              // -i, --image-id ID
    CLI_OPT_BASE,                  // --base ubuntu@22.04
    CLI_OPT_SERIES,                // -s, --series jammy
    CLI_OPT_RELEASE,               // --release 22.04
    CLI_OPT_ARCH,                  // -a, --arch A
    CLI_OPT_REGION,                // -r, --region R
    CLI_OPT_ENDPOINT,              // -u, --endpoint URL
    CLI_OPT_STREAM,                // --stream S
    CLI_OPT_VIRT_TYPE,             // --virt-type V
    CLI_OPT_STORAGE,               // --storage S
    CLI_OPT_SIGN_KEY,              // --sign-key FILE
    CLI_OPT_PASSPHRASE,            // --passphrase P
    CLI_OPT_PRIORITY,              // --priority N           (metadata add-source)
    CLI_OPT_REQUIRE_SIGNED,        // --require-signed
    CLI_OPT_KEYRING,               // --keyring FILE
    CLI_OPT_USER,                  // --user
    CLI_OPT_VERBOSE,               // --verbose              (images)
    CLI_OPT_DESCRIPTION,           // --description D        (metadata add-source)
    CLI_OPT_COUNT
} cli_opt_t;

#define CLI_OPT(o) (UINT64_C(1) << (o))
//  Options every command accepts.
#define CLI_OPTS_COMMON (CLI_OPT(CLI_OPT_HELP) | CLI_OPT(CLI_OPT_TIMEOUT))

//  Words are borrowed from argv. An option given several times keeps every
//  value in order; single-valued options use the last one.
typedef struct {
    const char *command; // first word that is not an option; NULL if none
    const char **words;  // the positional words after the command
    size_t word_count;
    const char **values[CLI_OPT_COUNT];
    size_t value_count[CLI_OPT_COUNT];
    uint64_t given; // CLI_OPT() mask of the options present
} cli_args_t;

//  Usage errors are EN_NOT_VALID with Juju's gnuflag wording: `option
//  provided but not defined: --x`, `option needs an argument: --x`.
int cli_args_parse(int argc, char **argv, cli_args_t *args, en_err_t *err);
void cli_args_clear(cli_args_t *args);
const char *cli_args_value(const cli_args_t *args, cli_opt_t opt);
bool cli_args_has(const cli_args_t *args, cli_opt_t opt);
//  "500" and "500ms" are milliseconds, "30s" seconds; -1 when not valid.
int cli_timeout_parse(const char *text);
//  One line per option in mask: `    --format F     output format ...`.
void cli_options_help(FILE *out, uint64_t mask);
//  The command's timeout when --timeout is given, else default_ms (for
//  commands whose calls take minutes).
int cli_timeout_or(const cli_t *cli, const cli_args_t *args, int default_ms);
//  Every value of a constraints option (--constraints "mem=4G" ...) parsed
//  as Juju's Parse(args...) does; nothing given leaves out empty. Usage
//  errors: `invalid value "mem=x" for option --constraints: <why>`.
int cli_constraints_arg(const cli_args_t *args, cli_opt_t opt, en_constraints_t *out,
                        en_err_t *err);

//  --------------------------------------------------------------------------
//  Commands

typedef int(cli_handler_t)(cli_t *cli, const cli_args_t *args);

typedef struct {
    const char *name;
    cli_handler_t *handler;
    const char *usage;    // words after the name, e.g. "CLOUD"
    const char *summary;  // one line
    const char *details;  // paragraph(s) for `help <name>`, or NULL
    uint64_t options;     // CLI_OPT() mask beyond CLI_OPTS_COMMON
    int min_words;        // positional words required ...
    int max_words;        // ... and allowed (-1 = any number)
    const char *required; // name printed when words are missing, e.g. "CLOUD"
    cli_format_t default_format;
    bool no_tabular; // --format accepts only yaml and json
} cli_command_t;

//  Each table ends with a row whose name is NULL.
extern const cli_command_t cli_cloud_commands[];
extern const cli_command_t cli_credential_commands[];
extern const cli_command_t cli_model_commands[];
extern const cli_command_t cli_machine_commands[];
extern const cli_command_t cli_controller_commands[];
extern const cli_command_t cli_port_commands[];
extern const cli_command_t cli_network_commands[];
extern const cli_command_t cli_metadata_commands[];
extern const cli_command_t cli_image_commands[];

//  Check options, word counts and --format/--timeout values against the
//  command's row; fills cli->format and cli->timeout_ms.
int cli_args_check(const cli_args_t *args, const cli_command_t *command, cli_t *cli, en_err_t *err);
const cli_command_t *cli_command_find(const char *name);
//  The two-word command "name next" when there is one, else name's row.
const cli_command_t *cli_command_find2(const char *name, const char *next);
int cli_main(int argc, char **argv);

//  --------------------------------------------------------------------------
//  Session with the gateway (session.c)

struct cli {
    cli_format_t format;
    int timeout_ms;
    char *gateway;       // endpoint list, found on the first call
    en_client_t *client; // connected on the first call
};

void cli_close(cli_t *cli);
//  The session's client, connected on the first use.
en_client_t *cli_client(cli_t *cli, en_err_t *err);
//  $ENVIRONS_GATEWAY, else the first line of <home>/gateway.endpoint (home
//  as common/paths.h finds it).
//  EN_NOT_FOUND `cannot find the gateway: set ENVIRONS_GATEWAY or start
//  environs-local`. Caller frees.
char *cli_gateway_find(en_err_t *err);
//  One call of service environ.v1. A call that times out because the
//  gateway itself is silent fails with EN_UNAVAILABLE `gateway <ep> not
//  answering`; every other error is the wire's, unchanged.
int cli_call(cli_t *cli, const char *method, const char *model_uuid, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *res_desc, ProtobufCMessage **res, en_err_t *err);
//  The same with its own timeout, for calls that take minutes. With
//  `progress`, the Progress lines published under the call's request id
//  are printed on stderr while it runs (see progress.c).
int cli_call_long(cli_t *cli, const char *method, const char *model_uuid,
                  const ProtobufCMessage *req, const ProtobufCMessageDescriptor *res_desc,
                  ProtobufCMessage **res, int timeout_ms, bool progress, en_err_t *err);
//  Print `ERROR <message>` on stderr; returns CLI_EXIT_FAILURE.
int cli_fail(const en_err_t *err);
//  The same for a usage error found by a handler; returns CLI_EXIT_USAGE.
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
//  Print view (yaml/json) or table (tabular) on stdout. Takes both (either
//  may be NULL when the format does not need it). empty_note goes to stderr
//  instead of a table with no rows (Juju's "No models to display.").
int cli_print(cli_t *cli, json_t *view, cli_table_t *table, const char *empty_note);

//  The current model's name (<home>/current-model), or NULL. Caller frees.
char *cli_current_model(void);
//  NULL forgets the current model.
int cli_set_current_model(const char *name, en_err_t *err);
//  The same for the current controller (<home>/current-controller), which
//  bootstrap sets; it tells apart models of the same name on several
//  controllers.
char *cli_current_controller(void);
int cli_set_current_controller(const char *name, en_err_t *err);
//  A controller by name; NULL with err (the wire's NOT_FOUND when there is
//  none).
En__ControllerResult *cli_controller_find(cli_t *cli, const char *name, en_err_t *err);
//  The model named by -m ([CONTROLLER:]NAME or [CONTROLLER:]OWNER/NAME) or
//  else the current one. A name several controllers use is looked up on
//  the current controller.
En__ModelResult *cli_model_find(cli_t *cli, const cli_args_t *args, en_err_t *err);

//  --------------------------------------------------------------------------
//  Views the tests check (commands_models.c)

//  "cloud/region", or "cloud" when the region is blank. Caller frees.
char *cli_cloud_region(const char *cloud, const char *region);

//  {"models": [{name, model-uuid, ...}], "current-model": NAME}
json_t *cli_models_view(En__Model *const *models, size_t count, const char *current);
//  Model  Cloud/Region  Type  Credential  Owner  (current marked "*")
cli_table_t *cli_models_table(En__Model *const *models, size_t count, const char *current);

//  --------------------------------------------------------------------------
//  Progress lines of a long call (progress.c)

typedef struct cli_progress cli_progress_t;

//  Subscribe to the lines of request_id at the event proxy of every gateway
//  in the list. NULL or "" gateways gives a watcher without a socket (it
//  still judges lines: see cli_progress_line).
cli_progress_t *cli_progress_new(const char *gateways, const char *request_id, en_err_t *err);
void cli_progress_destroy(cli_progress_t **self_p);
//  Print every line that has arrived, each once, on out; waits up to wait_ms
//  for the first one. Returns how many were printed.
size_t cli_progress_print(cli_progress_t *self, FILE *out, int wait_ms);
//  The text to print for one packed en.Progress body, or NULL when it is
//  not one, belongs to another call, or was seen already (every gateway
//  relays every line, so a watcher of several gateways hears each several
//  times). Borrowed until the next call.
const char *cli_progress_line(cli_progress_t *self, const void *body, size_t size);

//  --------------------------------------------------------------------------
//  Machines (commands_machines.c)

//  The model's instances; NO_INSTANCES is an empty list, not an error.
En__AllInstancesResult *cli_all_instances(cli_t *cli, const char *model_uuid, en_err_t *err);
//  The value of an instance's tag, or NULL.
const char *cli_instance_tag(const En__Instance *inst, const char *key);
//  Juju's hardware characteristics text: `arch=amd64 cores=2 cpu-power=100
//  mem=4096M root-disk=8192M tags=a,b availability-zone=z1`, in that order,
//  absent fields left out. Caller frees.
char *cli_hardware_text(const En__HardwareCharacteristics *hw);
//  Sort instances by their juju-machine-id, numerically part by part
//  ("2" < "10" < "10/lxd/0").
void cli_machines_sort(En__Instance **instances, size_t count);
//  Juju's status shape: {"model": {name, cloud, region}, "machines": {ID:
//  {instance-id, machine-status: {current, message}, dns-name,
//  ip-addresses, hardware, availability-zone}}}. Instances without a
//  machine id are not machines and are left out.
json_t *cli_machines_view(const En__Model *model, En__Instance *const *instances, size_t count);
//  Machine  State  Address  Inst id  Series  AZ  Message
cli_table_t *cli_machines_table(En__Instance *const *instances, size_t count);
//  The instance of machine `id` in all (borrowed), or NULL.
const En__Instance *cli_machine_find(const En__AllInstancesResult *all, const char *id);

//  --------------------------------------------------------------------------
//  Ports (commands_ports.c)

//  PORTRANGE as Juju's ParsePortRanges reads it ("80", "8000-8080/udp",
//  "icmp", several joined by commas, spaces around each trimmed), one
//  ingress rule per range with every CIDR given. The errors are
//  common/portrange.h's (`invalid port range "x"`, `invalid CIDR address:
//  y`). *rules_p is caller-freed with en_ingress_rules_free.
int cli_port_rules_parse(const char *text, const char *const *cidrs, size_t cidr_count,
                         en_ingress_rule_t **rules_p, size_t *count, en_err_t *err);
//  The wire's rules as common ones (validated; an invalid one is an
//  error). *rules_p holds count rules, caller-freed.
int cli_port_rules_from_proto(En__IngressRule *const *wire, size_t count,
                              en_ingress_rule_t **rules_p, en_err_t *err);
//  [{port-range: "80/tcp", protocol, from-port, to-port, source-cidrs}],
//  a rule without sources shown as ["0.0.0.0/0"]. Rules in the order given.
json_t *cli_ports_view(const en_ingress_rule_t *rules, size_t count);
//  Protocol  Ports  Source ("80", "8000-8080", "-" for icmp; sources
//  joined with ",").
cli_table_t *cli_ports_table(const en_ingress_rule_t *rules, size_t count);

//  --------------------------------------------------------------------------
//  Spaces, subnets and a machine's NICs (commands_network.c)

//  Compare text with runs of digits as numbers ("10.1.64.0/18" <
//  "10.1.128.0/18"), the order go-yaml gives map keys.
int cli_compare_natural(const char *a, const char *b);
//  {"spaces": [{id, name, subnets: {CIDR: {type, provider-id, vlan-tag,
//  zones}}}]}, spaces by name; a subnet without a CIDR is keyed by its
//  provider id.
json_t *cli_spaces_view(En__SpaceInfo *const *spaces, size_t count);
//  Name  Space ID  Subnets (one subnet a line, by CIDR, under its space)
cli_table_t *cli_spaces_table(En__SpaceInfo *const *spaces, size_t count);

//  A subnet as `subnets` shows it: the wire's, and the name of its space
//  ("" when it has none). Both borrowed.
typedef struct {
    const En__SubnetInfo *info;
    const char *space;
} cli_subnet_t;

//  The subnets in space (a name; NULL = any) and zone (NULL = any), each
//  named with its space (by space_provider_id, else by the space that
//  lists it), ordered by CIDR. NOT_FOUND `space "x" not found` when no
//  space has that name. *out (caller frees) may hold zero subnets.
int cli_subnets_select(En__SubnetInfo *const *subnets, size_t count, En__SpaceInfo *const *spaces,
                       size_t space_count, const char *space, const char *zone, cli_subnet_t **out,
                       size_t *out_count, en_err_t *err);
//  {"subnets": {CIDR: {type, provider-id, space, provider-space-id,
//  vlan-tag, zones}}}
json_t *cli_subnets_view(const cli_subnet_t *subnets, size_t count);
//  Subnet  Provider ID  Space  VLAN  Zones (zones joined with ",")
cli_table_t *cli_subnets_table(const cli_subnet_t *subnets, size_t count);

//  The `machines` view of one machine with its NICs under
//  machines.<id>.network-interfaces, keyed by interface name ("eth<index>"
//  when it has none), by device index; each NIC's space named from spaces
//  when one matches its provider space id.
json_t *cli_show_machine_view(const En__Model *model, const En__Instance *inst,
                              En__InterfaceInfo *const *nics, size_t count,
                              En__SpaceInfo *const *spaces, size_t space_count);

//  --------------------------------------------------------------------------
//  Image metadata (commands_metadata.c)

//  The image `metadata generate-image` describes, its strings borrowed
//  from args. Usage errors (EN_NOT_VALID): `missing option: -i`, `missing
//  option: --base, --series or --release`, `invalid value "x" for option
//  --arch: ...`, `--passphrase needs --sign-key`.
int cli_generate_image_meta(const cli_args_t *args, en_ss_image_meta_t *image, en_err_t *err);
//  Whether two images take the same place in a tree (stream, release, arch,
//  cloud, virt type, root storage): the newer replaces the older.
bool cli_image_meta_same_slot(const en_ss_image_meta_t *a, const en_ss_image_meta_t *b);
//  Merge image into dir/images (see commands_metadata.c), signing the
//  documents too when signer is not NULL.
int cli_generate_image_write(const char *dir, const en_ss_image_meta_t *image,
                             en_sssigner_t *signer, time_t now, en_err_t *err);
//  A whole file, NUL-terminated (*data caller-freed). EN_NOT_FOUND `cannot
//  read PATH: No such file or directory` when it is missing.
int cli_read_file(const char *path, char **data, size_t *len, en_err_t *err);

//  --------------------------------------------------------------------------
//  Image data sources and lookups (commands_images.c)

//  {"sources": [{id, description, url, priority, require-signed,
//  keyring-bytes}]}, in lookup order; keyring-bytes only when there is a
//  keyring (its text is never shown).
json_t *cli_image_sources_view(En__ImageDataSource *const *sources, size_t count);
//  Id  Description  URL  Priority  Signed ("required" / "optional")
cli_table_t *cli_image_sources_table(En__ImageDataSource *const *sources, size_t count);
//  The source `metadata add-source ID URL` describes: id and url from the
//  words, description (default the id), priority (default 50) and
//  require_signed; strings borrowed from args, no keyring (see
//  cli_keyring_read). Usage errors (EN_NOT_VALID): `invalid URL "x":
//  expected file://, http:// or https://`, `invalid value "x" for option
//  --priority`.
int cli_image_source_from_args(const cli_args_t *args, En__ImageDataSource *src, en_err_t *err);
//  The armored public key(s) in file (caller frees): NULL with
//  cli_read_file's error, or EN_NOT_VALID `invalid keyring FILE: expected
//  an armored public key (-----BEGIN PGP PUBLIC KEY BLOCK-----)`.
char *cli_keyring_read(const char *file, en_err_t *err);
//  "22.04": digits, one dot, digits.
bool cli_version_valid(const char *release);
//  The release a --release value names: a version ("22.04") as it is, a
//  series ("jammy") mapped to its version. NULL with EN_NOT_VALID
//  `invalid value "x" for option --release: expected a version (22.04) or
//  a series (jammy)`.
const char *cli_release_arg(const char *value, en_err_t *err);
//  The model's default-series (config "default-series", else
//  "default-base" ubuntu@R) as a version; NULL when it has none.
const char *cli_model_default_release(const En__Model *model, char *buf, size_t size);
//  {"images": [{id, release, series, arch, region, endpoint, virt-type,
//  storage, stream, source, priority}], "resolve-info": {source, signed,
//  index-url, mirror-url}, "skipped": [{source, error}]} (empty fields
//  left out; skipped only when a source was skipped).
json_t *cli_images_view(const En__FindImageMetadataResult *res);
//  Id  Release  Arch  Region  Virt  Storage  Source
cli_table_t *cli_images_table(const En__FindImageMetadataResult *res);
//  --verbose's lines, in the order the sources were tried: `Skipped
//  <source>: <error>` per skipped source, then `Found in <source>
//  (signed|unsigned): <index url>` (with ` via mirror <url>` when one was
//  used). Caller frees.
char *cli_images_verbose(const En__FindImageMetadataResult *res);

#endif
