package config

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The content controls' sections of the policy: what a tool may be sent
// (arguments), what a server may send back (output, secrets), which tool
// definitions are trusted (tools, pinning) and which combinations of
// calls one session may make (flows). Every zero value is the safe
// default; [Config.ApplyDefaults] fills them in.

// ArgumentsPolicy is policy.arguments: validation of tools/call arguments
// against the tool's inputSchema, plus per-tool constraints.
type ArgumentsPolicy struct {
	// Schema is "enforce" (default) or "off".
	Schema string `yaml:"schema"`
	// InvalidSchema says what happens to calls of a tool whose
	// inputSchema cannot be compiled (or is too complex to validate in
	// bounded time): "deny" (default) or "skip", which validates the
	// constraints only and logs a warning for every call.
	InvalidSchema string `yaml:"invalid_schema"`
	// Tools add constraints to the arguments of the matching tools. Every
	// entry that matches applies.
	Tools []ToolArguments `yaml:"tools"`
}

// ToolArguments are the constraints of the tools matching a pattern.
type ToolArguments struct {
	// Match is a "server/tool" pattern; * matches any run of characters.
	Match string `yaml:"match"`
	// Arguments maps an argument name ("path", a dotted path into nested
	// objects "options.dir", or "*" for every string value) to its
	// constraint. Arrays of strings are checked element by element.
	Arguments map[string]ArgumentRule `yaml:"arguments"`
}

// ArgumentRule constrains one argument. Every field set must hold.
type ArgumentRule struct {
	// Pattern is an RE2 expression the whole value must match.
	Pattern string `yaml:"pattern"`
	// Enum lists the only values allowed.
	Enum []string `yaml:"enum"`
	// MaxLength bounds the value's length in characters.
	MaxLength int `yaml:"max_length"`
	// PathRoot lists directories the value, read as a path, must resolve
	// inside after every decoding and with symlinks resolved. Relative
	// roots are relative to the configuration file.
	PathRoot []string `yaml:"path_root"`
	// URL checks the value as a URL: scheme, host and every address the
	// host resolves to.
	URL *URLRule `yaml:"url"`
	// Command lists the commands the value may start with; the value may
	// hold no shell metacharacters at all.
	Command []string `yaml:"command"`
	// DenyFindings lists detector finding categories (secret_exfiltration,
	// command_injection, ...) or rule IDs and ID prefixes (secret.credential,
	// cmd.) that the value may not trigger.
	DenyFindings []string `yaml:"deny_findings"`
}

// URLRule is the url constraint of an argument.
type URLRule struct {
	// Schemes allowed; default http and https.
	Schemes []string `yaml:"schemes"`
	// Hosts allowed: exact names or "*.example.com" for subdomains. Empty
	// allows any host whose addresses pass.
	Hosts []string `yaml:"hosts"`
	// AllowAddresses lists address classes allowed besides public ones:
	// loopback, private, link_local, metadata, ... (see package netclass).
	AllowAddresses []string `yaml:"allow_addresses"`
}

// OutputPolicy is policy.output: inspection of every tool result, prompt
// and resource read.
type OutputPolicy struct {
	// Inspect turns the detection engine on results on (default true).
	Inspect *bool `yaml:"inspect"`
	// Threshold is the category score at which an action applies
	// (default 0.5).
	Threshold float64 `yaml:"threshold"`
	// Sanitize strips hidden characters and terminal escapes and defangs
	// role markers in every result, flagged or not (default true).
	Sanitize *bool `yaml:"sanitize"`
	// Spotlight marks every result as data: "none" (default), "delimit"
	// or "datamark".
	Spotlight string `yaml:"spotlight"`
	// Actions maps a finding category (or "*" for the others) to what is
	// done with a result that reaches the threshold in it: annotate,
	// sanitize, redact, spotlight or block.
	Actions map[string]string `yaml:"actions"`
}

// SecretsPolicy is policy.secrets: credential redaction (DLP).
type SecretsPolicy struct {
	// Results is what happens to credentials in results, prompts and
	// resources: "redact" (default), "block" or "allow".
	Results string `yaml:"results"`
	// SinkArguments is what happens to credentials in the arguments of a
	// tool that can send data out (an exfiltration sink): "redact"
	// (default), "deny" or "allow".
	SinkArguments string `yaml:"sink_arguments"`
}

// ToolsPolicy is policy.tools: tool-poisoning checks of the definitions
// servers list.
type ToolsPolicy struct {
	// Poisoned is what happens to a tool or prompt whose definition is
	// judged poisoned and that nobody approved: "hide" (default: withheld
	// from lists, calls denied), "sanitize" (listed with hidden content
	// stripped and a warning, calls allowed) or "allow".
	Poisoned string `yaml:"poisoned"`
	// Threshold is the score at which a definition counts as poisoned
	// (default: the detection engine's, 0.5).
	Threshold float64 `yaml:"threshold"`
}

// PinningPolicy is policy.pinning: rug-pull protection.
type PinningPolicy struct {
	// Mode is "tofu" (default: definitions are pinned on first use),
	// "lockfile" (only definitions in the lockfile are trusted) or "off".
	Mode string `yaml:"mode"`
	// Lockfile is the lock's path, relative to the configuration file.
	// Default: mcpwarden.lock beside the configuration file, or
	// $XDG_STATE_HOME/mcpwarden/mcpwarden.lock without one.
	Lockfile string `yaml:"lockfile"`
	// OnChange is "block" (default: a changed definition is withheld and
	// its calls denied until approved) or "warn".
	OnChange string `yaml:"on_change"`
	// Poll is how often the lockfile is checked for approvals (default 2s).
	Poll Duration `yaml:"poll"`
}

