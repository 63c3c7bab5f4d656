package posture

import "mcpwarden/internal/finding"

// Rule documents one launch-posture check. Rules are plain values listed
// by [Rules]; docs/scan.md explains each ID.
type Rule struct {
	ID       string
	Category finding.Category
	Severity finding.Severity // the default; some findings adjust it
	Title    string
}

// Rule IDs. They are stable and never reused.
const (
	UnpinnedPackage       = "supply_chain.unpinned_package"
	UnpinnedImage         = "supply_chain.unpinned_image"
	PackageSource         = "supply_chain.package_source"
	DockerPrivileged      = "privilege.docker_privileged"
	DockerHostNamespace   = "privilege.docker_host_namespace"
	DockerBroadMount      = "privilege.docker_broad_mount"
	DockerCapabilities    = "privilege.docker_capabilities"
	FilesystemRoot        = "privilege.filesystem_root"
	PlaintextEnv          = "secrets.plaintext_env"
	PlaintextHeader       = "secrets.plaintext_header"
	PlaintextArg          = "secrets.plaintext_arg"
	URLCredentials        = "secrets.url_credentials"
	ShellInterpolation    = "shell.wrapper_interpolation"
	ShellWrapper          = "shell.wrapper"
	PlainHTTP             = "transport.plain_http"
	UnresolvedPlaceholder = "config.unresolved_placeholder"
)

var rules = []Rule{
	{UnpinnedPackage, finding.SupplyChain, finding.Medium, "package is not pinned to an exact version"},
	{UnpinnedImage, finding.SupplyChain, finding.Medium, "container image is not pinned by digest"},
	{PackageSource, finding.SupplyChain, finding.Info, "where the server comes from"},
	{DockerPrivileged, finding.Hygiene, finding.Critical, "container runs privileged"},
	{DockerHostNamespace, finding.Hygiene, finding.High, "container shares a host namespace"},
	{DockerBroadMount, finding.Hygiene, finding.High, "container mounts a broad host path"},
	{DockerCapabilities, finding.Hygiene, finding.High, "container gets extra capabilities or weakened confinement"},
	{FilesystemRoot, finding.Hygiene, finding.High, "server is given a filesystem root"},
	{PlaintextEnv, finding.SecretExfiltration, finding.High, "secret written in plain text in the config's env"},
	{PlaintextHeader, finding.SecretExfiltration, finding.High, "secret written in plain text in a header"},
	{PlaintextArg, finding.SecretExfiltration, finding.High, "secret written in plain text in the arguments"},
	{URLCredentials, finding.SecretExfiltration, finding.High, "credentials in the server URL"},
	{ShellInterpolation, finding.CommandInjection, finding.High, "shell wrapper interpolates values into a script"},
	{ShellWrapper, finding.Hygiene, finding.Low, "server is launched through a shell"},
	{PlainHTTP, finding.Transport, finding.High, "remote server over plain http"},
	{UnresolvedPlaceholder, finding.Hygiene, finding.Info, "placeholder cannot be resolved statically"},
}

// Rules returns every rule, in report order.
func Rules() []Rule { return append([]Rule(nil), rules...) }

func ruleByID(id string) Rule {
	for _, r := range rules {
		if r.ID == id {
			return r
		}
	}
	panic("posture: unknown rule " + id) // programmer error: IDs are constants
}
