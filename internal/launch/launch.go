// Package launch reads a server's launch command the way the launcher
// would, without running anything: which package runner it uses (npx,
// uvx, pipx, docker, ...), which package and version it fetches, the
// container options it passes, and whether it goes through a shell.
//
// Both the posture review (unpinned packages, privileged containers) and
// the pinning package (server identity) build on [Parse], so the command
// line is interpreted in one place.
//
//	l := launch.Parse("npx", []string{"-y", "@scope/pkg@1.2.3"})
//	l.Package // &Package{Ecosystem: "npm", Name: "@scope/pkg", Version: "1.2.3", Pinned: true, ...}
package launch

import (
	"strings"
)

// Ecosystem names where a package comes from.
type Ecosystem string

const (
	NPM    Ecosystem = "npm"
	JSR    Ecosystem = "jsr"
	PyPI   Ecosystem = "pypi"
	Docker Ecosystem = "docker"
	// Git is a package fetched from a repository URL (npx github:u/r,
	// uvx --from git+https://...).
	Git Ecosystem = "git"
	// Local is a package named by a local path or archive.
	Local Ecosystem = "local"
	// Remote is a package fetched from an archive URL.
	Remote Ecosystem = "url"
)

// Launch is what a launch command does.
type Launch struct {
	// Runner is the launcher's base name, lower-cased, without a Windows
	// extension: "npx", "uvx", "docker", "node", "sh", ...
	Runner string
	// Shell is set when the command is a shell running a script
	// (sh -c, bash -c, cmd /c, powershell -Command).
	Shell *Shell
	// Inner is the command the shell runs, when it is one simple command
	// (cmd /c npx -y pkg, sh -c "uvx tool"). Its argument indices still
	// refer to the outer declaration's args.
	Inner *Launch
	// Package is the package a runner fetches and runs.
	Package *Package
	// Container is the `docker run` / `podman run` invocation.
	Container *Container
	// Script is the file an interpreter runs (node server.js, python
	// main.py); Module is python's -m module.
	Script      string
	ScriptIndex int
	Module      string
}

// Effective follows shell wrappers to the command that does the work.
func (l *Launch) Effective() *Launch {
	for l.Inner != nil {
		l = l.Inner
	}
	return l
}

// Package is a package reference on a runner's command line.
type Package struct {
	Ecosystem Ecosystem
	// Name is normalised for the ecosystem: npm names as written, PyPI
	// names per PEP 503 (lower-case, runs of -_. as -), image names
	// lower-case without tag or digest.
	Name string
	// Version is what was asked for: an exact version, a range, a tag
	// ("latest"), a git ref, or "" for none.
	Version string
	// Digest is a content digest ("sha256:..."), for images.
	Digest string
	// Pinned reports that the reference names one immutable artifact: an
	// exact version, a digest, or a full commit hash.
	Pinned bool
	// Spec is the reference as written, and ArgIndex its index in the
	// declaration's args.
	Spec     string
	ArgIndex int
}

// Shell is a shell wrapper.
type Shell struct {
	Kind string // "sh" (any POSIX shell), "cmd", "powershell"
	// Script is the command text the shell interprets; for cmd, the rest
	// of the line joined by spaces.
	Script string
	// ScriptIndex is the index in args where the script starts.
	ScriptIndex int
	// Encoded is set for powershell -EncodedCommand: the script is base64
	// and cannot be reviewed.
	Encoded bool
}

