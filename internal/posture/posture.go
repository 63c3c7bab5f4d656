// Package posture reviews how an MCP server is launched, from its client
// configuration alone and without executing anything: unpinned packages
// and images, privileged or over-mounted containers, filesystem roots
// handed to a server, secrets written in plain text, shell wrappers that
// interpolate values, and remote servers over plain http. It also reports
// where each server comes from.
//
// Findings use the shared [finding.Finding] vocabulary with the stable
// rule IDs of [Rules] (docs/scan.md explains each) and point at the config
// field (config.env.API_KEY, config.args[2]) and the line in the file.
// Secret values are never quoted: evidence says which field and why.
//
//	for _, f := range posture.Review(&server, posture.Options{}) {
//		fmt.Println(f.Path, f.Line, f.Finding)
//	}
package posture

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"mcpwarden/internal/discover"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/launch"
	"mcpwarden/internal/netclass"
)

// Options tune the review. The zero value is ready.
type Options struct {
	// Home is the user's home directory, recognised as a broad root;
	// "" means os.UserHomeDir.
	Home string
}

// Finding is a posture finding located in the config file.
type Finding struct {
	Finding finding.Finding `json:"finding"`
	Path    string          `json:"path"` // the config file
	Line    int             `json:"line"` // 1-based line of the field, or of the server entry
}

// Review checks one server declaration.
func Review(s *discover.Server, opts Options) []Finding {
	home := opts.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	r := &reviewer{s: s, home: filepath.Clean(home)}
	if s.Transport == discover.Stdio && s.Command != "" {
		r.l = launch.Parse(s.Command, s.Args)
		r.eff = r.l.Effective()
	}
	r.source()
	r.packages()
	r.container()
	r.filesystemRoots()
	r.secrets()
	r.shell()
	r.transport()
	r.unresolved()
	return r.out
}

type reviewer struct {
	s    *discover.Server
	home string
	l    *launch.Launch // as launched
	eff  *launch.Launch // after shell wrappers
	out  []Finding
}

// add records a finding for the rule at a config field ("args[2]",
// "env.KEY", "url", "command", "" for the entry).
func (r *reviewer) add(id, field, title, detail string, ev finding.Evidence, opt ...func(*finding.Finding)) {
	rule := ruleByID(id)
	if field != "" {
		ev.Field = "config." + field
	} else {
		ev.Field = "config"
	}
	f := finding.Finding{
		RuleID: id, Category: rule.Category, Severity: rule.Severity, Confidence: 0.9,
		Server: r.s.Name, Title: title, Detail: detail, Evidence: []finding.Evidence{ev},
	}
	for _, o := range opt {
		o(&f)
	}
	line := r.s.Line
	if field != "" {
		line = r.s.FieldLine(field)
	}
	r.out = append(r.out, Finding{Finding: f, Path: r.s.ConfigPath, Line: line})
}

func severity(s finding.Severity) func(*finding.Finding) {
	return func(f *finding.Finding) { f.Severity = s }
}
func confidence(c float64) func(*finding.Finding) {
	return func(f *finding.Finding) { f.Confidence = c }
}

func argField(i int) string { return "args[" + strconv.Itoa(i) + "]" }

// source reports, as info, what the server runs.
func (r *reviewer) source() {
	s := r.s
	switch {
	case s.Transport == discover.HTTP || s.Transport == discover.SSE:
		r.add(PackageSource, "url", "remote server at "+safeURL(s.URL),
			"The server runs elsewhere; what it serves can change without notice. Pin its tool definitions with `mcpwarden pin`.",
			finding.Evidence{Text: safeURL(s.URL)}, confidence(1))
	case r.eff != nil && r.eff.Package != nil:
		p := r.eff.Package
		state := "pinned"
		if !p.Pinned {
			state = "unpinned"
		}
		title := fmt.Sprintf("runs %s package %s (%s)", p.Ecosystem, p.Name, state)
		if p.Version != "" || p.Digest != "" {
			title = fmt.Sprintf("runs %s package %s %s (%s)", p.Ecosystem, p.Name, strings.Trim(p.Version+" "+p.Digest, " "), state)
		}
		r.add(PackageSource, argField(p.ArgIndex), title,
			"The package is fetched by "+r.eff.Runner+" when the client starts the server.",
			finding.Evidence{Text: redactText(p.Spec)}, confidence(1))
	case r.eff != nil && r.eff.Script != "":
		r.add(PackageSource, argField(r.eff.ScriptIndex), "runs local script "+r.eff.Script+" with "+r.eff.Runner,
			"A local file: review it, or pin its content hash with `mcpwarden pin`.",
			finding.Evidence{Text: r.eff.Script}, confidence(1))
	case r.eff != nil:
		r.add(PackageSource, "command", "runs local command "+s.Command,
			"A local program: `mcpwarden pin` records its path and content hash.",
			finding.Evidence{Text: redactText(s.Command)}, confidence(1))
	}
}

