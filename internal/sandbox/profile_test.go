package sandbox

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseProfile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		check   func(Profile) string // "" when fine
		wantErr string
	}{
		{name: "full", in: `
backend: native
read_only: [/srv/data]
read_write: [/srv/out]
network: egress
egress:
  allow: ["api.github.com:443", "*.npmjs.org"]
  internal: [10.0.0.0/8]
limits: {memory: 512MiB, cpu_time: 10m, processes: 64, open_files: 256, file_size: 10MiB}
env: {LOG_LEVEL: debug}
landlock: require
home_size: 64MiB
caches: [{host: pip, path: .cache/pip}]
`, check: func(p Profile) string {
			if p.Backend != BackendNative || p.Network != NetworkEgress || p.Limits.Memory != 512<<20 || p.Limits.CPUTime.String() != "10m0s" ||
				p.Limits.Processes != 64 || p.Landlock != RequireOn || p.Env["LOG_LEVEL"] != "debug" || len(p.Caches) != 1 || p.HomeSize != 64<<20 {
				return "fields not decoded"
			}
			return ""
		}},
		{name: "empty mapping takes defaults", in: "{}\n", check: func(p Profile) string {
			d := p.WithDefaults()
			if d.Network != NetworkNone || d.Backend != BackendAuto || d.Limits.Processes != defaultProcesses {
				return "defaults not applied"
			}
			return ""
		}},
		{name: "unknown field", in: "read_onyl: [/x]\n", wantErr: "field read_onyl not found"},
		{name: "unknown nested field", in: "limits: {memroy: 1GiB}\n", wantErr: "field memroy not found"},
		{name: "bad network", in: "network: wifi\n", wantErr: `line 1: unknown network "wifi" (want one of none, egress, host)`},
		{name: "bad backend", in: "backend: docker\n", wantErr: `unknown backend "docker"`},
		{name: "bad size", in: "limits: {memory: 1 potato}\n", wantErr: `unknown unit "potato"`},
		{name: "negative duration", in: "limits: {cpu_time: -1s}\n", wantErr: "want a positive Go duration"},
		{name: "relative path", in: "read_only: [data]\n", wantErr: `read_only: "data" is not an absolute path`},
		{name: "host root", in: "read_write: [/]\n", wantErr: "the host root / cannot be mounted"},
		{name: "allowlist without egress", in: "egress: {allow: [example.com]}\n", wantErr: `network is "none"`},
		{name: "bad allowlist entry", in: "network: egress\negress: {allow: ['ex*mple.com']}\n", wantErr: "wildcard"},
		{name: "tiny memory", in: "limits: {memory: 1MiB}\n", wantErr: "too small"},
		{name: "cache escapes", in: "caches: [{host: ../../etc, path: x}]\n", wantErr: "escapes its base"},
		{name: "two documents", in: "network: none\n---\nnetwork: host\n", wantErr: "more than one YAML document"},
		{name: "empty", in: "", wantErr: "profile is empty"},
		{name: "not a mapping", in: "- a\n", wantErr: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseProfile(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseProfile(%q) error = %v", tt.in, err)
			}
			if msg := tt.check(p); msg != "" {
				t.Errorf("ParseProfile(%q) = %+v: %s", tt.in, p, msg)
			}
		})
	}
}

// TestProfileEmbedded checks the profile decodes strictly when embedded
// in a larger config, as the gateway does under each server.
func TestProfileEmbedded(t *testing.T) {
	type server struct {
		Command string   `yaml:"command"`
		Sandbox *Profile `yaml:"sandbox"`
	}
	var cfg struct {
		Servers map[string]server `yaml:"servers"`
	}
	dec := yaml.NewDecoder(strings.NewReader("servers:\n  fs:\n    command: node\n    sandbox:\n      network: host\n      limits: {procesess: 3}\n"))
	dec.KnownFields(true)
	err := dec.Decode(&cfg)
	if err == nil || !strings.Contains(err.Error(), "field procesess not found") {
		t.Errorf("embedded decode error = %v, want the unknown nested field reported", err)
	}
}

func TestByteSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ByteSize
		str  string
	}{{"512MiB", 512 << 20, "512MiB"}, {"1G", 1 << 30, "1GiB"}, {"64k", 64 << 10, "64KiB"}, {"1000", 1000, "1000B"}, {"2 GiB", 2 << 30, "2GiB"}} {
		got, err := ParseByteSize(tt.in)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseByteSize(%q) = %d (%s), %v, want %d (%s)", tt.in, got, got, err, tt.want, tt.str)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1.5G", "99999999999999999999", "9999999999T"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) error = nil, want an error", bad)
		}
	}
}