// runnerName normalises a command to the launcher's base name.
func runnerName(command string) string {
	base := strings.ToLower(command)
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	for _, ext := range []string{".exe", ".cmd", ".bat", ".ps1"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// Parse interprets a launch command and its arguments.
func Parse(command string, args []string) *Launch {
	idx := make([]int, len(args))
	for i := range idx {
		idx[i] = i
	}
	return parse(command, args, idx, 0)
}

// parse works on args whose positions in the declaration are idx[i].
func parse(command string, args []string, idx []int, depth int) *Launch {
	l := &Launch{Runner: runnerName(command), ScriptIndex: -1}
	switch l.Runner {
	case "npx":
		l.Package = npmRunner(args, idx, npxValueFlags)
	case "bunx":
		l.Package = npmRunner(args, idx, bunxValueFlags)
	case "npm", "pnpm", "yarn", "bun":
		// npm exec / npm x, pnpm dlx, yarn dlx, bun x.
		if len(args) > 0 {
			sub := args[0]
			if (l.Runner == "npm" && (sub == "exec" || sub == "x")) ||
				((l.Runner == "pnpm" || l.Runner == "yarn") && sub == "dlx") ||
				(l.Runner == "bun" && sub == "x") {
				l.Package = npmRunner(args[1:], idx[1:], npxValueFlags)
				break
			}
		}
		if l.Runner == "bun" {
			l.script(args, idx, bunValueFlags)
		}
	case "uvx":
		l.Package = uvRunner(args, idx)
	case "uv":
		if len(args) >= 2 && args[0] == "tool" && args[1] == "run" {
			l.Package = uvRunner(args[2:], idx[2:])
		} else if len(args) >= 1 && args[0] == "run" {
			l.script(args[1:], idx[1:], uvValueFlags)
		}
	case "pipx":
		if len(args) > 0 && args[0] == "run" {
			l.Package = pipxRunner(args[1:], idx[1:])
		}
	case "docker", "podman", "nerdctl":
		l.Container = containerRun(l.Runner, args, idx)
		if l.Container != nil {
			l.Package = l.Container.pkg()
		}
	case "deno":
		l.deno(args, idx)
	case "node", "nodejs", "tsx", "ts-node", "ruby", "perl", "php":
		l.script(args, idx, nodeValueFlags)
	case "python", "python3", "py", "pythonw":
		l.python(args, idx)
	case "java":
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-jar" {
				l.Script, l.ScriptIndex = args[i+1], idx[i+1]
				break
			}
		}
	case "sh", "bash", "zsh", "dash", "ksh", "ash", "fish":
		l.posixShell(args, idx, depth)
	case "cmd":
		l.cmdShell(args, idx, depth)
	case "powershell", "pwsh":
		l.powershell(args, idx, depth)
	default:
		if strings.HasPrefix(l.Runner, "python3.") {
			l.python(args, idx)
		}
	}
	return l
}

// positionals walks args, skipping flags; valueFlags take a value in the
// next argument unless written flag=value. It stops at the first
// positional, or after "--", and returns its index (or -1).
func firstPositional(args []string, valueFlags map[string]bool, onFlag func(flag, value string, i int)) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return i + 1
			}
			return -1
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return i
		}
		name, value, hasValue := strings.Cut(a, "=")
		if !hasValue && valueFlags[name] && i+1 < len(args) {
			i++
			value = args[i]
		}
		if onFlag != nil {
			onFlag(name, value, i)
		}
	}
	return -1
}

// script records the file an interpreter runs.
func (l *Launch) script(args []string, idx []int, valueFlags map[string]bool) {
	if i := firstPositional(args, valueFlags, nil); i >= 0 {
		if args[i] == "run" && l.Runner == "bun" && i+1 < len(args) {
			i++
		}
		l.Script, l.ScriptIndex = args[i], idx[i]
	}
}

func (l *Launch) python(args []string, idx []int) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-m" && i+1 < len(args):
			l.Module, l.ScriptIndex = args[i+1], idx[i+1]
			return
		case strings.HasPrefix(a, "-m") && len(a) > 2:
			l.Module, l.ScriptIndex = a[2:], idx[i]
			return
		case a == "-c":
			return // inline code: no file
		case a == "-W" || a == "-X" || a == "-Q":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			l.Script, l.ScriptIndex = a, idx[i]
			return
		}
	}
}