func (r *reviewer) packages() {
	if r.eff == nil || r.eff.Package == nil || r.eff.Package.Pinned {
		return
	}
	p := r.eff.Package
	field := argField(p.ArgIndex)
	ev := finding.Evidence{Text: redactText(p.Spec)}
	switch p.Ecosystem {
	case launch.Local:
		return
	case launch.Docker:
		why := "no tag"
		if p.Version != "" {
			why = "tag " + strconv.Quote(p.Version) + ", which the registry can move"
		}
		ev.Note = why + "; no @sha256 digest"
		r.add(UnpinnedImage, field, "image "+p.Name+" is not pinned by digest",
			"Whoever controls the image tag controls what runs. Pin the image: name@sha256:<digest> (`docker buildx imagetools inspect` shows it).", ev)
		return
	case launch.Git:
		ev.Note = "no full commit hash"
		r.add(UnpinnedPackage, field, "package from "+p.Name+" is not pinned to a commit",
			"A branch or tag can be moved to different code. Pin a full 40-character commit hash.", ev)
		return
	case launch.Remote:
		ev.Note = "an archive URL with no integrity check"
		r.add(UnpinnedPackage, field, "package archive "+safeURL(p.Name)+" is not pinned",
			"The archive at a URL can change. Install a released, pinned version instead.", ev)
		return
	}
	switch {
	case p.Version == "":
		ev.Note = "no version: the newest release runs at every start"
	case p.Version == "latest":
		ev.Note = "@latest: the newest release runs at every start"
	default:
		ev.Note = "version " + strconv.Quote(p.Version) + " is a range or tag, not an exact version"
	}
	pin := p.Name + "@<version>"
	if p.Ecosystem == launch.PyPI {
		pin = p.Name + "==<version>"
	}
	r.add(UnpinnedPackage, field, fmt.Sprintf("%s package %s is not pinned to an exact version", p.Ecosystem, p.Name),
		fmt.Sprintf("%s fetches whatever the registry serves when the client starts; a compromised or hijacked release runs with your privileges. Pin an exact version (%s).", r.eff.Runner, pin), ev)
}

