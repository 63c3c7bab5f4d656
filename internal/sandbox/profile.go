package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"mcpwarden/internal/egress"
)

// Profile is what a sandboxed server may do. It is decoded from the
// gateway config (under each server, as `sandbox:`) or from a profile
// file, strictly: unknown fields are errors. Empty fields take the strict
// defaults of [DefaultProfile]; see [Profile.WithDefaults].
type Profile struct {
	// Backend selects the isolation mechanism; empty means auto.
	Backend Backend `yaml:"backend,omitempty" json:"backend,omitempty"`
	// ReadOnly and ReadWrite are host paths (files or directories) made
	// visible at the same path inside the sandbox. Everything else on the
	// host is invisible, apart from the read-only system directories.
	ReadOnly  []string `yaml:"read_only,omitempty" json:"read_only,omitempty"`
	ReadWrite []string `yaml:"read_write,omitempty" json:"read_write,omitempty"`
	// Network is none (the default: loopback only), egress (only the
	// allowlisted destinations, through mcpwarden's proxy) or host (the
	// host's network, unrestricted: an explicit opt-in).
	Network Network `yaml:"network,omitempty" json:"network,omitempty"`
	// Egress is the allowlist used when Network is egress.
	Egress Egress `yaml:"egress,omitempty" json:"egress,omitempty"`
	// Limits bound the resources of the server and all its children.
	Limits Limits `yaml:"limits,omitempty" json:"limits,omitempty"`
	// Env is added to the server's environment, on top of the scrubbed
	// base the caller passes in the command spec.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Landlock controls the Landlock layer of the native and bubblewrap
	// backends: auto (use it when the kernel has it), require (refuse to
	// start without it) or off.
	Landlock Requirement `yaml:"landlock,omitempty" json:"landlock,omitempty"`
	// HomeSize and TmpSize bound the private writable home and /tmp,
	// which are memory-backed and discarded when the server exits.
	HomeSize ByteSize `yaml:"home_size,omitempty" json:"home_size,omitempty"`
	TmpSize  ByteSize `yaml:"tmp_size,omitempty" json:"tmp_size,omitempty"`
	// Caches are host directories, created on demand, mounted read-write
	// at a path inside the sandbox (usually under the private home) so
	// that package runners keep their download caches between runs.
	Caches []Cache `yaml:"caches,omitempty" json:"caches,omitempty"`
}

// Cache is a persistent writable directory of a sandboxed server.
type Cache struct {
	// Host is the directory on the host; a relative path is relative to
	// the server's cache root (see Options.CacheDir).
	Host string `yaml:"host" json:"host"`
	// Path is where it appears inside the sandbox; a relative path is
	// relative to the private home.
	Path string `yaml:"path" json:"path"`
}

// Egress lists where a server with Network egress may connect.
type Egress struct {
	// Allow are allowlist entries: host, *.domain or an address literal,
	// with optional ports (see [egress.ParseAllowlist]).
	Allow []string `yaml:"allow,omitempty" json:"allow,omitempty"`
	// Internal are CIDR prefixes of internal destinations (private,
	// loopback, link-local) that allowlisted names may resolve to.
	Internal []string `yaml:"internal,omitempty" json:"internal,omitempty"`
}

// Limits bound a server's resources. Zero means the default of
// [DefaultProfile]; there is deliberately no way to write "unlimited"
// except a very large value.
type Limits struct {
	Memory    ByteSize `yaml:"memory,omitempty" json:"memory,omitempty"`         // address space the server may commit (cgroup memory.max or RLIMIT_DATA)
	CPUTime   Duration `yaml:"cpu_time,omitempty" json:"cpu_time,omitempty"`     // CPU time per process (RLIMIT_CPU); 0 = no limit
	Processes int      `yaml:"processes,omitempty" json:"processes,omitempty"`   // processes and threads (cgroup pids.max, RLIMIT_NPROC, PID-namespace pid_max)
	OpenFiles int      `yaml:"open_files,omitempty" json:"open_files,omitempty"` // open files per process (RLIMIT_NOFILE)
	FileSize  ByteSize `yaml:"file_size,omitempty" json:"file_size,omitempty"`   // largest file the server may write (RLIMIT_FSIZE)
}

// Backend names an isolation mechanism.
type Backend string

const (
	BackendAuto       Backend = "auto"       // the strongest available: native, then bubblewrap, then gvisor
	BackendNative     Backend = "native"     // mcpwarden's own namespaces, Landlock and seccomp
	BackendBubblewrap Backend = "bubblewrap" // bwrap(1) for namespaces and mounts, mcpwarden for the rest
	BackendGVisor     Backend = "gvisor"     // runsc(8), a user-space kernel
	BackendNone       Backend = "none"       // no isolation at all: explicit, and warned about
)

