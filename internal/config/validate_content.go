package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"mcpwarden/internal/finding"
	"mcpwarden/internal/netclass"
	"mcpwarden/internal/toolmatch"
)

var (
	ruleIDPrefixRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.?$`)
	schemeRE       = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
	hostPatternRE  = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$|^\[[0-9a-f:.]+\]$`)
)

// validateContent checks the content controls' sections (content.go).
func (p *parser) validateContent(c *Config, root *yaml.Node) {
	at := func(path ...string) *yaml.Node { return valueNode(root, path...) }
	pol := &c.Policy
	oneOf := func(n *yaml.Node, path, got string, allowed ...string) {
		if !slices.Contains(allowed, got) {
			p.errorf(n, path, "expected one of %s, got %q", strings.Join(allowed, ", "), got)
		}
	}

	a := &pol.Arguments
	oneOf(at("policy", "arguments", "schema"), "policy.arguments.schema", a.Schema, SchemaEnforce, SchemaOff)
	oneOf(at("policy", "arguments", "invalid_schema"), "policy.arguments.invalid_schema", a.InvalidSchema, InvalidSchemaDeny, InvalidSchemaSkip)
	toolsNode := at("policy", "arguments", "tools")
	for i, ta := range a.Tools {
		n := item(toolsNode, i)
		path := fmt.Sprintf("policy.arguments.tools[%d]", i)
		p.checkMatch(valueNode(n, "match"), path+".match", ta.Match)
		if len(ta.Arguments) == 0 {
			p.errorf(n, path+".arguments", "name at least one argument to constrain")
		}
		argsNode := valueNode(n, "arguments")
		for _, name := range slices.Sorted(maps.Keys(ta.Arguments)) {
			p.checkArgumentRule(valueNode(argsNode, name), path+".arguments."+name, name, ta.Arguments[name])
		}
	}

	o := &pol.Output
	if o.Threshold <= 0 || o.Threshold > 1 {
		p.errorf(at("policy", "output", "threshold"), "policy.output.threshold", "expected a score above 0 and at most 1, got %g", o.Threshold)
	}
	oneOf(at("policy", "output", "spotlight"), "policy.output.spotlight", o.Spotlight, "none", "delimit", "datamark")
	actionsNode := at("policy", "output", "actions")
	for _, cat := range slices.Sorted(maps.Keys(o.Actions)) {
		act := o.Actions[cat]
		n := valueNode(actionsNode, cat)
		if cat != "*" && !finding.Category(cat).Valid() {
			p.errorf(keyNode(actionsNode, cat), "policy.output.actions."+cat, "unknown finding category; expected one of %s, or * for every other", categoryList())
		}
		oneOf(n, "policy.output.actions."+cat, act, ActionAnnotate, ActionSanitize, ActionRedact, ActionSpotlight, ActionBlock)
	}

	s := &pol.Secrets
	oneOf(at("policy", "secrets", "results"), "policy.secrets.results", s.Results, SecretsRedact, SecretsBlock, SecretsAllow)
	oneOf(at("policy", "secrets", "sink_arguments"), "policy.secrets.sink_arguments", s.SinkArguments, SecretsRedact, SecretsDeny, SecretsAllow)

	oneOf(at("policy", "tools", "poisoned"), "policy.tools.poisoned", pol.Tools.Poisoned, PoisonedHide, PoisonedSanitize, PoisonedAllow)
	if th := pol.Tools.Threshold; th < 0 || th > 1 {
		p.errorf(at("policy", "tools", "threshold"), "policy.tools.threshold", "expected a score between 0 and 1, got %g", th)
	}

	pin := &pol.Pinning
	oneOf(at("policy", "pinning", "mode"), "policy.pinning.mode", pin.Mode, PinTOFU, PinLockfile, PinOff)
	oneOf(at("policy", "pinning", "on_change"), "policy.pinning.on_change", pin.OnChange, OnChangeBlock, OnChangeWarn)
	if pin.Poll.D() < 100*time.Millisecond || pin.Poll.D() > time.Hour {
		p.errorf(at("policy", "pinning", "poll"), "policy.pinning.poll", "expected a duration between 100ms and 1h, got %s", pin.Poll.D())
	}

	f := &pol.Flows
	oneOf(at("policy", "flows", "action"), "policy.flows.action", f.Action, FlowApprove, FlowDeny, FlowOff)
	flowNode := at("policy", "flows", "tools")
	for i, tl := range f.Tools {
		n := item(flowNode, i)
		path := fmt.Sprintf("policy.flows.tools[%d]", i)
		p.checkMatch(valueNode(n, "match"), path+".match", tl.Match)
		if len(tl.Labels) == 0 {
			p.errorf(n, path+".labels", "list the labels (%s, %s, %s) or none", LabelSource, LabelPrivate, LabelSink)
		}
		for j, l := range tl.Labels {
			ln := item(valueNode(n, "labels"), j)
			switch {
			case l == LabelNone && len(tl.Labels) > 1:
				p.errorf(ln, fmt.Sprintf("%s.labels[%d]", path, j), "none clears every label and cannot be combined with others")
			case l != LabelNone && l != LabelSource && l != LabelPrivate && l != LabelSink:
				p.errorf(ln, fmt.Sprintf("%s.labels[%d]", path, j), "expected one of %s, %s, %s or none, got %q", LabelSource, LabelPrivate, LabelSink, l)
			}
		}
	}
}