// FlowsPolicy is policy.flows: toxic-flow blocking.
type FlowsPolicy struct {
	// Action is what happens to a call that would complete the lethal
	// trifecta in a session: "approve" (default: ask a human; denied when
	// the client cannot ask), "deny" or "off".
	Action string `yaml:"action"`
	// Tools label tools as untrusted_source, private_reader or exfil_sink
	// (or none, to clear the labels the classifier gave).
	Tools []ToolLabels `yaml:"tools"`
}

// ToolLabels are the flow labels of the tools matching a pattern. The
// first matching entry wins over annotations and the classifier.
type ToolLabels struct {
	Match  string   `yaml:"match"`
	Labels []string `yaml:"labels"`
}

// Values of the content policy settings.
const (
	SchemaEnforce = "enforce"
	SchemaOff     = "off"

	InvalidSchemaDeny = "deny"
	InvalidSchemaSkip = "skip"

	ActionAnnotate  = "annotate"
	ActionSanitize  = "sanitize"
	ActionRedact    = "redact"
	ActionSpotlight = "spotlight"
	ActionBlock     = "block"

	SecretsRedact = "redact"
	SecretsBlock  = "block"
	SecretsDeny   = "deny"
	SecretsAllow  = "allow"

	PoisonedHide     = "hide"
	PoisonedSanitize = "sanitize"
	PoisonedAllow    = "allow"

	PinTOFU     = "tofu"
	PinLockfile = "lockfile"
	PinOff      = "off"

	OnChangeBlock = "block"
	OnChangeWarn  = "warn"

	FlowApprove = "approve"
	FlowDeny    = "deny"
	FlowOff     = "off"

	LabelSource  = "untrusted_source"
	LabelPrivate = "private_reader"
	LabelSink    = "exfil_sink"
	LabelNone    = "none"
)

// DefaultOutputActions are the actions for flagged results unless
// policy.output.actions says otherwise: instructions addressed to the
// model are blocked, leaked credentials redacted, the rest annotated.
var DefaultOutputActions = map[string]string{
	"indirect_prompt_injection": ActionBlock,
	"tool_poisoning":            ActionBlock,
	"secret_exfiltration":       ActionRedact,
	"*":                         ActionAnnotate,
}

// DefaultLockPoll is how often the gateway looks for lockfile approvals.
const DefaultLockPoll = 2 * time.Second

func (p *Policy) applyContentDefaults() {
	a := &p.Arguments
	if a.Schema == "" {
		a.Schema = SchemaEnforce
	}
	if a.InvalidSchema == "" {
		a.InvalidSchema = InvalidSchemaDeny
	}
	o := &p.Output
	if o.Inspect == nil {
		on := true
		o.Inspect = &on
	}
	if o.Sanitize == nil {
		on := true
		o.Sanitize = &on
	}
	if o.Threshold == 0 {
		o.Threshold = 0.5
	}
	if o.Spotlight == "" {
		o.Spotlight = "none"
	}
	actions := make(map[string]string, len(DefaultOutputActions)+len(o.Actions))
	for k, v := range DefaultOutputActions {
		actions[k] = v
	}
	for k, v := range o.Actions {
		actions[k] = v
	}
	o.Actions = actions
	s := &p.Secrets
	if s.Results == "" {
		s.Results = SecretsRedact
	}
	if s.SinkArguments == "" {
		s.SinkArguments = SecretsRedact
	}
	if p.Tools.Poisoned == "" {
		p.Tools.Poisoned = PoisonedHide
	}
	pin := &p.Pinning
	if pin.Mode == "" {
		pin.Mode = PinTOFU
	}
	if pin.OnChange == "" {
		pin.OnChange = OnChangeBlock
	}
	if pin.Poll == 0 {
		pin.Poll = Duration(DefaultLockPoll)
	}
	if p.Flows.Action == "" {
		p.Flows.Action = FlowApprove
	}
}

// Dir is the directory relative paths in the configuration are relative
// to: the configuration file's, or the working directory without one.
func (c *Config) Dir() string {
	if c.File == "" {
		return "."
	}
	return filepath.Dir(c.File)
}

// Path resolves a path written in the configuration: absolute paths and
// "~/..." as they are, relative ones against [Config.Dir].
func (c *Config) Path(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.Dir(), p)
}

// LockfilePath is the lockfile the pinning control uses: policy.pinning.lockfile,
// else mcpwarden.lock beside the configuration file, else (no file, as for
// `mcpwarden wrap` without --config) $XDG_STATE_HOME/mcpwarden/mcpwarden.lock.
func (c *Config) LockfilePath() string {
	if l := c.Policy.Pinning.Lockfile; l != "" {
		return c.Path(l)
	}
	if c.File != "" {
		return filepath.Join(c.Dir(), "mcpwarden.lock")
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "mcpwarden", "mcpwarden.lock")
	}
	if h, err := os.UserHomeDir(); err == nil && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "mcpwarden", "mcpwarden.lock")
	}
	return "mcpwarden.lock"
}