var backends = []Backend{BackendAuto, BackendNative, BackendBubblewrap, BackendGVisor, BackendNone}

// Network is a server's network access.
type Network string

const (
	NetworkNone   Network = "none"   // a private network namespace with loopback only
	NetworkEgress Network = "egress" // only the allowlist, through the egress proxy
	NetworkHost   Network = "host"   // the host's network, unfiltered
)

var networks = []Network{NetworkNone, NetworkEgress, NetworkHost}

// Requirement is whether an optional kernel feature must be used.
type Requirement string

const (
	RequireAuto Requirement = "auto"    // use when available, report when not
	RequireOn   Requirement = "require" // refuse to start without it
	RequireOff  Requirement = "off"     // do not use
)

var requirements = []Requirement{RequireAuto, RequireOn, RequireOff}

func unmarshalEnum[T ~string](n *yaml.Node, valid []T, what string, out *T) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %s must be a string", n.Line, what)
	}
	for _, v := range valid {
		if string(v) == n.Value {
			*out = v
			return nil
		}
	}
	names := make([]string, len(valid))
	for i, v := range valid {
		names[i] = string(v)
	}
	return fmt.Errorf("line %d: unknown %s %q (want one of %s)", n.Line, what, n.Value, strings.Join(names, ", "))
}

func (b *Backend) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalEnum(n, backends, "backend", b)
}
func (v *Network) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalEnum(n, networks, "network", v)
}
func (r *Requirement) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalEnum(n, requirements, "requirement", r)
}

// ByteSize is a size in bytes, written as a number with an optional unit:
// 512MiB, 1GiB, 64k, 1G (binary multiples), or plain bytes.
type ByteSize int64

// ParseByteSize parses a size such as 512MiB.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (512MiB, 2GiB)", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	var shift uint
	switch strings.ToLower(strings.TrimSpace(t[i:])) {
	case "", "b":
	case "k", "kb", "kib":
		shift = 10
	case "m", "mb", "mib":
		shift = 20
	case "g", "gb", "gib":
		shift = 30
	case "t", "tb", "tib":
		shift = 40
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q (want B, KiB, MiB, GiB or TiB)", s, strings.TrimSpace(t[i:]))
	}
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(n << shift), nil
}