func (p *parser) checkMatch(n *yaml.Node, path, m string) {
	if _, err := toolmatch.Parse(m); err != nil {
		p.errorf(n, path, "%v", err)
	}
}

func (p *parser) checkArgumentRule(n *yaml.Node, path, name string, r ArgumentRule) {
	if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		p.errorf(n, path, "expected an argument name, a dotted path such as options.dir, or *")
	}
	if r.Pattern == "" && len(r.Enum) == 0 && r.MaxLength == 0 && len(r.PathRoot) == 0 && r.URL == nil && len(r.Command) == 0 && len(r.DenyFindings) == 0 {
		p.errorf(n, path, "sets no constraint; use pattern, enum, max_length, path_root, url, command or deny_findings")
	}
	if r.Pattern != "" {
		if _, err := regexp.Compile(r.Pattern); err != nil {
			p.errorf(valueNode(n, "pattern"), path+".pattern", "not an RE2 regular expression: %v", err)
		}
	}
	if r.MaxLength < 0 {
		p.errorf(valueNode(n, "max_length"), path+".max_length", "expected a positive length, got %d", r.MaxLength)
	}
	for i, d := range r.PathRoot {
		if strings.TrimSpace(d) == "" || strings.IndexByte(d, 0) >= 0 {
			p.errorf(item(valueNode(n, "path_root"), i), fmt.Sprintf("%s.path_root[%d]", path, i), "expected a directory")
		}
	}
	if u := r.URL; u != nil {
		un := valueNode(n, "url")
		for i, s := range u.Schemes {
			if !schemeRE.MatchString(s) {
				p.errorf(item(valueNode(un, "schemes"), i), fmt.Sprintf("%s.url.schemes[%d]", path, i), "expected a lower-case URL scheme such as https, got %q", s)
			}
		}
		for i, h := range u.Hosts {
			if !hostPatternRE.MatchString(h) {
				p.errorf(item(valueNode(un, "hosts"), i), fmt.Sprintf("%s.url.hosts[%d]", path, i), "expected a lower-case host name, *.domain or [IPv6], got %q", h)
			}
		}
		for i, c := range u.AllowAddresses {
			if _, err := netclass.ParseClass(c); err != nil || c == "unknown" {
				p.errorf(item(valueNode(un, "allow_addresses"), i), fmt.Sprintf("%s.url.allow_addresses[%d]", path, i), "unknown address class %q (want public, loopback, private, link_local, metadata, multicast, unspecified, broadcast or reserved)", c)
			}
		}
	}
	for i, c := range r.Command {
		if c == "" || strings.ContainsAny(c, " \t\r\n;&|$`<>(){}'\"\\*?[]#~!%^") {
			p.errorf(item(valueNode(n, "command"), i), fmt.Sprintf("%s.command[%d]", path, i), "expected a command name without spaces or shell metacharacters, got %q", c)
		}
	}
	for i, d := range r.DenyFindings {
		if !finding.Category(d).Valid() && !ruleIDPrefixRE.MatchString(d) {
			p.errorf(item(valueNode(n, "deny_findings"), i), fmt.Sprintf("%s.deny_findings[%d]", path, i), "expected a finding category (%s) or a rule ID or prefix such as secret.credential or cmd., got %q", categoryList(), d)
		}
	}
}

// item returns the i-th element of a sequence node, or n itself.
func item(n *yaml.Node, i int) *yaml.Node {
	if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

// keyNode returns the key node of key in mapping m, or m itself.
func keyNode(m *yaml.Node, key string) *yaml.Node {
	if m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i]
			}
		}
	}
	return m
}

func categoryList() string {
	names := make([]string, len(finding.Categories))
	for i, c := range finding.Categories {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}