func TestDefaultFor(t *testing.T) {
	tests := []struct {
		cmd     string
		network Network
		allow   string
		cache   string
	}{
		{"npx", NetworkEgress, "registry.npmjs.org:443", ".npm"},
		{"/usr/bin/npx", NetworkEgress, "registry.npmjs.org:443", ".npm"},
		{"uvx", NetworkEgress, "pypi.org:443", ".cache/uv"},
		{"node", NetworkNone, "", ""},
		{"python3.12", NetworkNone, "", ""},
		{"./my-server", NetworkNone, "", ""},
	}
	for _, tt := range tests {
		p := DefaultFor(tt.cmd)
		if err := p.Validate(); err != nil {
			t.Errorf("DefaultFor(%q) does not validate: %v", tt.cmd, err)
		}
		allow := strings.Join(p.Egress.Allow, ",")
		cache := ""
		if len(p.Caches) > 0 {
			cache = p.Caches[0].Path
		}
		if p.Network != tt.network || !strings.Contains(allow, tt.allow) || cache != tt.cache {
			t.Errorf("DefaultFor(%q) = network %s, allow %q, cache %q; want %s, %q, %q", tt.cmd, p.Network, allow, cache, tt.network, tt.allow, tt.cache)
		}
	}
	for _, n := range BuiltinNames() {
		if _, ok := Builtin(n); !ok {
			t.Errorf("Builtin(%q) not found", n)
		}
	}
}

func TestChooseBackend(t *testing.T) {
	yes := Feature{Available: true}
	allUp := Features{OS: "linux", Seccomp: yes, Landlock: yes, LandlockTCP: yes, CgroupV2: yes, Native: yes, Bubblewrap: yes, GVisor: yes}
	noNative := allUp
	noNative.Native = Feature{Detail: "cannot create the sandbox namespaces: operation not permitted"}
	nothing := Features{OS: "linux", Seccomp: yes, Landlock: yes, CgroupV2: yes,
		Native:     Feature{Detail: "user namespaces are disabled (sysctl user.max_user_namespaces=0)"},
		Bubblewrap: Feature{Detail: "bwrap is not installed"}, GVisor: Feature{Detail: "runsc is not installed"}}
	noLandlock := allUp
	noLandlock.Landlock = Feature{Detail: "Landlock is built in but not enabled"}

	prof := func(mod func(*Profile)) Profile {
		p := DefaultProfile()
		mod(&p)
		return p
	}
	tests := []struct {
		name        string
		f           Features
		p           Profile
		want        Backend
		wantErr     []string
		wantWarning string
	}{
		{name: "auto picks native", f: allUp, p: DefaultProfile(), want: BackendNative},
		{name: "auto falls to bubblewrap", f: noNative, p: DefaultProfile(), want: BackendBubblewrap},
		{name: "explicit native unavailable names the fix", f: noNative, p: prof(func(p *Profile) { p.Backend = BackendNative }),
			wantErr: []string{"the native backend cannot be used", "operation not permitted", "backend: bubblewrap"}},
		{name: "nothing works: fail closed, never none", f: nothing, p: DefaultProfile(),
			wantErr: []string{"no sandbox backend works", "max_user_namespaces=0", "bwrap is not installed", "runsc is not installed", "backend: none"}},
		{name: "explicit none is allowed and warned", f: nothing, p: prof(func(p *Profile) { p.Backend = BackendNone }), want: BackendNone, wantWarning: "WITHOUT ANY ISOLATION"},
		{name: "landlock required but missing", f: noLandlock, p: prof(func(p *Profile) { p.Backend = BackendNative; p.Landlock = RequireOn }),
			wantErr: []string{"landlock: require", "not enabled", "landlock: auto"}},
		{name: "landlock missing is reported", f: noLandlock, p: DefaultProfile(), want: BackendNative, wantWarning: "Landlock is not available"},
		{name: "gvisor cannot do egress", f: allUp, p: prof(func(p *Profile) { p.Backend = BackendGVisor; p.Network = NetworkEgress }),
			wantErr: []string{"egress is not supported with gVisor", "backend: native"}},
		{name: "host network warned", f: allUp, p: prof(func(p *Profile) { p.Network = NetworkHost }), want: BackendNative, wantWarning: "network: host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := chooseBackend(tt.f, tt.p)
			if tt.wantErr != nil {
				if err == nil || !errors.Is(err, ErrUnavailable) {
					t.Fatalf("chooseBackend = %s, %v; want an ErrUnavailable", got, err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("chooseBackend error = %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("chooseBackend = %s, %v; want %s", got, err, tt.want)
			}
			if tt.wantWarning != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.wantWarning) {
				t.Errorf("warnings = %q, want one containing %q", warnings, tt.wantWarning)
			}
		})
	}
}

func FuzzParseProfile(f *testing.F) {
	for _, s := range []string{
		"network: egress\negress: {allow: [\"a.com:443\"]}\n",
		"limits: {memory: 1GiB, cpu_time: 1m}\n",
		"read_only: [/a, /b]\nread_write: [/a]\n",
		"caches: [{host: x, path: y}]\n",
		"env: {A: b, \"\": c}\n",
		"network: none\nnetwork: host\n",
		"{backend: none, landlock: off}",
		"limits: {memory: 99999999999T}",
		"&a [*a]",
		"read_only: [\"/a\\0b\"]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParseProfile([]byte(in))
		if err != nil {
			return
		}
		// A profile that parses must validate with defaults, and survive
		// a round trip through YAML unchanged.
		d := p.WithDefaults()
		if err := d.Validate(); err != nil {
			t.Fatalf("ParseProfile(%q) accepted a profile whose defaults do not validate: %v", in, err)
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := ParseProfile(out)
		if err != nil && len(out) > 3 {
			t.Fatalf("round trip of %q through %q: %v", in, out, err)
		}
		if err == nil {
			again, _ := yaml.Marshal(back)
			if string(again) != string(out) {
				t.Fatalf("round trip changed the profile:\n%s\n---\n%s", out, again)
			}
		}
	})
}