func (b ByteSize) String() string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if b != 0 && b%(1<<u.shift) == 0 {
			return strconv.FormatInt(int64(b>>u.shift), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: size must be a scalar", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

func (b ByteSize) MarshalYAML() (any, error)    { return b.String(), nil }
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Duration is a time.Duration written as 30s, 10m or 1h.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration must be a scalar", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: duration %q: want a positive Go duration such as 30s or 10m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string               { return time.Duration(d).String() }
func (d Duration) MarshalYAML() (any, error)    { return d.String(), nil }
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults of the strict profile.
const (
	defaultMemory    = ByteSize(1 << 30)
	defaultProcesses = 256
	defaultOpenFiles = 1024
	defaultFileSize  = ByteSize(1 << 30)
	defaultHomeSize  = ByteSize(256 << 20)
	defaultTmpSize   = ByteSize(256 << 20)
)

// DefaultProfile is the strict profile used when a server has none: no
// host paths beyond the read-only system directories, no network, a
// private memory-backed home and /tmp, and bounded resources.
func DefaultProfile() Profile {
	return Profile{
		Backend:  BackendAuto,
		Network:  NetworkNone,
		Landlock: RequireAuto,
		Limits: Limits{
			Memory:    defaultMemory,
			Processes: defaultProcesses,
			OpenFiles: defaultOpenFiles,
			FileSize:  defaultFileSize,
		},
		HomeSize: defaultHomeSize,
		TmpSize:  defaultTmpSize,
	}
}

// WithDefaults returns p with every unset field taken from
// [DefaultProfile]. Slices and maps are copied, so the result can be
// changed without touching p.
func (p Profile) WithDefaults() Profile {
	d := DefaultProfile()
	out := p
	out.ReadOnly = slices.Clone(p.ReadOnly)
	out.ReadWrite = slices.Clone(p.ReadWrite)
	out.Caches = slices.Clone(p.Caches)
	out.Egress.Allow = slices.Clone(p.Egress.Allow)
	out.Egress.Internal = slices.Clone(p.Egress.Internal)
	out.Env = make(map[string]string, len(p.Env))
	for k, v := range p.Env {
		out.Env[k] = v
	}
	if out.Backend == "" {
		out.Backend = d.Backend
	}
	if out.Network == "" {
		out.Network = d.Network
	}
	if out.Landlock == "" {
		out.Landlock = d.Landlock
	}
	if out.Limits.Memory == 0 {
		out.Limits.Memory = d.Limits.Memory
	}
	if out.Limits.Processes == 0 {
		out.Limits.Processes = d.Limits.Processes
	}
	if out.Limits.OpenFiles == 0 {
		out.Limits.OpenFiles = d.Limits.OpenFiles
	}
	if out.Limits.FileSize == 0 {
		out.Limits.FileSize = d.Limits.FileSize
	}
	if out.HomeSize == 0 {
		out.HomeSize = d.HomeSize
	}
	if out.TmpSize == 0 {
		out.TmpSize = d.TmpSize
	}
	return out
}

// Validate checks a profile for mistakes that would otherwise surface
// only when a server starts. It does not check that paths exist: that is
// done when the sandbox is built, with the path in the error.
func (p Profile) Validate() error {
	var errs []error
	check := func(field string, paths []string) {
		for _, path := range paths {
			if err := checkHostPath(path); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", field, err))
			}
		}
	}
	check("read_only", p.ReadOnly)
	check("read_write", p.ReadWrite)
	for i, c := range p.Caches {
		if c.Host == "" || c.Path == "" {
			errs = append(errs, fmt.Errorf("caches[%d]: set both host and path", i))
			continue
		}
		if err := checkRelOrAbs(c.Host); err != nil {
			errs = append(errs, fmt.Errorf("caches[%d].host: %w", i, err))
		}
		if err := checkRelOrAbs(c.Path); err != nil {
			errs = append(errs, fmt.Errorf("caches[%d].path: %w", i, err))
		}
	}
	if p.Network != NetworkEgress && (len(p.Egress.Allow) > 0 || len(p.Egress.Internal) > 0) {
		errs = append(errs, fmt.Errorf("egress: an allowlist is set but network is %q; set network: egress to use it", p.effectiveNetwork()))
	}
	if _, err := egress.ParseAllowlist(p.Egress.Allow, p.Egress.Internal); err != nil {
		errs = append(errs, err)
	}
	if p.Limits.Processes < 0 || p.Limits.OpenFiles < 0 || p.Limits.Memory < 0 || p.Limits.FileSize < 0 {
		errs = append(errs, errors.New("limits: values must not be negative"))
	}
	if p.Limits.Memory != 0 && p.Limits.Memory < 16<<20 {
		errs = append(errs, fmt.Errorf("limits.memory: %s is too small to start a runtime; use at least 16MiB", p.Limits.Memory))
	}
	if p.Limits.OpenFiles != 0 && p.Limits.OpenFiles < 16 {
		errs = append(errs, fmt.Errorf("limits.open_files: %d is too small; use at least 16", p.Limits.OpenFiles))
	}
	for k := range p.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, fmt.Errorf("env: invalid variable name %q", k))
		}
	}
	for k, v := range p.Env {
		if strings.ContainsRune(v, 0) {
			errs = append(errs, fmt.Errorf("env: value of %s contains NUL", k))
		}
	}
	return errors.Join(errs...)
}

func (p Profile) effectiveNetwork() Network {
	if p.Network == "" {
		return NetworkNone
	}
	return p.Network
}

func checkHostPath(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%q is not an absolute path", path)
	}
	if strings.ContainsRune(path, 0) {
		return fmt.Errorf("%q contains NUL", path)
	}
	if filepath.Clean(path) == "/" {
		return errors.New("the host root / cannot be mounted into a sandbox; list the directories the server needs")
	}
	return nil
}

func checkRelOrAbs(path string) error {
	if strings.ContainsRune(path, 0) {
		return fmt.Errorf("%q contains NUL", path)
	}
	if !filepath.IsAbs(path) && !filepath.IsLocal(path) {
		return fmt.Errorf("%q escapes its base directory", path)
	}
	return nil
}

// ParseProfile decodes a profile file strictly (unknown fields, a second
// document and an empty file are errors) and validates it. Defaults are
// not applied.
func ParseProfile(data []byte) (Profile, error) {
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return Profile{}, errors.New("profile is empty")
		}
		return Profile{}, fmt.Errorf("decoding profile: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Profile{}, errors.New("profile has more than one YAML document")
	}
	if err := p.Validate(); err != nil {
		return Profile{}, fmt.Errorf("invalid profile: %w", err)
	}
	return p, nil
}