func (l *Launch) deno(args []string, idx []int) {
	if len(args) == 0 {
		return
	}
	if args[0] != "run" {
		return
	}
	i := firstPositional(args[1:], denoValueFlags, nil)
	if i < 0 {
		return
	}
	spec, at := args[1+i], idx[1+i]
	switch {
	case strings.HasPrefix(spec, "npm:"):
		l.Package = npmSpec(strings.TrimPrefix(spec, "npm:"), at)
		l.Package.Spec = spec
	case strings.HasPrefix(spec, "jsr:"):
		l.Package = npmSpec(strings.TrimPrefix(spec, "jsr:"), at)
		l.Package.Ecosystem, l.Package.Spec = JSR, spec
	default:
		l.Script, l.ScriptIndex = spec, at
	}
}

// splitWords splits a script into words when it is one simple command:
// no expansions, operators or redirections. Quotes are honoured.
func splitWords(s string) ([]string, bool) {
	if strings.ContainsAny(s, "$`;&|<>()*?[]{}~\n\\!%^") {
		return nil, false
	}
	var words []string
	var cur strings.Builder
	inWord, q := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			q, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if q != 0 {
		return nil, false
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, len(words) > 0
}

func (l *Launch) wrapScript(script string, at int, depth int) {
	if depth > 4 {
		return
	}
	words, ok := splitWords(script)
	if !ok {
		return
	}
	idx := make([]int, len(words)-1)
	for i := range idx {
		idx[i] = at
	}
	l.Inner = parse(words[0], words[1:], idx, depth+1)
}

func (l *Launch) posixShell(args []string, idx []int, depth int) {
	for i, a := range args {
		if strings.HasPrefix(a, "--") {
			continue // --login, --noprofile
		}
		if !strings.HasPrefix(a, "-") {
			return // sh script.sh: runs a file
		}
		// -c, and bundles such as -lc or -ec.
		if strings.Contains(a[1:], "c") && i+1 < len(args) {
			l.Shell = &Shell{Kind: "sh", Script: args[i+1], ScriptIndex: idx[i+1]}
			l.wrapScript(args[i+1], idx[i+1], depth)
			return
		}
	}
}

func (l *Launch) cmdShell(args []string, idx []int, depth int) {
	for i, a := range args {
		switch strings.ToLower(a) {
		case "/c", "/k", "/r":
			rest := args[i+1:]
			if len(rest) == 0 {
				return
			}
			l.Shell = &Shell{Kind: "cmd", Script: strings.Join(rest, " "), ScriptIndex: idx[i+1]}
			if len(rest) == 1 {
				l.wrapScript(rest[0], idx[i+1], depth)
			} else if depth < 4 && !strings.ContainsAny(strings.Join(rest, " "), "&|<>^%") {
				l.Inner = parse(rest[0], rest[1:], idx[i+2:], depth+1)
			}
			return
		}
	}
}

func (l *Launch) powershell(args []string, idx []int, depth int) {
	for i, a := range args {
		low := strings.ToLower(strings.TrimLeft(a, "-/"))
		if !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "/") {
			continue
		}
		switch {
		case low == "e" || low == "ec" || (len(low) >= 2 && strings.HasPrefix("encodedcommand", low) && strings.HasPrefix(low, "en")):
			if i+1 < len(args) {
				l.Shell = &Shell{Kind: "powershell", Script: args[i+1], ScriptIndex: idx[i+1], Encoded: true}
			}
			return
		case low == "c" || (len(low) >= 2 && strings.HasPrefix("command", low) && strings.HasPrefix(low, "co")):
			rest := args[i+1:]
			if len(rest) == 0 {
				return
			}
			l.Shell = &Shell{Kind: "powershell", Script: strings.Join(rest, " "), ScriptIndex: idx[i+1]}
			if len(rest) == 1 {
				l.wrapScript(rest[0], idx[i+1], depth)
			}
			return
		}
	}
}