var dangerousCaps = []string{"ALL", "SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "NET_ADMIN", "NET_RAW", "DAC_READ_SEARCH", "DAC_OVERRIDE", "BPF", "PERFMON", "SYS_BOOT"}

func (r *reviewer) container() {
	if r.eff == nil || r.eff.Container == nil {
		return
	}
	c := r.eff.Container
	for _, o := range c.Options {
		field := argField(o.ArgIndex)
		switch o.Name {
		case "--privileged":
			if o.Value == "" || o.Value == "true" {
				r.add(DockerPrivileged, field, "container runs with --privileged",
					"A privileged container has every capability and all host devices: it can take over the host. Remove --privileged.",
					finding.Evidence{Text: "--privileged"})
			}
		case "--network", "--pid", "--ipc", "--uts", "--userns", "--cgroupns":
			if strings.EqualFold(o.Value, "host") {
				detail := map[string]string{
					"--network":  "The container shares the host's network: it reaches every local service (including ones bound to 127.0.0.1) and can listen on host ports.",
					"--pid":      "The container sees and can signal every host process.",
					"--ipc":      "The container shares the host's shared memory and IPC.",
					"--uts":      "The container shares the host's hostname namespace.",
					"--userns":   "User-namespace remapping is off: root in the container is root on the host.",
					"--cgroupns": "The container sees the host's cgroup tree.",
				}[o.Name]
				r.add(DockerHostNamespace, field, "container uses "+o.Name+"=host", detail+" Drop "+o.Name+"=host.",
					finding.Evidence{Text: o.Name + "=host"})
			}
		case "--cap-add":
			if slices.Contains(dangerousCaps, strings.TrimPrefix(strings.ToUpper(o.Value), "CAP_")) {
				r.add(DockerCapabilities, field, "container is granted "+strings.ToUpper(o.Value),
					"This capability lets the container escape or inspect the host. Grant only what the server needs.",
					finding.Evidence{Text: "--cap-add " + o.Value})
			}
		case "--security-opt":
			v := strings.ToLower(o.Value)
			if strings.Contains(v, "unconfined") || strings.Contains(v, "label=disable") || strings.Contains(v, "label:disable") || v == "no-new-privileges=false" {
				r.add(DockerCapabilities, field, "container confinement is weakened: "+o.Value,
					"Seccomp, AppArmor or SELinux confinement is switched off for the container.",
					finding.Evidence{Text: "--security-opt " + o.Value})
			}
		case "--device":
			r.add(DockerCapabilities, field, "container is given host device "+o.Value,
				"A host device inside the container widens what a compromised server can reach.",
				finding.Evidence{Text: "--device " + o.Value}, severity(finding.Medium))
		}
	}
	for _, m := range c.Mounts() {
		kind, sev := r.broadMount(m.Source)
		if kind == "" {
			continue
		}
		if m.ReadOnly && sev > finding.Medium && kind != "the Docker socket" {
			sev--
		}
		mode := "read-write"
		if m.ReadOnly {
			mode = "read-only"
		}
		detail := "The server can read" + map[bool]string{false: " and change", true: ""}[m.ReadOnly] + " everything under it. Mount only the directory the server needs."
		if kind == "the Docker socket" {
			detail = "Access to the Docker socket is root on the host: the server can start a privileged container. Do not mount it."
		}
		r.add(DockerBroadMount, argField(m.ArgIndex), fmt.Sprintf("container mounts %s (%s) %s", kind, m.Source, mode), detail,
			finding.Evidence{Text: m.Source + ":" + m.Target}, severity(sev))
	}
}

var sensitiveHomeDirs = []string{".ssh", ".aws", ".gnupg", ".kube", ".docker", ".config", ".azure", ".gcloud"}

// broadMount classifies a bind-mount source; kind is "" when it is narrow.
func (r *reviewer) broadMount(src string) (kind string, sev finding.Severity) {
	low := strings.ToLower(strings.TrimRight(strings.ReplaceAll(src, `\`, "/"), "/"))
	switch {
	case strings.HasSuffix(low, "docker.sock") || strings.Contains(low, "pipe/docker_engine") || strings.HasSuffix(low, "podman.sock") || strings.HasSuffix(low, "containerd.sock"):
		return "the Docker socket", finding.Critical
	case low == "" || low == "/" || (len(low) == 2 && low[1] == ':'):
		return "the host root", finding.Critical
	}
	if r.isHome(src) {
		return "the home directory", finding.High
	}
	for _, d := range sensitiveHomeDirs {
		for _, h := range r.homeForms() {
			if low == strings.ToLower(strings.TrimRight(strings.ReplaceAll(h, `\`, "/"), "/"))+"/"+d {
				return "a credentials directory", finding.High
			}
		}
	}
	switch low {
	case "/etc", "/root", "/home", "/users", "/var", "/usr", "/boot", "/proc", "/sys", "/dev", "/run", "/var/run", "c:/users", "c:/windows":
		return "system directory " + src, finding.High
	}
	return "", 0
}

// homeForms are the spellings of the home directory in configs.
func (r *reviewer) homeForms() []string {
	forms := []string{"~", "$HOME", "${HOME}", "%USERPROFILE%", "%HOMEPATH%", "${userHome}", "${env:HOME}", "${env:USERPROFILE}"}
	if r.home != "" && r.home != "." {
		forms = append(forms, r.home)
	}
	return forms
}

func (r *reviewer) isHome(p string) bool {
	c := strings.TrimRight(p, `/\`)
	if c == "" {
		return false
	}
	for _, h := range r.homeForms() {
		if c == strings.TrimRight(h, `/\`) {
			return true
		}
	}
	return false
}

// isRoot reports a filesystem root or the home directory.
func (r *reviewer) isRoot(p string) bool {
	c := strings.ReplaceAll(p, `\`, "/")
	switch strings.ToLower(c) {
	case "/", "//", "/home", "/home/", "/users", "/users/", "/root", "/root/":
		return true
	}
	if len(c) <= 3 && len(c) >= 2 && c[1] == ':' && (len(c) == 2 || c[2] == '/') {
		return true // C: or C:/
	}
	return r.isHome(p)
}

var fsLike = regexp.MustCompile(`(?i)(filesystem|file-system|file_system|(^|[-_/@])fs($|[-_/])|files?-?server|mcp-files)`)

// filesystemRoots flags roots passed as arguments. Container launches are
// skipped: their arguments are paths inside the container, and the host
// side is reviewed by the mount rule.
func (r *reviewer) filesystemRoots() {
	if r.eff == nil || r.eff.Container != nil {
		return
	}
	fsServer := fsLike.MatchString(r.s.Command) || fsLike.MatchString(r.s.Name)
	if p := r.eff.Package; p != nil {
		fsServer = fsServer || fsLike.MatchString(p.Name)
	}
	for i, a := range r.s.Args {
		if p := r.eff.Package; p != nil && p.ArgIndex == i {
			continue
		}
		val := a
		if strings.HasPrefix(a, "-") {
			_, v, ok := strings.Cut(a, "=")
			if !ok {
				continue
			}
			val = v
		}
		if !r.isRoot(val) {
			continue
		}
		raw := a
		if i < len(r.s.Raw.Args) {
			raw = r.s.Raw.Args[i]
		}
		if fsServer {
			r.add(FilesystemRoot, argField(i), fmt.Sprintf("filesystem server is given %s", raw),
				"The server may read and write everything under this directory, including SSH keys, cloud credentials and browser profiles. Allow only the project directories it needs.",
				finding.Evidence{Text: raw})
		} else {
			r.add(FilesystemRoot, argField(i), fmt.Sprintf("server is given the broad path %s", raw),
				"A filesystem root or the home directory as an argument usually means the server can reach all of it. Narrow it to the directories it needs.",
				finding.Evidence{Text: raw}, severity(finding.Medium), confidence(0.5))
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *reviewer) secrets() {
	raw := r.s.Raw
	for _, k := range sortedKeys(raw.Env) {
		v := raw.Env[k]
		if verdict, ok := classifySecret(k, v); ok {
			r.add(PlaintextEnv, "env."+k, "secret in plain text in env "+k,
				"The config file holds the secret itself: anyone or anything that can read the file (backups, sync, other tools, a poisoned agent) has it. Reference it from the environment or a secret store instead (the client's ${env:NAME}-style placeholder).",
				finding.Evidence{Text: k + "=" + redacted(v), Note: verdict.what}, confidence(verdict.confidence))
		}
	}
	for _, k := range sortedKeys(raw.Headers) {
		v := raw.Headers[k]
		name := k
		if strings.EqualFold(k, "authorization") || strings.EqualFold(k, "cookie") || strings.EqualFold(k, "proxy-authorization") {
			name = "authorization"
		}
		if verdict, ok := classifySecret(name, v); ok {
			shown := redacted(v)
			if scheme, _, has := strings.Cut(strings.TrimSpace(v), " "); has && len(scheme) <= 10 {
				shown = scheme + " " + redacted(strings.TrimSpace(v)[len(scheme)+1:])
			}
			r.add(PlaintextHeader, "headers."+k, "secret in plain text in header "+k,
				"The config file holds the credential itself. Reference it from the environment or a secret store instead.",
				finding.Evidence{Text: k + ": " + shown, Note: verdict.what}, confidence(verdict.confidence))
		}
	}
	for i := range raw.Args {
		if verdict, what, ok := argSecret(raw.Args, i); ok {
			r.add(PlaintextArg, argField(i), "secret in plain text in the arguments",
				"Command-line arguments are visible to every local user in the process list, as well as to anyone who reads the config. Pass the secret through the environment instead.",
				finding.Evidence{Text: redactText(what), Note: verdict.what}, confidence(verdict.confidence))
		}
	}
	if raw.URL != "" {
		r.urlSecrets(raw.URL)
	}
}

// argSecret looks for a secret in args[i]: NAME=VALUE, a value after a
// secret-named flag, or a token-shaped word.
func argSecret(args []string, i int) (secretVerdict, string, bool) {
	a := args[i]
	for _, w := range strings.Fields(a) {
		w = strings.Trim(w, `"'`)
		name, val, hasEq := strings.Cut(w, "=")
		if !hasEq {
			name, val = "", w
		}
		if v, ok := classifySecret(strings.TrimLeft(name, "-"), val); ok && (hasEq || v.confidence >= 0.9) {
			return v, a, true
		}
	}
	if i > 0 && strings.HasPrefix(args[i-1], "-") && !strings.Contains(args[i-1], "=") && !strings.HasPrefix(a, "-") {
		if v, ok := classifySecret(strings.TrimLeft(args[i-1], "-"), a); ok && secretName.MatchString(strings.TrimLeft(args[i-1], "-")) {
			return v, a, true
		}
	}
	return secretVerdict{}, "", false
}

var secretQuery = regexp.MustCompile(`(?i)(token|key|secret|password|passwd|auth|sig|signature|credential|session)`)

func (r *reviewer) urlSecrets(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" && !isReference(pw) {
			r.add(URLCredentials, "url", "password in the server URL",
				"The URL carries a password: it ends up in logs, proxies and the config. Send credentials in a header referenced from the environment.",
				finding.Evidence{Text: safeURL(raw), Note: "userinfo with a password"})
		}
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := q.Get(k)
		if !secretQuery.MatchString(k) || v == "" || isReference(v) || dummy.MatchString(v) {
			continue
		}
		r.add(URLCredentials, "url", "secret in the server URL's query ("+k+")",
			"Query strings end up in server and proxy logs and browser history. Send the credential in a header referenced from the environment.",
			finding.Evidence{Text: safeURL(raw), Note: "query parameter " + k + "=" + redacted(v)})
	}
}

// safeURL renders a URL without userinfo and with query values redacted.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactText(raw)
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q.Set(k, "REDACTED")
		}
		u.RawQuery = q.Encode()
	}
	u.Fragment = ""
	return u.String()
}

