package scan

import (
	"fmt"
	"strings"

	"mcpwarden/internal/finding"
	"mcpwarden/internal/pin"
)

// changeFindings turns lockfile changes into findings, one per changed
// item (a tool, a prompt, the instructions), each change an evidence line
// with the pinned text as Previous. duringScan marks changes seen between
// two listings of one session rather than against the lockfile.
func changeFindings(server string, changes []pin.Change, duringScan bool) []finding.Finding {
	type key struct {
		item pin.ItemKind
		name string
	}
	var order []key
	groups := map[key][]pin.Change{}
	for _, c := range changes {
		k := key{c.Item, c.Name}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	var out []finding.Finding
	for _, k := range order {
		cs := groups[k]
		rule := changeRule(k.item, cs[0].Kind)
		if duringScan {
			rule = RugChangedDuringScan
		}
		def := ruleDefault(rule)
		what := string(k.item)
		if k.name != "" {
			what += " " + k.name
		}
		kinds := make([]string, 0, len(cs))
		for _, c := range cs {
			kinds = append(kinds, strings.ReplaceAll(string(c.Kind), "_", " "))
		}
		when := "since it was pinned"
		detail := "What the user or the lockfile approved is not what the server offers now. Review the change; if it is expected, accept it with `mcpwarden pin approve " + server
		if k.name != "" && k.item != pin.KindServer && k.item != pin.KindInstructions {
			detail += "/" + k.name
		}
		detail += "`."
		if duringScan {
			when = "between two listings in one session"
			detail = "The server changed its definitions after it was first listed, without being restarted or upgraded: the definition a user approves is not the one the agent later reads. This is the classic rug pull."
		}
		f := finding.Finding{
			RuleID: rule, Category: def.Category, Severity: def.Severity, Confidence: 1, Server: server,
			Title:  fmt.Sprintf("%s changed %s: %s", upperFirst(what), when, strings.Join(dedupe(kinds), ", ")),
			Detail: detail,
		}
		if k.item != pin.KindServer && k.item != pin.KindInstructions {
			f.Tool = k.name
		}
		switch rule {
		case RugNotPinned:
			f.Title = "Server is not in the lockfile"
			f.Detail = "It was never pinned, so a later change to its definitions cannot be detected. Run `mcpwarden pin` to record them."
		case RugToolAdded:
			f.Title = fmt.Sprintf("Tool %s appeared since the server was pinned", k.name)
		case RugToolRemoved:
			f.Title = fmt.Sprintf("Pinned tool %s is gone", k.name)
		}
		for _, c := range cs {
			f.Evidence = append(f.Evidence, changeEvidence(c))
		}
		out = append(out, f)
	}
	return out
}

func changeRule(item pin.ItemKind, kind pin.ChangeKind) string {
	switch item {
	case pin.KindServer:
		if kind == pin.ServerAdded {
			return RugNotPinned
		}
		return RugIdentity
	case pin.KindInstructions:
		return RugInstructions
	case pin.KindPrompt:
		return RugPromptChanged
	case pin.KindResourceTemplate:
		return RugTemplateChanged
	}
	switch kind {
	case pin.ToolAdded:
		return RugToolAdded
	case pin.ToolRemoved:
		return RugToolRemoved
	}
	return RugToolChanged
}

func changeEvidence(c pin.Change) finding.Evidence {
	ev := finding.Evidence{Field: c.Path, Previous: c.Old, Text: c.New}
	if ev.Field == "" {
		ev.Field = string(c.Item)
	}
	note := strings.ReplaceAll(string(c.Kind), "_", " ")
	if c.Param != "" {
		note += " (" + c.Param + ")"
	}
	if c.Diff != "" {
		note += ": " + c.Diff
	}
	ev.Note = note
	return ev
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if len(out) == 0 || !contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
