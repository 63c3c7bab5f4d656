package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SyncPolicy says when a write counts as stored.
type SyncPolicy string

const (
	// SyncFull acknowledges a record once its commit is fsynced: it survives
	// a power loss or kernel crash.
	SyncFull SyncPolicy = "full"
	// SyncNormal, the default, acknowledges a record once its commit is in
	// the operating system (SQLite WAL commit or write(2) returned): it
	// survives a crash or kill of mcpwarden, not of the machine.
	SyncNormal SyncPolicy = "normal"
	// SyncOff acknowledges a record when it is queued. A crash loses the
	// queue; a failed commit loses its batch (logged and counted). It is
	// explicitly lossy and exists for benchmarks and throwaway gateways.
	SyncOff SyncPolicy = "off"
)

func (p SyncPolicy) orDefault() SyncPolicy {
	if p == "" {
		return SyncNormal
	}
	return p
}

// UnmarshalYAML implements yaml.Unmarshaler, naming the line of a bad value.
func (p *SyncPolicy) UnmarshalYAML(n *yaml.Node) error {
	return decodeEnum(n, (*string)(p), "sync", string(SyncFull), string(SyncNormal), string(SyncOff))
}

// ErrorPolicy says what the interceptor does with a call when a sink
// cannot write its record.
type ErrorPolicy string

const (
	// OnErrorDeny, the default, fails closed: the call is denied with rule
	// [RuleUnavailable], so nothing happens that is not recorded.
	OnErrorDeny ErrorPolicy = "deny"
	// OnErrorAllow lets the call through unrecorded. The failure is still
	// logged at error level and counted.
	OnErrorAllow ErrorPolicy = "allow"
)

// UnmarshalYAML implements yaml.Unmarshaler, naming the line of a bad value.
func (p *ErrorPolicy) UnmarshalYAML(n *yaml.Node) error {
	return decodeEnum(n, (*string)(p), "on_error", string(OnErrorDeny), string(OnErrorAllow))
}

func decodeEnum(n *yaml.Node, dst *string, key string, allowed ...string) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: %s: want one of %s", n.Line, key, strings.Join(allowed, ", "))
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return nil
		}
	}
	return fmt.Errorf("line %d: %s: %q is not one of %s", n.Line, key, s, strings.Join(allowed, ", "))
}

// Default sizes kept of arguments and results. Arguments are what a
// security review reads most; results can be large and are mostly
// evidence, so less is kept by default.
const (
	DefaultMaxArgBytes    = 16 << 10
	DefaultMaxResultBytes = 4 << 10
)

// SQLiteOff turns the SQLite sink off when given as [SinksConfig].SQLite.
const SQLiteOff = "off"

// SinksConfig chooses where records go. Any number of sinks can be on;
// each chained sink keeps its own chain.
type SinksConfig struct {
	// SQLite is the path of the SQLite database. Empty means [DefaultPath];
	// "off" turns the SQLite sink off.
	SQLite string `yaml:"sqlite,omitempty"`
	// JSONL is the path of a JSONL log. Empty means no JSONL sink.
	JSONL string `yaml:"jsonl,omitempty"`
	// OTel emits a span per call to the gateway's TracerProvider.
	OTel bool `yaml:"otel,omitempty"`
}

// Config is the policy.audit section of the gateway config. Its zero value
// is the safe default: SQLite at [DefaultPath], sync normal, fail closed,
// redaction on, 16 KiB of arguments and 4 KiB of results kept.
//
//	audit:
//	  sinks:
//	    sqlite: /var/lib/mcpwarden/audit.db
//	    jsonl: /var/log/mcpwarden/audit.jsonl
//	    otel: true
//	  sync: full            # full | normal | off
//	  on_error: deny        # deny | allow
//	  max_arg_bytes: 16384  # 0 = default, -1 = keep no arguments
//	  max_result_bytes: 4096
//	  redact: true
type Config struct {
	Sinks   SinksConfig `yaml:"sinks,omitempty"`
	Sync    SyncPolicy  `yaml:"sync,omitempty"`
	OnError ErrorPolicy `yaml:"on_error,omitempty"`
	// MaxArgBytes and MaxResultBytes cut the arguments and result kept in
	// each record, after redaction. 0 means the default; a negative value
	// keeps none (the record still says that there were some).
	MaxArgBytes    int `yaml:"max_arg_bytes,omitempty"`
	MaxResultBytes int `yaml:"max_result_bytes,omitempty"`
	// Redact turns secret redaction of arguments, results and errors on
	// (nil means on). Turning it off writes secrets to the log.
	Redact *bool `yaml:"redact,omitempty"`
}

// ParseConfig strictly decodes a standalone audit section: unknown keys,
// bad values and trailing documents are errors naming the line.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("audit config: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("audit config: more than one YAML document")
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports settings that cannot work together.
func (c *Config) Validate() error {
	if c.Sinks.SQLite == SQLiteOff && c.Sinks.JSONL == "" && !c.Sinks.OTel {
		return fmt.Errorf("audit.sinks: every sink is off; turn one on (sqlite, jsonl or otel)")
	}
	return c.validate()
}

// validate checks everything but that some sink is on, which [New] checks
// after adding its extra sinks.
func (c *Config) validate() error {
	if c.Sync != "" && c.Sync != SyncFull && c.Sync != SyncNormal && c.Sync != SyncOff {
		return fmt.Errorf("audit.sync: %q is not one of full, normal, off", c.Sync)
	}
	if c.OnError != "" && c.OnError != OnErrorDeny && c.OnError != OnErrorAllow {
		return fmt.Errorf("audit.on_error: %q is not one of deny, allow", c.OnError)
	}
	if c.Sinks.JSONL != "" && c.Sinks.SQLite != SQLiteOff && samePath(c.SQLitePath(), c.Sinks.JSONL) {
		return fmt.Errorf("audit.sinks: sqlite and jsonl name the same file %s", c.Sinks.JSONL)
	}
	return nil
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// SQLitePath returns the database path the config selects ("" when the
// SQLite sink is off).
func (c *Config) SQLitePath() string {
	switch c.Sinks.SQLite {
	case SQLiteOff:
		return ""
	case "":
		return DefaultPath()
	}
	return c.Sinks.SQLite
}

func (c *Config) redact() bool { return c.Redact == nil || *c.Redact }

func (c *Config) maxArgs() int   { return orDefault(c.MaxArgBytes, DefaultMaxArgBytes) }
func (c *Config) maxResult() int { return orDefault(c.MaxResultBytes, DefaultMaxResultBytes) }

func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// DefaultPath is where the audit database lives unless configured: under
// the XDG state directory, $XDG_STATE_HOME/mcpwarden/audit.db, which is
// ~/.local/state/mcpwarden/audit.db by default. Without a usable home
// directory it is mcpwarden-audit.db in the working directory. The gateway
// and the audit commands both use it.
func DefaultPath() string { return defaultPath(os.Getenv) }

func defaultPath(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "mcpwarden", "audit.db")
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "mcpwarden", "audit.db")
	}
	return "mcpwarden-audit.db"
}