var (
	interpolation = regexp.MustCompile(`\$[A-Za-z_{(]|` + "`" + `|%[A-Za-z_][A-Za-z0-9_]*%|![A-Za-z_][A-Za-z0-9_]*!|(?i)\$env:`)
	operators     = regexp.MustCompile(`;|&&|\|\||\||>|<|\n|&\s`)
)

func (r *reviewer) shell() {
	if r.s.Transport != discover.Stdio || r.s.Raw.Command == "" {
		return
	}
	l := launch.Parse(r.s.Raw.Command, r.s.Raw.Args)
	sh := l.Shell
	if sh == nil {
		return
	}
	field := argField(sh.ScriptIndex)
	ev := finding.Evidence{Text: redactText(sh.Script)}
	switch {
	case sh.Encoded:
		ev.Text, ev.Note = redacted(sh.Script), "base64 -EncodedCommand"
		r.add(ShellInterpolation, field, "server is launched by an encoded PowerShell script",
			"An encoded script cannot be reviewed from the config and hides what runs. Launch the server directly.", ev)
	case interpolation.MatchString(sh.Script):
		ev.Note = "the script expands variables or substitutes commands"
		r.add(ShellInterpolation, field, "shell wrapper interpolates values into a "+sh.Kind+" script",
			"Values expanded into a shell script are parsed again by the shell: a value containing ; | $( ) or quotes runs extra commands. Launch the server directly with its arguments as a list, and pass values through env.", ev)
	case operators.MatchString(sh.Script):
		ev.Note = "the script chains commands or redirects"
		r.add(ShellWrapper, field, "server is launched by a "+sh.Kind+" script that chains commands",
			"The config runs more than the server. Review the script, or launch the server directly.", ev, severity(finding.Medium))
	default:
		r.add(ShellWrapper, field, "server is launched through "+l.Runner,
			"A shell between the client and the server adds a parsing step for no benefit. Launch the server directly where the client allows it.", ev)
	}
}

