/*  routes.c — which service owns each public method.

    Dispatch is data: this table is the whole routing policy of the
    gateway. A method listed here is forwarded by the broker straight to
    its owner (no composer hop). A method of environ.proto that is not
    listed is served by the composer threads: either composed from several
    services, or answered NOT_IMPLEMENTED until its service lands. */
#include "gateway.h"

#include <string.h>

static const en_forward_t s_forwards[] = {
    // ProviderRegistry
    {"RegisterProvider", "registry"},
    {"RegisteredProviders", "registry"},
    {"Provider", "registry"},
    // clouds, regions, credentials
    {"Clouds", "registry"},
    {"Cloud", "registry"},
    {"AddCloud", "registry"},
    {"MakeCloudSpec", "registry"},
    {"DetectRegions", "registry"},
    {"CredentialSchemas", "registry"},
    {"DetectCredentials", "registry"},
    {"FinalizeCredential", "registry"},
    {"Credentials", "registry"},
    {"AddCredential", "registry"},
    // controllers and models (EnvironProvider, ModelConfigUpgrader)
    {"Controllers", "registry"},
    {"Controller", "registry"},
    {"PrepareConfig", "registry"},
    {"Open", "registry"},
    {"Models", "registry"},
    {"Model", "registry"},
    {"Validate", "registry"},
    {"SetConfig", "registry"},
    {"Config", "registry"},
    {"UpgradeConfig", "registry"},
    {"Schema", "registry"},
    {"NextMachineId", "registry"},
    // InstanceBroker, InstanceTagger, constraints and precheck
    // (StartInstance is a composition: registry, then the broker;
    // StartInstances and StopInstances fan out to the broker: batch.c)
    {"AllInstances", "broker"},
    {"Instances", "broker"},
    {"ControllerInstances", "broker"},
    {"MaintainInstance", "broker"},
    {"TagInstance", "broker"},
    {"ConstraintsValidator", "broker"},
    {"ValidateConstraints", "broker"},
    {"MergeConstraints", "broker"},
    {"PrecheckInstance", "broker"},
    // Environ lifecycle (Bootstrap and DestroyControllerByName are
    // compositions: bootstrap.c; Destroy and DestroyController delete the
    // firewall groups after the broker: firewall.c)
    {"PrepareForBootstrap", "broker"},
    {"Create", "broker"},
    {"APIInfo", "broker"},
    {"CheckProviderAPI", "broker"},
    // Firewaller and InstanceFirewaller (OpenPortsMany and ClosePortsMany
    // fan out to the firewaller: firewall.c)
    {"OpenPorts", "firewaller"},
    {"ClosePorts", "firewaller"},
    {"Ports", "firewaller"},
    {"OpenInstancePorts", "firewaller"},
    {"CloseInstancePorts", "firewaller"},
    {"InstancePorts", "firewaller"},
    // Networking (AllocateContainerAddressesMany fans out to the
    // networking service: network.c)
    {"SupportsNetworking", "networking"},
    {"SupportsSpaces", "networking"},
    {"SupportsSpaceDiscovery", "networking"},
    {"SupportsContainerAddresses", "networking"},
    {"Subnets", "networking"},
    {"NetworkInterfaces", "networking"},
    {"Spaces", "networking"},
    {"AllocateContainerAddresses", "networking"},
    {"ReleaseContainerAddresses", "networking"},
    // Image and agent metadata (StartInstance's image step: images.c)
    {"ImageMetadataSources", "imagemeta"},
    {"RegisterImageDataSource", "imagemeta"},
    {"RegisterUserImageDataSource", "imagemeta"},
    {"UnregisterImageDataSource", "imagemeta"},
    {"FindImageMetadata", "imagemeta"},
    {"AgentMetadataSources", "imagemeta"},
    {"FindAgentMetadata", "imagemeta"},
};

const en_forward_t *
gateway_forwards(size_t *count)
{
    *count = sizeof s_forwards / sizeof s_forwards[0];
    return s_forwards;
}

const char *
gateway_owner(const char *method)
{
    for (size_t i = 0; i < sizeof s_forwards / sizeof s_forwards[0]; i++)
        if (strcmp(s_forwards[i].method, method) == 0)
            return s_forwards[i].service;
    return NULL;
}