func (r *reviewer) transport() {
	s := r.s
	if s.Transport != discover.HTTP && s.Transport != discover.SSE {
		return
	}
	u, err := url.Parse(s.URL)
	if err != nil || !strings.EqualFold(u.Scheme, "http") {
		return
	}
	class := netclass.ClassifyHost(u.Hostname())
	sev := finding.High
	switch class {
	case netclass.Loopback, netclass.Unspecified:
		return // local traffic never leaves the machine
	case netclass.Private, netclass.LinkLocal:
		sev = finding.Medium
	}
	r.add(PlainHTTP, "url", "remote server "+u.Host+" is reached over plain http",
		"Requests, tool results and any credentials travel unencrypted and can be read or changed on the network (a changed tool list is a rug pull). Use https.",
		finding.Evidence{Text: safeURL(s.URL), Note: "host is " + class.String()}, severity(sev))
}

func (r *reviewer) unresolved() {
	if len(r.s.Unresolved) == 0 {
		return
	}
	r.add(UnresolvedPlaceholder, "", "config has placeholders that cannot be resolved here: "+strings.Join(r.s.Unresolved, ", "),
		"The client fills these in at launch (from prompts, secrets or its environment). The review sees them as written; a scan that launches the server may fail or differ.",
		finding.Evidence{Text: strings.Join(r.s.Unresolved, ", ")}, confidence(1))
}
